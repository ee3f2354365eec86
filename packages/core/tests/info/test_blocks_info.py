"""``blocks info``: versions, plugins, backends and devices, data path, config."""

from __future__ import annotations

import json

import torch

from blocks import hookimpl
from blocks.cli.main import main


def test_info_json_reports_versions_backends_and_config(plugin_host, capsys, monkeypatch, tmp_path):
    rc = tmp_path / "fuelrc"
    rc.write_text(f"data_path: {tmp_path}\n")
    monkeypatch.setenv("FUEL_CONFIG", str(rc))
    monkeypatch.setenv("BLOCKS_DEVICE", "cpu")
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["torch"]["version"] == torch.__version__
    assert info["packages"]["blocks-core"]
    assert info["backends"]["cpu"]["available"] is True
    assert info["device_for_auto"]["device"] == "cpu"
    assert info["config"]["sources"]["device"] == "env"
    assert info["config"]["fuel_file"] == str(rc)
    assert info["data_path"] == [str(tmp_path)]
    assert [p["name"] for p in info["plugins"]] == ["blocks-core"]


class BrokenBackendPlugin:
    @hookimpl
    def register_backends(self, register):
        register("broken", "no_such_module_anywhere:Backend")


def test_info_text_lists_plugins_and_names_broken_backends(plugin_host, register_plugin, capsys, monkeypatch):
    monkeypatch.delenv("BLOCKS_DEVICE", raising=False)  # the default, not the test suite's cpu
    register_plugin(BrokenBackendPlugin(), "broken-plugin")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "broken-plugin" in out
    assert "broken   not available" in out and "no_such_module_anywhere" in out
    assert "a run with device='auto' uses cpu" in out
