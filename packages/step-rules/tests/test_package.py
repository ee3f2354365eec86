"""Packaging smoke test of blocks-step-rules: metadata, entry point, hook module."""

from __future__ import annotations

from importlib import metadata

import blocks_step_rules
from blocks.registry import KINDS

DISTRIBUTION = "blocks-step-rules"
MODULE = "blocks_step_rules"


def test_version_matches_metadata():
    assert blocks_step_rules.__version__ == metadata.version(DISTRIBUTION)


def test_metadata_declares_python_and_core():
    meta = metadata.metadata(DISTRIBUTION)
    assert meta["Requires-Python"] == ">=3.11"
    requires = metadata.requires(DISTRIBUTION) or []
    assert any(r.replace(" ", "").startswith("blocks-core") for r in requires), requires
    torch = [r for r in requires if r.split(";")[0].replace(" ", "").startswith("torch")]
    assert torch and ">=" in torch[0] and "<" in torch[0].replace("<=", ""), requires  # a tested range


def test_entry_point_is_named_after_distribution_and_discoverable():
    entry_points = [ep for ep in metadata.entry_points(group="blocks") if ep.dist and ep.dist.name == DISTRIBUTION]
    assert [(ep.name, ep.value) for ep in entry_points] == [(DISTRIBUTION, f"{MODULE}.plugin")]
    assert entry_points[0].load().__name__ == f"{MODULE}.plugin"


def test_hook_module_registers_cleanly(register_plugin, plugin_host):
    from blocks_step_rules import plugin

    register_plugin(plugin, distribution=DISTRIBUTION)  # unknown hooks or bad signatures raise here
    info = {p.name: p for p in plugin_host.plugins()}[DISTRIBUTION]
    assert info.status == "loaded" and not plugin_host.failures
    for kind, names in info.registered.items():
        assert kind in KINDS
        registry = plugin_host.registry(kind)
        assert all(registry.entry(name).plugin == DISTRIBUTION for name in names)
