"""Every rule is registered under its lower_snake_case name and resolves to a StepRule."""

from __future__ import annotations

import blocks.plugins
from blocks.algorithms import StepRule
from blocks_step_rules import EXPORTS, __all__, plugin

EXPECTED = {
    "basic_momentum", "momentum", "basic_nesterov_momentum", "nesterov_momentum", "adadelta", "basic_rmsprop",
    "rmsprop", "adagrad", "adam", "step_clipping", "variable_clipping", "remove_not_finite", "restrict",
    "decoupled_weight_decay", "gradient_accumulation",
}


def test_every_rule_is_registered_and_resolves(register_plugin):
    register_plugin(plugin, distribution="blocks-step-rules")
    for name in EXPECTED:
        rule_class = blocks.plugins.resolve("step_rules", name)
        assert isinstance(rule_class, type) and issubclass(rule_class, StepRule), name
    assert {export.name for export in EXPORTS.registered("step_rules")} == EXPECTED
    # every registered rule is also a public name of the package, and nothing else is
    assert {export.attribute for export in EXPORTS.registered("step_rules")} | {"__version__"} == set(__all__)


def test_rules_can_be_built_by_name(register_plugin):
    register_plugin(plugin, distribution="blocks-step-rules")
    adam = blocks.plugins.resolve("step_rules", "adam")(learning_rate=0.1)
    assert adam.learning_rate.item() == 0.1
