"""The examples in the docstrings of the plugin host and configuration modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "blocks.registry",
    "blocks.plugins",
    "blocks.plugin_host.policy",
    "blocks.plugin_host.calls",
    "blocks.plugin_host.listing",
    "blocks.plugin_host.commands",
    "fuel.utils.lazy",
    "fuel.downloaders.commands",
    "blocks.config",
    "fuel.config_parser",
    "blocks.testing.fakes",
    "blocks.cli.new_plugin",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, plugin_host, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.blocksrc or ~/.fuelrc of the caller
    for var in ("BLOCKS_CONFIG", "FUEL_CONFIG", "BLOCKS_DEFAULT_SEED", "BLOCKS_DEVICE", "FUEL_FLOATX"):
        monkeypatch.delenv(var, raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
