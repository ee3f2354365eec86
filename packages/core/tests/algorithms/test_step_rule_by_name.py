"""GradientDescent(step_rule="name", **options), configuration entries, and make_step_rule's errors."""

from __future__ import annotations

import pytest
import torch

from blocks import hookimpl
from blocks.algorithms import GradientDescent, Scale, StepRule, make_step_rule
from blocks.config import config
from blocks.graph import matrix


class Halve(StepRule):
    def __init__(self, learning_rate: float = 1.0, factor: float = 0.5) -> None:
        super().__init__()
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)
        self.factor = self.add_hyperparameter("factor", factor)

    def compute_step(self, parameter, previous_step):
        return previous_step * (self.learning_rate.item() * self.factor.item())


class RulesPlugin:
    @hookimpl
    def register_step_rules(self, register):
        register("halve", Halve)


def _cost():
    w = torch.nn.Parameter(torch.ones(2))
    x = matrix("x")
    cost = (x @ w).sum()
    cost.name = "cost"
    return w, cost


def test_gradient_descent_resolves_a_rule_by_name_with_its_arguments(register_plugin):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    w, cost = _cost()
    algorithm = GradientDescent(cost, parameters=[w], step_rule="halve", learning_rate=0.2, factor=0.25)
    assert type(algorithm.step_rule) is Halve
    assert algorithm.step_rule.learning_rate.item() == pytest.approx(0.2)
    algorithm.initialize()
    algorithm.process_batch({"x": torch.ones(1, 2).numpy()})
    assert w.detach().tolist() == pytest.approx([1 - 0.05, 1 - 0.05])


def test_gradient_descent_takes_a_configuration_entry(register_plugin):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    _, cost = _cost()
    algorithm = GradientDescent(cost, step_rule={"name": "halve", "factor": 0.1})
    assert algorithm.step_rule.factor.item() == pytest.approx(0.1)


def test_the_step_rule_option_is_the_default_rule(register_plugin, monkeypatch):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    _, cost = _cost()
    assert type(GradientDescent(cost).step_rule) is Scale  # the option's default: as before
    assert GradientDescent(cost, learning_rate=0.3).step_rule.learning_rate.item() == pytest.approx(0.3)
    monkeypatch.setenv("BLOCKS_STEP_RULE", "{name: halve, learning_rate: 0.5}")
    rule = GradientDescent(cost).step_rule
    assert type(rule) is Halve and rule.learning_rate.item() == 0.5
    with config.override(step_rule="halve"):
        assert type(GradientDescent(cost, factor=0.9).step_rule) is Halve


def test_the_step_rule_option_from_a_config_file(register_plugin, monkeypatch, tmp_path):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    path = tmp_path / "blocksrc.yaml"
    path.write_text("step_rule:\n  name: halve\n  factor: 0.125\n")
    monkeypatch.setenv("BLOCKS_CONFIG", str(path))
    monkeypatch.delenv("BLOCKS_STEP_RULE", raising=False)
    assert make_step_rule().factor.item() == 0.125


@pytest.mark.parametrize("value", ["Adam", "adam rule", "{learning_rate: 0.1}", "{name: 3}", "{name: adam"])
def test_a_malformed_step_rule_option_is_a_configuration_error(value, monkeypatch):
    from fuel.config_parser import ConfigurationError

    monkeypatch.setenv("BLOCKS_STEP_RULE", value)
    with pytest.raises(ConfigurationError, match="step_rule"):
        config.step_rule


def test_unknown_name_lists_the_registered_rules(plugin_host):
    _, cost = _cost()
    with pytest.raises(ValueError, match="unknown step_rules name 'adamw'; available: composite, scale"):
        GradientDescent(cost, step_rule="adamw")


def test_an_argument_the_rule_does_not_take_lists_those_it_takes(register_plugin):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    _, cost = _cost()
    with pytest.raises(ValueError, match=r"step rule 'halve' \(.*:Halve\) takes no argument 'lr'; "
                                         r"it takes learning_rate, factor"):
        GradientDescent(cost, step_rule="halve", lr=0.1)


def test_arguments_with_a_built_rule_are_refused():
    _, cost = _cost()
    with pytest.raises(ValueError, match="unknown arguments learning_rate.*step_rule='adam'"):
        GradientDescent(cost, step_rule=Scale(0.1), learning_rate=0.2)
    with pytest.raises(ValueError, match="already built"):
        make_step_rule(Scale(0.1), learning_rate=0.2)


@pytest.mark.parametrize("spec, message", [
    ({"learning_rate": 0.1}, "needs a 'name'"),
    (3, "not a StepRule subclass"),
    (int, "not a StepRule subclass"),
])
def test_bad_specifications(spec, message, plugin_host):
    with pytest.raises(ValueError, match=message):
        make_step_rule(spec)


def test_entry_and_arguments_may_not_both_set_an_option(register_plugin):
    register_plugin(RulesPlugin(), distribution="blocks-halve")
    with pytest.raises(ValueError, match="factor given both"):
        make_step_rule({"name": "halve", "factor": 0.1}, factor=0.2)


def test_a_non_rule_step_rule_is_still_refused():
    _, cost = _cost()
    with pytest.raises(ValueError, match="step_rule must be a blocks.algorithms.StepRule"):
        GradientDescent(cost, step_rule=3)
