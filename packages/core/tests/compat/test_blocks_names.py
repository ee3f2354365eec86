"""Blocks' names in their old modules (``from blocks.algorithms import Momentum``), found through the registries."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

import blocks.algorithms
import blocks.extensions
import blocks.monitoring.aggregation
from blocks import hookimpl
from blocks.algorithms import Scale, StepRule
from blocks.compat import MOVED_NAMES, MovedNameError, moved_attribute
from blocks.extensions import SimpleExtension
from blocks.testing import FakeDistribution, FakeEntryPoint


class Lion(StepRule):
    def compute_step(self, parameter, previous_step):
        return previous_step


class Printing(SimpleExtension):
    def do(self, which_callback, *args):
        pass


def mean(numerator, denominator=1.0):
    return numerator / denominator


@pytest.fixture
def fake_plugins(monkeypatch):
    """Modules a fake ``blocks-step-rules`` and ``blocks-extensions`` register lazily."""
    rules = types.ModuleType("fake_rules")
    rules.Momentum = type("Momentum", (Lion,), {})
    rules.Lion = Lion
    exts = types.ModuleType("fake_exts")
    exts.Printing = Printing
    exts.mean = mean
    exts.MonitoredQuantity = type("MonitoredQuantity", (), {})
    exts.__all__ = ["Printing", "mean", "MonitoredQuantity"]
    monkeypatch.setitem(sys.modules, "fake_rules", rules)
    monkeypatch.setitem(sys.modules, "fake_exts", exts)
    return rules, exts


def _plugin(hook: str, names: dict[str, str]) -> types.SimpleNamespace:
    def register(register):
        for name, target in names.items():
            register(name, target)

    register.__name__ = hook
    return types.SimpleNamespace(**{hook: hookimpl(register)})


def test_a_moved_class_resolves_through_the_registry(make_plugin_host, fake_plugins):
    rules, exts = fake_plugins
    momentum = _plugin("register_step_rules", {"momentum": "fake_rules:Momentum"})
    step_rules = FakeEntryPoint("blocks-step-rules", momentum, FakeDistribution("blocks-step-rules", "9.0"))
    extensions = FakeEntryPoint("blocks-extensions", _plugin("register_extensions", {"printing": "fake_exts:Printing"}),
                                FakeDistribution("blocks-extensions", "9.0"))
    make_plugin_host(step_rules, extensions)
    from blocks.algorithms import Momentum
    from blocks.extensions import Printing as Found

    assert Momentum is rules.Momentum and Found is Printing
    # Blocks' names that are not registered classes come from the public API of the plugin providing the kind
    assert blocks.monitoring.aggregation.mean is mean
    assert blocks.monitoring.aggregation.MonitoredQuantity is exts.MonitoredQuantity


def test_a_third_party_registered_class_is_found_in_the_old_module(make_plugin_host, fake_plugins):
    lion = FakeEntryPoint("blocks-lion", _plugin("register_step_rules", {"lion": "fake_rules:Lion"}))
    make_plugin_host(lion)
    assert blocks.algorithms.Lion is Lion


@pytest.mark.parametrize(
    ("module", "name", "distribution", "where"),
    [
        ("blocks.algorithms", "Momentum", "blocks-step-rules", "blocks_step_rules.Momentum"),
        ("blocks.extensions", "Printing", "blocks-extensions", "blocks_extensions.Printing"),
        ("blocks.extensions.monitoring", "DataStreamMonitoring", "blocks-extensions",
         "blocks_extensions.DataStreamMonitoring"),
        ("blocks.bricks.recurrent", "LSTM", "blocks-bricks-rnn", "blocks_rnn.LSTM"),
        ("blocks.search", "BeamSearch", "blocks-bricks-rnn", "blocks_rnn.BeamSearch"),
    ],
)
def test_a_missing_plugin_is_named_with_the_class_and_where_it_lives(make_plugin_host, module, name, distribution,
                                                                     where):
    make_plugin_host()
    with pytest.raises(MovedNameError) as caught:
        moved_attribute(module, name)
    message = str(caught.value)
    assert f"{module}.{name}" in message and where in message and f"pip install {distribution}" in message


def test_from_import_keeps_the_message(make_plugin_host):
    make_plugin_host()
    with pytest.raises(ImportError, match="pip install blocks-step-rules"):
        from blocks.algorithms import Adam  # noqa: F401


def test_a_plugin_that_failed_to_load_is_reported(make_plugin_host):
    broken = FakeEntryPoint("blocks-step-rules", ImportError("no module named torch_lion"))
    make_plugin_host(broken)
    with pytest.raises(MovedNameError, match="installed but failed to load.*torch_lion"):
        moved_attribute("blocks.algorithms", "Momentum")


def test_a_plugin_left_out_by_the_environment_is_reported(make_plugin_host, fake_plugins):
    momentum = _plugin("register_step_rules", {"momentum": "fake_rules:Momentum"})
    make_plugin_host(FakeEntryPoint("blocks-step-rules", momentum), env={"BLOCKS_LOAD_PLUGINS": ""})
    with pytest.raises(MovedNameError, match="not loaded here.*BLOCKS_LOAD_PLUGINS"):
        moved_attribute("blocks.algorithms", "Momentum")


def test_two_plugins_registering_one_class_name_is_an_error(make_plugin_host, fake_plugins):
    first = FakeEntryPoint("blocks-step-rules", _plugin("register_step_rules", {"momentum": "fake_rules:Momentum"}))
    second = FakeEntryPoint("blocks-fast-momentum",
                            _plugin("register_step_rules", {"fast_momentum": "fake_rules:Momentum"}))
    make_plugin_host(first, second)
    with pytest.raises(MovedNameError, match="ambiguous.*blocks-fast-momentum"):
        moved_attribute("blocks.algorithms", "Momentum")


def test_unknown_and_private_names_are_attribute_errors(make_plugin_host):
    make_plugin_host()
    assert not hasattr(blocks.algorithms, "NoSuchRule")
    assert not hasattr(blocks.extensions, "_private")
    with pytest.raises(AttributeError, match="has no attribute 'Momentum'"):
        moved_attribute("blocks.extensions.stopping", "Momentum")  # not one of Blocks' names of that module
    with pytest.raises(AttributeError):
        moved_attribute("blocks.not_a_module", "Momentum")


def test_core_names_stay_core(make_plugin_host):
    make_plugin_host()
    assert blocks.algorithms.Scale is Scale
    assert MOVED_NAMES["blocks.algorithms"].names.isdisjoint(blocks.algorithms.__all__)


def test_moved_names_resolve_with_the_installed_plugins():
    """The real plugins of this checkout (skipped for a plugin that is not installed)."""
    for module, name, package in [("blocks.algorithms", "Momentum", "blocks_step_rules"),
                                  ("blocks.extensions", "Printing", "blocks_extensions"),
                                  ("blocks.bricks", "LSTM", "blocks_rnn")]:
        plugin = pytest.importorskip(package)
        assert getattr(importlib.import_module(module), name) is getattr(plugin, name)
