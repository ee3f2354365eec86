"""Entry-point discovery: isolation of broken plugins and the BLOCKS_* switches."""

from __future__ import annotations

import logging
import types

import pytest

from blocks import hookimpl
from blocks.plugins import CORE_DISTRIBUTION, PluginHost, PluginLoadError
from blocks.testing import FakeDistribution, FakeEntryPoint, fake_entry_points


def _module(name: str, **rules) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def register_step_rules(register):
        for rule_name, obj in rules.items():
            register(rule_name, obj)

    module.register_step_rules = register_step_rules
    return module


def _ep(dist: str, module: object, version: str = "1.0") -> FakeEntryPoint:
    return FakeEntryPoint(dist, module, FakeDistribution(dist, version), value=f"{dist.replace('-', '_')}.plugin")


def _good() -> FakeEntryPoint:
    return _ep("good-plugin", _module("good_plugin.plugin", good_rule="fractions:Fraction"))


def _broken() -> FakeEntryPoint:
    return _ep("broken-plugin", ImportError("No module named 'broken_dependency'"), "0.3")


def _names(host: PluginHost, status: str = "loaded") -> list[str]:
    return [p.name for p in host.plugins() if p.status == status]


def test_entry_point_plugins_are_loaded_and_attributed(make_plugin_host):
    host = make_plugin_host(_good())
    assert _names(host) == [CORE_DISTRIBUTION, "good-plugin"]
    info = {p.name: p for p in host.plugins()}["good-plugin"]
    assert info.version == "1.0"
    assert info.entry_point == "good-plugin = good_plugin.plugin"
    assert info.modules == ["good_plugin.plugin"]
    assert info.registered == {"step_rules": ["good_rule"]}
    assert host.registry("step_rules").entry("good_rule").plugin == "good-plugin"


def test_broken_plugin_warns_and_host_keeps_working(make_plugin_host, caplog):
    host = make_plugin_host(_broken(), _good())
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert "good_rule" in host.registry("step_rules")
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "broken-plugin 0.3" in warning and "broken_dependency" in warning
    assert "entry point 'broken-plugin'" in warning
    assert [p.name for p in host.failures] == ["broken-plugin"]
    assert _names(host, "failed") == ["broken-plugin"]


