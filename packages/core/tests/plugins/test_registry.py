"""Registry behaviour: unknown names, clashes, bad registrations, lazy failures."""

from __future__ import annotations

import pytest

from blocks import hookimpl
from blocks.plugins import PluginLoadError, get_registry, resolve
from blocks.registry import Registry, RegistryClashError, UnknownNameError


class RuleA:
    """A local object."""


class RuleB:
    """Another local object."""


def _rules(**named):
    class Plugin:
        @hookimpl
        def register_step_rules(self, register):
            for name, obj in named.items():
                register(name, obj)

    return Plugin()


def test_unknown_name_lists_available(register_plugin):
    register_plugin(_rules(rule_a=RuleA, rule_b=RuleB), distribution="rules-plugin")
    with pytest.raises(UnknownNameError) as info:
        resolve("step_rules", "rule_c")
    message = str(info.value)
    assert "'rule_c'" in message and "rule_a, rule_b" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)


def test_unknown_name_in_empty_registry_hints_at_installing():
    with pytest.raises(UnknownNameError, match="is the plugin that provides it installed"):
        Registry("bricks").get("lstm")


def test_unknown_kind_lists_kinds(plugin_host):
    with pytest.raises(ValueError, match="valid kinds: bricks, step_rules"):
        plugin_host.registry("optimizers")


def test_clash_names_both_plugins_and_is_fatal_when_strict(register_plugin):
    register_plugin(_rules(shared=RuleA), distribution="first-plugin", version="1.0")
    register_plugin(_rules(shared=RuleB), name="second", distribution="second-plugin", version="2.0")
    with pytest.raises(PluginLoadError) as info:  # the plugin_host fixture is strict
        get_registry("step_rules")
    message = str(info.value)
    assert "first-plugin 1.0" in message and "second-plugin 2.0" in message
    assert "'shared'" in message and "BLOCKS_STRICT_PLUGINS=1" in message


def test_a_registry_refuses_a_name_twice():
    registry = Registry("step_rules")
    registry.add("shared", RuleA, plugin="first-plugin", version="1.0")
    with pytest.raises(RegistryClashError, match="registered twice: by first-plugin 1.0"):
        registry.add("shared", RuleB, plugin="second-plugin", version="2.0")


@pytest.mark.parametrize(
    ("name", "obj", "match"),
    [
        ("CamelCase", RuleA, "not lower_snake_case"),
        ("ok_name", "no_colon_here", "must look like 'package.module:attribute'"),
        ("ok_name", None, "registered as None"),
    ],
)
def test_bad_registration_is_reported(name, obj, match):
    registry = Registry("step_rules")
    with pytest.raises(ValueError, match=match):
        registry.add(name, obj, plugin="bad-plugin", version="0.1")


def test_lazy_reference_that_fails_names_plugin(register_plugin):
    register_plugin(_rules(missing="not_a_module_anywhere:Thing"), distribution="broken-lazy", version="3.1")
    registry = get_registry("step_rules")
    assert "missing" in registry  # registering a lazy string imports nothing
    with pytest.raises(ImportError, match="broken-lazy 3.1.*not_a_module_anywhere"):
        registry.get("missing")


def test_validator_runs_once_on_first_load(plugin_host, register_plugin):
    seen = []
    plugin_host.add_validator("step_rules", lambda entry, obj: seen.append((entry.name, obj)))
    register_plugin(_rules(rule_a=RuleA), distribution="rules-plugin")
    registry = get_registry("step_rules")
    registry.get("rule_a")
    registry.get("rule_a")
    assert seen == [("rule_a", RuleA)]


def test_validator_error_propagates(plugin_host, register_plugin):
    def must_be_rule_b(entry, obj):
        if obj is not RuleB:
            raise TypeError(f"{entry.plugin}: {entry.name!r} is not RuleB")

    plugin_host.add_validator("step_rules", must_be_rule_b)
    register_plugin(_rules(rule_a=RuleA), distribution="rules-plugin")
    with pytest.raises(TypeError, match="rules-plugin: 'rule_a' is not RuleB"):
        resolve("step_rules", "rule_a")


def test_registered_names_are_attributed(plugin_host, register_plugin):
    register_plugin(_rules(rule_a=RuleA, rule_b=RuleB), distribution="rules-plugin", version="1.2")
    info = {p.name: p for p in plugin_host.plugins()}["rules-plugin"]
    assert info.version == "1.2"
    assert sorted(info.registered["step_rules"]) == ["rule_a", "rule_b"]
    assert info.hooks == ["register_step_rules"]


def test_unregister_removes_contributions(plugin_host):
    name = plugin_host.register_plugin(_rules(rule_a=RuleA), "temp", distribution="temp-plugin")
    assert "rule_a" in plugin_host.registry("step_rules")
    plugin_host.unregister_plugin(name)
    assert "rule_a" not in plugin_host.registry("step_rules")
    assert "temp-plugin" not in [p.name for p in plugin_host.plugins()]


def test_unknown_hook_is_rejected(plugin_host):
    class Typo:
        @hookimpl
        def register_stepp_rules(self, register):
            register("x", RuleA)

    with pytest.raises(ValueError, match="register_stepp_rules.*valid hooks: register_backends"):
        plugin_host.register_plugin(Typo(), distribution="typo-plugin")
    assert "typo-plugin" not in [p.name for p in plugin_host.plugins()]
