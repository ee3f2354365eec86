"""GradientDescent's constructor: every refused argument, and which problem is reported first when several are."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Identity, Tanh
from blocks.graph import matrix
from blocks.initialization import Constant


def _cost():
    mlp = MLP([Tanh(), Identity()], [2, 3, 1], weights_init=Constant(0.5), biases_init=Constant(0.1), seed=1)
    mlp.initialize()
    cost = mlp.apply(matrix("features")).sum()
    cost.name = "cost"
    return mlp, cost


# each case: (arguments, message); a case's arguments are also wrong in every way the later cases test
CASES = [
    ({"reduction": "max", "mean_over": 3, "on_unused_sources": "drop", "cost": None}, "reduction must be 'mean'"),
    ({"mean_over": 3, "on_unused_sources": "drop", "cost": None}, "mean_over must be a function"),
    ({"mean_over": len, "reduction": "sum", "on_unused_sources": "drop", "cost": None}, "mean_over says"),
    ({"on_unused_sources": "drop", "cost": None}, "on_unused_sources must be one of"),
    ({"cost": None, "step_rule": 3}, "has no cost"),
    ({"cost": torch.zeros(()), "step_rule": 3}, "cost must be a symbolic Variable"),
    ({"step_rule": 3, "rewrites": "no_such_rewrite"}, "step_rule must be a blocks.algorithms.StepRule"),
    ({"step_rule": Scale(0.1), "learning_rate": 0.1, "rewrites": "no_such_rewrite"}, "unknown arguments learning_rate"),
    ({"step_rule": "no_such_rule", "rewrites": "no_such_rewrite"}, "no_such_rule"),
    ({"rewrites": "no_such_rewrite", "parameters": []}, "no_such_rewrite"),
    ({"parameters": []}, "no parameters to train"),
    ({"parameters": "twice"}, "listed twice"),
    ({"parameters": "frozen"}, "must be a tensor that requires grad"),
    ({"parameters": "same name"}, "two trained parameters are both named"),
    ({"updates": [(1, 2)]}, "update"),
]


@pytest.mark.parametrize("arguments, message", CASES, ids=[message for _, message in CASES])
def test_each_problem_is_reported_before_the_later_ones(arguments, message):
    mlp, cost = _cost()
    w = mlp.linear_transformations[0].W
    arguments = {"cost": cost, **arguments}
    if isinstance(arguments.get("parameters"), str):
        named, twin = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
        named._blocks_name = twin._blocks_name = "p"
        arguments["parameters"] = {"twice": OrderedDict([("a", w), ("b", w)]), "frozen": [w, torch.zeros(2)],
                                   "same name": [named, twin]}[arguments["parameters"]]
    with pytest.raises(ValueError, match=message):
        GradientDescent(**arguments)


def test_a_valid_construction_sets_up_training_from_scratch():
    mlp, cost = _cost()
    algorithm = GradientDescent(cost, step_rule=Scale(0.5), keep_gradients=1, use_torch_compile=0)
    assert list(algorithm.parameter_dict) == ["/mlp/linear_0.W", "/mlp/linear_0.b", "/mlp/linear_1.W",
                                              "/mlp/linear_1.b"]
    assert algorithm.parameters == list(algorithm.parameter_dict.values())
    assert algorithm.keep_gradients is True and algorithm.use_torch_compile is False
    assert algorithm.gradient_expressions is None and not algorithm.initialized
    assert algorithm.monitored_values == {} and algorithm.gradients == {}
    assert algorithm.total_gradient_norm.name == "total_gradient_norm"
    assert algorithm.total_step_norm.name == "total_step_norm"
    assert algorithm.nonfinite_quantities() == []
