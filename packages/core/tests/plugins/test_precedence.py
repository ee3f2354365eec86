"""Name clashes, transactional registration, the deny-list and "failed to load" instead of "unknown name"."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import types

import pytest

from blocks import hookimpl
from blocks.plugins import CORE_DISTRIBUTION, PluginHost, PluginLoadError
from blocks.registry import UnknownNameError
from blocks.testing import FakeDistribution, FakeEntryPoint


def _rules(module_name: str, *names: str, fail_after: int | None = None) -> types.ModuleType:
    module = types.ModuleType(module_name)

    @hookimpl
    def register_step_rules(register):
        for i, name in enumerate(names):
            if i == fail_after:
                raise RuntimeError(f"{module_name} broke after {i} names")
            register(name, "fractions:Fraction")

    module.register_step_rules = register_step_rules
    return module


def _ep(dist: str, target: object, version: str = "1.0") -> FakeEntryPoint:
    return FakeEntryPoint(dist, target, FakeDistribution(dist, version), value=f"{dist.replace('-', '_')}.plugin")


def test_core_wins_then_plugins_in_order_of_distribution_name(make_plugin_host, caplog):
    host = make_plugin_host(  # entry-point order (b before a) must not matter
        _ep("blocks-rules-b", _rules("rules_b.plugin", "adam", "scale", "only_b"), "2.0"),
        _ep("blocks-rules-a", _rules("rules_a.plugin", "adam", "only_a"), "1.0"),
    )
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        registry = host.registry("step_rules")
    assert registry.entry("scale").plugin == CORE_DISTRIBUTION
    assert registry.entry("adam").plugin == "blocks-rules-a"
    assert registry.entry("only_b").plugin == "blocks-rules-b" and "only_a" in registry
    warnings = [r.getMessage() for r in caplog.records]
    assert any("blocks-rules-b 2.0 registers step_rules name 'adam'" in w and "blocks-rules-a 1.0" in w
               for w in warnings)
    assert any("name 'scale'" in w and "blocks-core" in w for w in warnings)
    info = {p.name: p for p in host.plugins()}
    assert info["blocks-rules-b"].status == "loaded" and info["blocks-rules-b"].registered == {
        "step_rules": ["only_b"]}
    assert {(c["name"], c["kept_by"].split()[0]) for c in info["blocks-rules-b"].clashes} == {
        ("adam", "blocks-rules-a"), ("scale", CORE_DISTRIBUTION)}
    assert all(host.registry(kind) is not None for kind in ("bricks", "datasets", "extensions"))


def test_a_hook_that_fails_part_way_registers_none_of_its_names(make_plugin_host, caplog):
    host = make_plugin_host(_ep("blocks-half", _rules("half.plugin", "first", "second", "third", fail_after=2), "0.5"),
                            _ep("blocks-whole", _rules("whole.plugin", "whole")))
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        registry = host.registry("step_rules")
    assert "first" not in registry and "second" not in registry and "whole" in registry
    assert "blocks-half 0.5: hook register_step_rules failed" in caplog.text
    with pytest.raises(UnknownNameError) as info:
        registry.get("first")
    message = str(info.value)
    assert "step_rules name 'first' is not available" in message and "unknown" not in message
    assert "blocks-half 0.5 registers it, but its register_step_rules hook failed" in message
    assert "broke after 2 names" in message
    assert {p.name: p.registered for p in host.plugins()}["blocks-half"] == {}


def test_a_name_registered_twice_by_one_plugin_fails_its_hook(make_plugin_host):
    host = make_plugin_host(_ep("blocks-twice", _rules("twice.plugin", "dup", "other", "dup")))
    registry = host.registry("step_rules")
    assert "dup" not in registry and "other" not in registry
    assert "registered twice by this plugin" in host.failures[0].error


def test_resolving_a_name_of_a_plugin_that_failed_to_load_says_so(make_plugin_host):
    from blocks.plugins import failure_note, plugin_failures

    host = make_plugin_host(_ep("blocks-rnn-x", ImportError("No module named 'cudnn_bindings'"), "1.2"))
    with pytest.raises(UnknownNameError) as info:
        host.registry("bricks").get("lstm")
    message = str(info.value)
    assert message.startswith("bricks name 'lstm' is not available: plugin blocks-rnn-x 1.2 failed to load")
    assert "cudnn_bindings" in message and "may provide it" in message
    assert "linear" in message  # what is available is still listed
    assert failure_note("bricks", "lstm") == host.explain("bricks", "lstm") != ""
    assert [p.name for p in plugin_failures()] == ["blocks-rnn-x"]
    with pytest.raises(UnknownNameError, match="^unknown bricks name 'nonsense'"):
        make_plugin_host().registry("bricks").get("nonsense")
    assert failure_note("bricks", "nonsense") == ""


@pytest.mark.parametrize("value", ["blocks-rules-b", " Blocks_Rules.B , other-typo"])
def test_disable_plugins_deny_list(make_plugin_host, caplog, value):
    host = make_plugin_host(
        _ep("blocks-rules-a", _rules("rules_a.plugin", "adam")),
        _ep("blocks-rules-b", _rules("rules_b.plugin", "adam", "only_b")),
        env={"BLOCKS_DISABLE_PLUGINS": value, "BLOCKS_STRICT_PLUGINS": "1"},
    )
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        registry = host.registry("step_rules")
    assert registry.entry("adam").plugin == "blocks-rules-a" and "only_b" not in registry
    assert {p.name: p.status for p in host.plugins()}["blocks-rules-b"] == "disabled"
    assert ("other-typo, which is not an installed plugin" in caplog.text) == ("typo" in value)


def test_core_cannot_be_disabled(make_plugin_host, caplog):
    host = make_plugin_host(env={"BLOCKS_DISABLE_PLUGINS": "blocks-core"})
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert "scale" in host.registry("step_rules")
    assert "core's built-ins cannot be disabled" in caplog.text


def test_strict_clash_is_a_plugin_load_error_naming_both():
    host = PluginHost(lambda: [_ep("blocks-rules-a", _rules("rules_a.plugin", "scale"), "1.0")],
                      env={"BLOCKS_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError, match=r"blocks-rules-a 1.0 registers step_rules name 'scale'.*blocks-core"):
        host.registry("step_rules")


# -- real distributions, discovered by importlib.metadata in a fresh process ---------------------------------------
def _distribution(root, dist: str, module: str, version: str, body: str) -> None:
    package = root / module
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[blocks]\n{dist} = {module}\n")
    (info / "RECORD").write_text("")


RULES = """
from blocks import hookimpl

