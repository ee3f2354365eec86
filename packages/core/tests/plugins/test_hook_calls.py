"""Every hook call goes through pluggy's caller: tracing sees all of them, tryfirst/trylast and wrappers apply."""

from __future__ import annotations

import argparse
import logging
import types

import pytest

from blocks import hookimpl
from blocks.backends import get_backend
from blocks.cli.main import build_parser
from blocks.hookspecs import PROJECT_NAME
from blocks.plugins import CORE_DISTRIBUTION, PluginLoadError
from blocks.registry import KINDS
from blocks.testing import FakeDistribution, FakeEntryPoint


def _module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def _ep(dist: str, target: object) -> FakeEntryPoint:
    return FakeEntryPoint(dist, target, FakeDistribution(dist, "1.0"), value=f"{dist.replace('-', '_')}.plugin")


def _rule_registrar(*names, **options):
    @hookimpl(**options)
    def register_step_rules(register):
        for name in names:
            register(name, "fractions:Fraction")

    return register_step_rules


def test_trace_logs_every_hook(make_plugin_host, caplog):
    """Before: the registrars and register_commands called impl.function directly; only select_backend was traced."""
    @hookimpl
    def register_datasets(register):
        register("toy", "fractions:Fraction")

    host = make_plugin_host(_ep("blocks-data", _module("data.plugin", register_datasets=register_datasets)),
                            env={"BLOCKS_TRACE_PLUGINS": "1"})  # core has no dataset: a plugin's hook is called
    with caplog.at_level(logging.INFO, logger="blocks.plugins"):
        for kind in KINDS:
            host.registry(kind)
        build_parser(host)
        host.call_first("select_backend", requested="auto", available=["cpu"])
    traced = {record.getMessage().split()[1] for record in caplog.records if " called: " in record.getMessage()}
    assert traced == {f"register_{kind}" for kind in KINDS} | {"register_commands", "select_backend"}


def test_tryfirst_orders_plugins_but_never_ahead_of_core(make_plugin_host):
    """Before: the registrars ran in distribution-name order whatever tryfirst/trylast said."""
    host = make_plugin_host(
        _ep("blocks-a", _module("a.plugin", register_step_rules=_rule_registrar("shared", trylast=True))),
        _ep("blocks-b", _module("b.plugin", register_step_rules=_rule_registrar("shared", "scale"))),
        _ep("blocks-c", _module("c.plugin", register_step_rules=_rule_registrar("shared", "scale", tryfirst=True))),
    )
    registry = host.registry("step_rules")
    assert registry.entry("shared").plugin == "blocks-c"  # tryfirst, then the others, then trylast
    assert registry.entry("scale").plugin == CORE_DISTRIBUTION  # core's built-ins still win
    clashes = {p.name: [c["name"] for c in p.clashes] for p in host.plugins()}
    assert clashes["blocks-a"] == ["shared"] and sorted(clashes["blocks-b"]) == ["scale", "shared"]


def test_a_wrapper_wraps_each_plugins_call(make_plugin_host):
    """Before: wrappers never ran (impl.function was called directly); now once per plugin, around its call."""
    seen = []

    @hookimpl(wrapper=True)
    def register_step_rules(register):
        seen.append("before")
        result = yield
        seen.append("after")
        return result

    host = make_plugin_host(
        _ep("blocks-a", _module("a.plugin", register_step_rules=_rule_registrar("from_a"))),
        _ep("blocks-b", _module("b.plugin", register_step_rules=_rule_registrar("from_b"))),
        _ep("blocks-wrap", _module("wrap.plugin", register_step_rules=register_step_rules)),
    )
    registry = host.registry("step_rules")
    assert {"from_a", "from_b"} <= set(registry)
    assert seen == ["before", "after"] * 3  # core's built-in, blocks-a, blocks-b


def test_a_failing_select_backend_is_isolated(make_plugin_host, caplog):
    """Before: one plugin's select_backend exception ended get_backend for everyone."""

    @hookimpl
    def select_backend(requested, available):
        raise RuntimeError("probing the device crashed")

    make_plugin_host(_ep("blocks-broken", _module("broken.plugin", select_backend=select_backend)))
    with caplog.at_level(logging.WARNING, logger="blocks.plugins"):
        assert get_backend("cpu").name == "cpu"
    assert any("blocks-broken 1.0: hook select_backend failed" in r.getMessage() for r in caplog.records)


def test_a_failing_select_backend_is_fatal_when_strict(make_plugin_host):
    @hookimpl
    def select_backend(requested, available):
        raise RuntimeError("probing the device crashed")

    make_plugin_host(_ep("blocks-broken", _module("broken.plugin", select_backend=select_backend)),
                     env={"BLOCKS_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError, match="blocks-broken 1.0: hook select_backend failed"):
        get_backend("cpu")


def test_plugins_answer_select_backend_before_core_and_by_tryfirst(make_plugin_host):
    @hookimpl
    def late(requested, available):
        return "late" if requested == "auto" else None

    @hookimpl(tryfirst=True)
    def early(requested, available):
        return "early" if requested == "auto" else None

    host = make_plugin_host(_ep("blocks-a", _module("a.plugin", select_backend=late)),
                            _ep("blocks-z", _module("z.plugin", select_backend=early)))
    assert host.call_first("select_backend", requested="auto", available=["cpu"]) == "early"
    assert host.call_first("select_backend", requested="cpu", available=["cpu"]) == "cpu"
    assert host.call_first("select_backend", requested="tpu", available=["cpu"]) is None


def test_commands_of_a_failing_hook_are_withdrawn_through_pluggy(make_plugin_host, caplog):
    @hookimpl
    def register_commands(subparsers):
        subparsers.add_parser("half-done")
        raise RuntimeError("broke after one command")

    host = make_plugin_host(_ep("blocks-broken", _module("broken.plugin", register_commands=register_commands)))
    parser = build_parser(host)
    with pytest.raises(SystemExit):
        parser.parse_args(["half-done"])
    assert isinstance(parser, argparse.ArgumentParser) and PROJECT_NAME == "blocks"
