"""``blocks plugins [--all] [--hook NAME] [--json]`` and the ``blocks`` entry point."""

from __future__ import annotations

import json
import logging
import types

import pytest

from blocks import hookimpl
from blocks.cli.main import main
from blocks.testing import FakeDistribution, FakeEntryPoint


def _rules_module(name: str, *rules: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def register_step_rules(register):
        for rule in rules:
            register(rule, "fractions:Fraction")

    module.register_step_rules = register_step_rules
    return module


def _ep(dist: str, target: object, version: str = "1.0") -> FakeEntryPoint:
    return FakeEntryPoint(dist, target, FakeDistribution(dist, version), value=f"{dist.replace('-', '_')}.plugin")


@pytest.fixture
def installed(make_plugin_host):
    """Two working plugins and one that fails to import."""

    def make(env=None):
        return make_plugin_host(
            _ep("blocks-rules-a", _rules_module("rules_a.plugin", "rule_a", "rule_b"), "1.2"),
            _ep("blocks-rules-b", _rules_module("rules_b.plugin", "rule_c")),
            _ep("blocks-broken", ImportError("No module named 'missing_dep'"), "0.9"),
            env=env,
        )

    return make


def test_text_listing(installed, capsys, caplog):
    installed()
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "blocks-rules-a 1.2\n  hooks: register_step_rules\n  step_rules: rule_a, rule_b\n" in out
    assert "blocks-rules-b 1.0" in out
    assert "blocks-broken 0.9 [FAILED]" in out and "missing_dep" in out
    assert not any(line.startswith("blocks-core") for line in out.splitlines())
    assert "blocks-broken 0.9" in caplog.text  # the warning names the broken plugin


def test_json_listing(installed, capsys):
    installed()
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["blocks-broken", "blocks-rules-a", "blocks-rules-b"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["blocks-rules-a"]["registered"] == {"step_rules": ["rule_a", "rule_b"]}
    assert by_name["blocks-rules-a"]["entry_point"] == "blocks-rules-a = blocks_rules_a.plugin"
    assert by_name["blocks-broken"]["status"] == "failed"
    assert set(by_name["blocks-rules-b"]) == {
        "name", "version", "entry_point", "status", "error", "modules", "hooks", "registered", "clashes",
    }  # fmt: skip


def test_all_includes_core_and_skipped(installed, capsys):
    installed(env={"BLOCKS_LOAD_PLUGINS": "blocks-rules-a"})
    assert main(["plugins", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["blocks-rules-a"]
    assert main(["plugins", "--all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["status"]) for r in rows] == [
        ("blocks-core", "loaded"),
        ("blocks-broken", "skipped"),
        ("blocks-rules-a", "loaded"),
        ("blocks-rules-b", "skipped"),
    ]
    assert "register_commands" in rows[0]["hooks"]
    assert "cpu" in rows[0]["registered"]["backends"]


def test_hook_filter(installed, capsys):
    host = installed()

    class Backend:
        @hookimpl
        def register_backends(self, register):
            register("fancy", "fractions:Fraction")

    host.register_plugin(Backend(), distribution="blocks-fancy")
    assert main(["plugins", "--hook", "register_backends", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["blocks-fancy"]
    assert main(["plugins", "--hook", "register_backends", "--all", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["blocks-core", "blocks-fancy"]


def test_unknown_hook_is_an_error_listing_hooks(installed, capsys):
    installed()
    assert main(["plugins", "--hook", "register_optimizers"]) == 2
    err = capsys.readouterr().err
    assert "unknown hook 'register_optimizers'" in err and "register_step_rules" in err


def test_no_plugins_message(make_plugin_host, capsys):
    make_plugin_host()
    assert main(["plugins"]) == 0
    assert "no plugins installed (use --all" in capsys.readouterr().out


def test_strict_mode_fails_naming_the_plugin(installed, capsys):
    installed(env={"BLOCKS_STRICT_PLUGINS": "1"})
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("blocks: error: plugin blocks-broken 0.9") and "missing_dep" in err


def test_help_lists_core_commands(make_plugin_host, capsys):
    make_plugin_host()
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "plugins" in out and "new-plugin" in out


def test_no_command_prints_help(make_plugin_host, capsys):
    make_plugin_host()
    assert main([]) == 0
    assert "usage: blocks" in capsys.readouterr().out


def test_a_command_name_core_has_is_left_out_of_the_plugin(make_plugin_host, capsys, caplog):
    module = types.ModuleType("bad_cmd.plugin")

    @hookimpl
    def register_commands(subparsers):
        subparsers.add_parser("plugins").add_argument("--mine")  # clashes with core's command
        subparsers.add_parser("bad-cmd-extra").set_defaults(func=lambda args: 7)

    module.register_commands = register_commands
    make_plugin_host(_ep("blocks-bad-cmd", module))
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert main(["plugins"]) == 0  # core's command, untouched
        assert main(["bad-cmd-extra"]) == 7  # the plugin's other command works
    assert "plugin blocks-bad-cmd 1.0 registers commands name 'plugins'" in caplog.text
    assert "blocks-core" in caplog.text and "blocks-bad-cmd's 'plugins' is disabled" in caplog.text
    assert "clash: commands name 'plugins' is disabled here, blocks-core" in capsys.readouterr().out


def test_a_command_hook_that_fails_part_way_adds_no_command(make_plugin_host, capsys, caplog):
    module = types.ModuleType("half_cmd.plugin")

    @hookimpl
    def register_commands(subparsers):
        subparsers.add_parser("half-first").set_defaults(func=lambda args: 0)
        raise RuntimeError("broken after its first command")

    module.register_commands = register_commands
    make_plugin_host(_ep("blocks-half-cmd", module))
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"), pytest.raises(SystemExit):
        main(["half-first"])
    assert "invalid choice: 'half-first'" in capsys.readouterr().err
    assert "blocks-half-cmd 1.0: hook register_commands failed" in caplog.text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "half-first" not in capsys.readouterr().out


def test_a_name_clash_is_listed_and_everything_else_works(make_plugin_host, capsys, caplog):
    make_plugin_host(
        _ep("blocks-rules-b", _rules_module("rules_b.plugin", "shared", "scale", "only_b"), "3.4"),
        _ep("blocks-rules-a", _rules_module("rules_a.plugin", "shared", "only_a"), "1.2"),
    )
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "blocks-rules-a 1.2\n  hooks: register_step_rules\n  step_rules: only_a, shared\n" in out
    assert "blocks-rules-b 3.4\n  hooks: register_step_rules\n  step_rules: only_b\n" in out
    assert "clash: step_rules name 'scale' is disabled here, blocks-core" in out
    assert "clash: step_rules name 'shared' is disabled here, blocks-rules-a 1.2 has it" in out
    assert "blocks-rules-a 1.2" in caplog.text and "blocks-rules-b 3.4" in caplog.text
    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["blocks-rules-b"]["status"] == "loaded"
    assert sorted(c["name"] for c in rows["blocks-rules-b"]["clashes"]) == ["scale", "shared"]


def test_strict_mode_makes_a_name_clash_fatal(make_plugin_host, capsys):
    make_plugin_host(
        _ep("blocks-rules-a", _rules_module("rules_a.plugin", "shared"), "1.2"),
        _ep("blocks-rules-b", _rules_module("rules_b.plugin", "shared"), "3.4"),
        env={"BLOCKS_STRICT_PLUGINS": "1"},
    )
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert "step_rules name 'shared'" in err and "BLOCKS_STRICT_PLUGINS=1" in err
    assert "blocks-rules-a 1.2" in err and "blocks-rules-b 3.4" in err