@hookimpl
def register_step_rules(register):
    for name in {names!r}:
        register(name, "fractions:Fraction")
"""


@pytest.fixture
def installed(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    _distribution(root, "blocks-fake-zeta", "fake_zeta", "2.0", RULES.format(names=["adam", "scale", "zeta_rule"]))
    _distribution(root, "blocks-fake-alpha", "fake_alpha", "1.0", RULES.format(names=["adam", "alpha_rule"]))
    _distribution(root, "blocks-fake-broken", "fake_broken", "0.3", "import not_installed_anywhere\n")
    return root


def _blocks(root, *args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKS_")}
    environment.update(PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
                       BLOCKS_LOAD_PLUGINS="blocks-fake-zeta,blocks-fake-alpha,blocks-fake-broken", **env)
    return subprocess.run([sys.executable, "-m", "blocks.cli.main", *args], env=environment, capture_output=True,
                          text=True, timeout=120)


def test_installed_distributions_that_clash(installed):
    listing = _blocks(installed, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["blocks-fake-alpha"]["registered"] == {"step_rules": ["adam", "alpha_rule"]}
    assert rows["blocks-fake-zeta"]["registered"] == {"step_rules": ["zeta_rule"]}
    assert sorted((c["name"], c["kept_by"]) for c in rows["blocks-fake-zeta"]["clashes"])[0] == (
        "adam", "blocks-fake-alpha 1.0")
    assert rows["blocks-fake-broken"]["status"] == "failed"
    assert "blocks-fake-zeta 2.0" in listing.stderr and "blocks-fake-alpha 1.0" in listing.stderr  # the warning
    strict = _blocks(installed, "plugins", BLOCKS_STRICT_PLUGINS="1", BLOCKS_DISABLE_PLUGINS="blocks-fake-broken")
    assert strict.returncode == 2 and "Traceback" not in strict.stderr
    assert "blocks-fake-zeta 2.0 registers step_rules name 'adam'" in strict.stderr
    denied = _blocks(installed, "plugins", BLOCKS_DISABLE_PLUGINS="blocks-fake-zeta,blocks-fake-broken")
    assert denied.returncode == 0 and "clash" not in denied.stdout and "WARNING" not in denied.stderr
