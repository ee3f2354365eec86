"""Packaging checks for a Blocks plugin distribution, for its own test suite.

Examples
--------
In ``tests/test_package.py`` of a plugin (``plugin_host`` and
``register_plugin`` are this package's pytest fixtures)::

    from blocks.testing.packaging import check_plugin_package

    def test_plugin_package(plugin_host, register_plugin):
        check_plugin_package("blocks-hello", "blocks_hello", plugin_host, register_plugin)
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any, Callable

from blocks.registry import KINDS

__all__ = ["check_plugin_package"]


def check_plugin_package(distribution: str, module: str, plugin_host: Any, register_plugin: Callable[..., str]) -> None:
    """Assert that an installed plugin distribution is packaged the way the host expects.

    * its ``__version__`` is the distribution's version;
    * its metadata declares Python >= 3.11, ``blocks-core`` and a tested torch range;
    * its only ``blocks`` entry point is named after the distribution and loads ``<module>.plugin``;
    * that hook module registers on a fresh host without failures, every name under this distribution.

    Parameters
    ----------
    distribution : str
        Distribution name (``"blocks-step-rules"``).
    module : str
        Import package (``"blocks_step_rules"``).
    plugin_host, register_plugin
        The fixtures of :mod:`blocks.testing`.
    """
    package = importlib.import_module(module)
    assert package.__version__ == metadata.version(distribution)

    meta = metadata.metadata(distribution)
    assert meta["Requires-Python"] == ">=3.11"
    requires = metadata.requires(distribution) or []
    assert any(r.replace(" ", "").startswith("blocks-core") for r in requires), requires
    torch = [r for r in requires if r.split(";")[0].replace(" ", "").startswith("torch")]
    assert torch and ">=" in torch[0] and "<" in torch[0].replace("<=", ""), requires  # a tested range

    entry_points = [ep for ep in metadata.entry_points(group="blocks") if ep.dist and ep.dist.name == distribution]
    assert [(ep.name, ep.value) for ep in entry_points] == [(distribution, f"{module}.plugin")]
    assert entry_points[0].load().__name__ == f"{module}.plugin"

    plugin = importlib.import_module(f"{module}.plugin")
    register_plugin(plugin, distribution=distribution)  # unknown hooks or bad signatures raise here
    info = {p.name: p for p in plugin_host.plugins()}[distribution]
    assert info.status == "loaded" and not plugin_host.failures
    for kind, names in info.registered.items():
        assert kind in KINDS
        registry = plugin_host.registry(kind)
        assert all(registry.entry(name).plugin == distribution for name in names)