def test_strict_mode_makes_broken_plugin_fatal(make_plugin_host):
    host = make_plugin_host(_broken(), _good(), env={"BLOCKS_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError, match="broken-plugin 0.3.*broken_dependency.*BLOCKS_STRICT_PLUGINS"):
        host.load()


def test_failing_hook_is_isolated(make_plugin_host, caplog):
    module = types.ModuleType("raising.plugin")

    @hookimpl
    def register_step_rules(register):
        raise RuntimeError("boom while registering")

    module.register_step_rules = register_step_rules
    host = make_plugin_host(_ep("raising-plugin", module), _good(), builtins=False)
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert host.registry("step_rules").names() == ["good_rule"]
    assert "raising-plugin 1.0: hook register_step_rules failed" in caplog.text
    strict = make_plugin_host(_ep("raising-plugin", module), env={"BLOCKS_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError, match="raising-plugin.*boom while registering"):
        strict.registry("step_rules")


def test_unknown_hook_in_entry_point_is_reported(make_plugin_host, caplog):
    module = types.ModuleType("typo.plugin")

    @hookimpl
    def register_stepp_rules(register):
        register("x", "fractions:Fraction")

    module.register_stepp_rules = register_stepp_rules
    host = make_plugin_host(_ep("typo-plugin", module))
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert _names(host, "failed") == ["typo-plugin"]
    assert "unknown hook(s) register_stepp_rules" in caplog.text


def test_disable_autoload_loads_no_entry_point(make_plugin_host):
    loaded = []

    class Recording(FakeEntryPoint):
        def load(self):
            loaded.append(self.name)
            return super().load()

    ep = Recording("good-plugin", _module("good_plugin.plugin"), FakeDistribution("good-plugin"))
    host = make_plugin_host(ep, env={"BLOCKS_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert _names(host) == [CORE_DISTRIBUTION]
    assert _names(host, "skipped") == ["good-plugin"]
    assert loaded == []
    assert "backends" in host.plugins()[0].registered  # core's built-ins stay


@pytest.mark.parametrize("value", ["good-plugin", "GOOD_PLUGIN", " good-plugin , ", "good_plugin,other-thing"])
def test_load_plugins_selects_by_distribution(make_plugin_host, value, caplog):
    host = make_plugin_host(_good(), _broken(), env={"BLOCKS_LOAD_PLUGINS": value})
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert _names(host) == [CORE_DISTRIBUTION, "good-plugin"]
    assert _names(host, "skipped") == ["broken-plugin"]
    assert ("other-thing" in caplog.text) == ("other-thing" in value)


def test_load_plugins_empty_loads_none(make_plugin_host):
    host = make_plugin_host(_good(), env={"BLOCKS_LOAD_PLUGINS": ""})
    assert _names(host) == [CORE_DISTRIBUTION]


def test_load_plugins_unknown_name_warns_even_when_strict(make_plugin_host, caplog):
    host = make_plugin_host(_good(), env={"BLOCKS_LOAD_PLUGINS": "nope", "BLOCKS_STRICT_PLUGINS": "1"})
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        host.load()
    assert "BLOCKS_LOAD_PLUGINS names nope, which is not an installed plugin; installed plugins: good-plugin" in (
        caplog.text
    )
    assert _names(host) == [CORE_DISTRIBUTION]


def test_loading_is_lazy_and_happens_once():
    calls = []

    def source():
        calls.append(1)
        return [_good()]

    host = PluginHost(entry_points=source, env={})
    assert calls == []
    host.registry("step_rules")
    host.plugins()
    host.load()
    assert calls == [1]


def test_duplicate_entry_point_is_loaded_once(make_plugin_host):
    host = make_plugin_host(_good(), _good(), builtins=False)
    assert _names(host) == ["good-plugin"]
    assert host.registry("step_rules").names() == ["good_rule"]


def test_fake_entry_point_raises_exception_class():
    with pytest.raises(ImportError, match="cannot import demo"):
        FakeEntryPoint("demo", ImportError).load()
    assert fake_entry_points(_good())()[0].name == "good-plugin"


def test_tracing_logs_hook_calls(make_plugin_host, caplog):
    host = make_plugin_host(_good(), env={"BLOCKS_TRACE_PLUGINS": "1"})
    with caplog.at_level(logging.INFO, logger="blocks.plugins"):
        host.hook.select_backend(requested="auto", available=["cpu"])
    assert "hook select_backend called" in caplog.text


def test_strict_failure_is_raised_again_on_later_use(make_plugin_host):
    host = make_plugin_host(_broken(), _good(), env={"BLOCKS_STRICT_PLUGINS": "1"})
    for _ in range(2):
        with pytest.raises(PluginLoadError, match="broken-plugin"):
            host.registry("step_rules")


def test_broken_builtin_module_is_isolated(make_plugin_host, monkeypatch, caplog):
    import blocks.plugins

    monkeypatch.setattr(blocks.plugins, "BUILTIN_MODULES", ("blocks._builtins.not_there", "blocks._builtins.commands"))
    host = make_plugin_host(_good())
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        core = host.plugins()[0]
    assert core.name == CORE_DISTRIBUTION and core.status == "failed"
    assert core.modules == ["blocks._builtins.commands"] and "register_commands" in core.hooks
    assert "cannot load built-in module blocks._builtins.not_there" in caplog.text
    assert "good_rule" in host.registry("step_rules")
    strict = make_plugin_host(env={"BLOCKS_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError, match="blocks._builtins.not_there"):
        strict.load()
