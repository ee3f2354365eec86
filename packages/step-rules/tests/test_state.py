"""state_dict round trips mid-training give identical continuations; states are JSON-able plus tensors."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from blocks.algorithms import CompositeRule, Scale, TorchOptim
from blocks_step_rules import (
    AdaDelta,
    AdaGrad,
    Adam,
    BasicMomentum,
    BasicNesterovMomentum,
    BasicRMSProp,
    DecoupledWeightDecay,
    GradientAccumulation,
    Momentum,
    NesterovMomentum,
    RemoveNotFinite,
    Restrict,
    RMSProp,
    StepClipping,
    VariableClipping,
)

FACTORIES = {
    "basic_momentum": lambda: CompositeRule([Scale(0.05), BasicMomentum(0.9)]),
    "momentum": lambda: Momentum(0.05, 0.9),
    "basic_nesterov_momentum": lambda: CompositeRule([Scale(0.05), BasicNesterovMomentum(0.9)]),
    "nesterov_momentum": lambda: NesterovMomentum(0.05, 0.9),
    "adadelta": lambda: AdaDelta(),
    "basic_rmsprop": lambda: CompositeRule([BasicRMSProp(), Scale(0.01)]),
    "rmsprop": lambda: RMSProp(0.01),
    "adagrad": lambda: AdaGrad(0.1),
    "adam": lambda: Adam(0.01, decay_factor=0.99),
    "step_clipping": lambda: CompositeRule([StepClipping(1.0), Scale(0.1)]),
    "variable_clipping": lambda: CompositeRule([Scale(0.1), VariableClipping(1.0, axis=0)]),
    "remove_not_finite": lambda: CompositeRule([Scale(0.1), RemoveNotFinite(0.5)]),
    "restrict": lambda: Restrict(Adam(0.01), ["w1", "s"]),
    "decoupled_weight_decay": lambda: CompositeRule([Adam(0.01), DecoupledWeightDecay(0.1, 0.01)]),
    "gradient_accumulation": lambda: GradientAccumulation(3, Momentum(0.05, 0.9)),
    "torch_optim_class": lambda: TorchOptim("AdamW", lr=0.01),
}


def _check_json_plus_tensors(value, path="state"):
    if isinstance(value, torch.Tensor):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{path}: non-str key {key!r}"
            _check_json_plus_tensors(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_plus_tensors(item, f"{path}[{index}]")
    else:
        json.dumps(value)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_round_trip_mid_training_continues_identically(name, problem):
    parameters = problem.make_parameters()
    if name == "variable_clipping":
        parameters["s"] = parameters["s"].reshape(1)  # axis=0 needs a dimension
    rule = FACTORIES[name]()
    rule.initialize(parameters)
    problem.run_rule(rule, parameters, 40)
    state = copy.deepcopy(rule.state_dict())
    _check_json_plus_tensors(state)
    snapshot = copy.deepcopy(parameters)

    problem.run_rule(rule, parameters, 40, start=40)

    resumed = FACTORIES[name]()
    restored = copy.deepcopy(snapshot)
    resumed.initialize(restored)
    resumed.load_state_dict(state)
    problem.run_rule(resumed, restored, 40, start=40)
    for key in parameters:
        assert torch.equal(parameters[key], restored[key]), key
    # a fresh rule without the state does not continue identically (the state matters)
    if name not in {"step_clipping", "remove_not_finite", "variable_clipping"}:
        fresh = FACTORIES[name]()
        other = copy.deepcopy(snapshot)
        fresh.initialize(other)
        problem.run_rule(fresh, other, 40, start=40)
        assert any(not torch.equal(parameters[k], other[k]) for k in parameters)


def test_load_state_dict_rejects_other_parameters(problem):
    rule = Adam()
    rule.initialize(problem.make_parameters())
    state = rule.state_dict()
    other = Adam()
    other.initialize({"w1": torch.zeros(5, 4)})
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(state)


def test_load_state_dict_rejects_shape_mismatch(problem):
    rule = Momentum(0.1, 0.9)
    rule.initialize({"w": torch.zeros(3)})
    state = copy.deepcopy(rule.state_dict())
    state["buffers"]["velocity"]["w"] = torch.zeros(4)
    with pytest.raises(ValueError, match="shape"):
        rule.load_state_dict(state)


def test_hyperparameters_are_restored():
    rule = Adam(0.01)
    rule.initialize({"w": torch.zeros(2)})
    state = copy.deepcopy(rule.state_dict())
    rule.learning_rate.fill_(0.5)
    rule.load_state_dict(state)
    assert rule.learning_rate.item() == pytest.approx(0.01)
