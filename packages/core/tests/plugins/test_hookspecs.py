"""Every hook specification has a test that registers through it."""

from __future__ import annotations

import argparse
import fractions

import pytest

from blocks import hookimpl, hookspecs
from blocks.cli.main import build_parser
from blocks.plugins import get_registry, resolve
from blocks.registry import KINDS


class LocalThing:
    """A stand-in object registered by the test plugins."""


REGISTRAR_HOOKS = [f"register_{kind}" for kind in KINDS]


def test_every_hookspec_is_covered_here():
    specs = sorted(n for n in hookspecs.__all__ if n.startswith(("register_", "select_")))
    assert specs == sorted([*REGISTRAR_HOOKS, "register_commands", "select_backend"])


def _plugin_for(hook_name: str, name: str, obj: object):
    def impl(register):
        register(name, obj)

    impl.__name__ = hook_name
    return type("LocalPlugin", (), {hook_name: staticmethod(hookimpl(impl))})()


@pytest.mark.parametrize("kind", KINDS)
def test_registrar_hook_registers_object(kind, register_plugin):
    register_plugin(_plugin_for(f"register_{kind}", "local_thing", LocalThing), distribution="demo-plugin")
    registry = get_registry(kind)
    assert registry.get("local_thing") is LocalThing
    assert resolve(kind, "local_thing") is LocalThing
    entry = registry.entry("local_thing")
    assert entry.plugin == "demo-plugin"
    assert not entry.lazy


@pytest.mark.parametrize("kind", KINDS)
def test_registrar_hook_accepts_lazy_string(kind, register_plugin):
    register_plugin(_plugin_for(f"register_{kind}", "fraction", "fractions:Fraction"), distribution="lazy-plugin")
    entry = get_registry(kind).entry("fraction")
    assert entry.lazy and entry.reference == "fractions:Fraction"
    assert get_registry(kind).get("fraction") is fractions.Fraction


def test_register_passes_metadata(register_plugin):
    class DatasetPlugin:
        @hookimpl
        def register_datasets(self, register):
            register("toy", LocalThing, download="argparse:ArgumentParser", description="a toy")

    register_plugin(DatasetPlugin(), distribution="toy-datasets")
    entry = get_registry("datasets").entry("toy")
    assert entry.metadata["description"] == "a toy"
    assert entry.load_metadata("download") is argparse.ArgumentParser
    assert entry.load_metadata("description") == "a toy"


def test_register_commands_adds_subcommand(register_plugin, plugin_host, capsys):
    calls = []

    class CommandPlugin:
        @hookimpl
        def register_commands(self, subparsers):
            parser = subparsers.add_parser("greet", help="say hello")
            parser.add_argument("who")
            parser.set_defaults(func=lambda args: calls.append(args.who) or 3)

    register_plugin(CommandPlugin(), distribution="greeter")
    parser = build_parser(plugin_host)
    args = parser.parse_args(["greet", "world"])
    assert args.func(args) == 3
    assert calls == ["world"]
    # core's own command is there too
    assert parser.parse_args(["plugins", "--json"]).json is True


def test_select_backend_is_firstresult(register_plugin, plugin_host):
    class Special:
        @hookimpl
        def register_backends(self, register):
            register("special", LocalThing)

        @hookimpl
        def select_backend(self, requested, available):
            return "special" if requested == "special" and "special" in available else None

    register_plugin(Special(), distribution="special-backend")
    available = get_registry("backends").names()
    assert "special" in available
    assert plugin_host.hook.select_backend(requested="special", available=available) == "special"
    # declining plugins fall through to core's trylast cpu fallback
    assert plugin_host.hook.select_backend(requested="auto", available=available) == "cpu"
    assert plugin_host.hook.select_backend(requested="tpu", available=available) is None


def test_hookimpl_may_take_fewer_arguments(register_plugin, plugin_host):
    class Always:
        @hookimpl(tryfirst=True)
        def select_backend(self):
            return "cpu"

    register_plugin(Always(), distribution="always-cpu")
    assert plugin_host.hook.select_backend(requested="cuda", available=["cpu"]) == "cpu"
