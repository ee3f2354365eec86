"""Behaviour of the rules without a torch.optim equivalent, hyper-parameters, buffers and errors."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from blocks.algorithms import CompositeRule, Scale
from blocks.roles import ALGORITHM_BUFFER, ALGORITHM_HYPERPARAMETER, has_roles
from blocks_step_rules import (
    AdaDelta,
    Adam,
    GradientAccumulation,
    Momentum,
    RemoveNotFinite,
    Restrict,
    StepClipping,
    VariableClipping,
)


def _apply(rule, parameters, grads):
    tensors = list(parameters.values())
    with torch.no_grad():
        steps = rule.compute_steps(tensors, [g.clone() for g in grads])
        torch._foreach_sub_(tensors, steps)
    return steps


def test_hyperparameters_and_buffers_carry_roles():
    rule = Adam()
    rule.initialize(OrderedDict(w=torch.zeros(2, 3)))
    for value in rule.hyperparameters.values():
        assert value.dim() == 0 and has_roles(value, [ALGORITHM_HYPERPARAMETER])
    assert set(rule.buffers) == {"mean", "variance"}
    assert has_roles(rule.buffers["mean"]["w"], [ALGORITHM_BUFFER])
    assert rule.buffers["mean"]["w"].shape == (2, 3)


def test_annealing_a_hyperparameter_in_place_changes_the_steps():
    rule = Momentum(learning_rate=0.1, momentum=0.0)
    params = OrderedDict(w=torch.zeros(1))
    rule.initialize(params)
    assert _apply(rule, params, [torch.ones(1)])[0].item() == pytest.approx(0.1)
    rule.learning_rate.fill_(0.01)
    assert _apply(rule, params, [torch.ones(1)])[0].item() == pytest.approx(0.01)
    assert rule.hyperparameters == OrderedDict([("learning_rate", rule.learning_rate), ("momentum", rule.momentum)])


def test_shared_hyperparameter_tensor():
    learning_rate = torch.tensor(0.1, dtype=torch.float64)
    first, second = Scale(learning_rate), Scale(learning_rate)
    learning_rate.fill_(0.3)
    assert first.learning_rate is second.learning_rate and first.learning_rate.item() == pytest.approx(0.3)


def test_step_clipping_is_global_and_leaves_small_steps_alone():
    rule = StepClipping(threshold=5.0)
    rule.initialize(OrderedDict(a=torch.zeros(2), b=torch.zeros(1)))
    small = rule.compute_steps([torch.zeros(2), torch.zeros(1)], [torch.tensor([1.0, 2.0]), torch.tensor([2.0])])
    assert torch.equal(small[0], torch.tensor([1.0, 2.0])) and torch.equal(small[1], torch.tensor([2.0]))
    big = rule.compute_steps([torch.zeros(2), torch.zeros(1)], [torch.tensor([6.0, 0.0]), torch.tensor([8.0])])
    torch.testing.assert_close(torch.cat(big), torch.tensor([3.0, 0.0, 4.0]))
    assert StepClipping().compute_steps([torch.zeros(1)], [torch.full((1,), 1e9)])[0].item() == 1e9


def test_variable_clipping_per_column_matches_hand_computation():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(4, 3, generator=generator) * torch.tensor([3.0, 0.2, 3.0])
    gradient = torch.randn(4, 3, generator=generator)
    params = OrderedDict(w=weight.clone())
    rule = CompositeRule([Scale(0.1), VariableClipping(2.0, axis=0)])
    rule.initialize(params)
    _apply(rule, params, [gradient])
    updated = weight - 0.1 * gradient
    norms = updated.norm(dim=0, keepdim=True)
    expected = torch.where(norms > 2.0, updated * 2.0 / norms, updated)
    torch.testing.assert_close(params["w"], expected)
    assert (params["w"].norm(dim=0) <= 2.0 + 1e-6).all() and (norms > 2.0).any() and (norms < 2.0).any()


def test_variable_clipping_whole_tensor_and_bad_axis():
    params = OrderedDict(w=torch.zeros(2))
    rule = VariableClipping(1.0)
    rule.initialize(params)
    _apply(rule, params, [torch.tensor([-3.0, -4.0])])
    torch.testing.assert_close(params["w"], torch.tensor([0.6, 0.8]))
    bad = VariableClipping(1.0, axis=2)
    bad.initialize(params)
    with pytest.raises(ValueError, match="axis"):
        bad.compute_steps([params["w"]], [torch.ones(2)])


def test_remove_not_finite_is_per_parameter():
    params = OrderedDict(a=torch.full((2,), 4.0), b=torch.full((2,), 4.0))
    rule = RemoveNotFinite(scaler=0.25)
    rule.initialize(params)
    _apply(rule, params, [torch.tensor([1.0, float("inf")]), torch.tensor([1.0, 1.0])])
    torch.testing.assert_close(params["a"], torch.full((2,), 1.0))  # scaler * parameter
    torch.testing.assert_close(params["b"], torch.full((2,), 3.0))  # finite step applied
    unchanged = OrderedDict(w=torch.full((1,), 2.0))
    default = RemoveNotFinite()
    default.initialize(unchanged)
    _apply(default, unchanged, [torch.tensor([float("nan")])])
    assert unchanged["w"].item() == 2.0


def test_restrict_by_filter_name_and_tensor():
    params = OrderedDict(w=torch.zeros(2, 2), b=torch.zeros(2))
    by_filter = Restrict(Scale(0.5), lambda tensors: [t for t in tensors if t.dim() == 2])
    by_tensor = Restrict(Scale(0.5), [params["w"]])
    by_name = Restrict(Scale(0.5), ["w"])
    for rule in (by_filter, by_tensor, by_name):
        rule.initialize(params)
        steps = rule.compute_steps(list(params.values()), [torch.ones(2, 2), torch.ones(2)])
        assert torch.equal(steps[0], torch.full((2, 2), 0.5)) and torch.equal(steps[1], torch.ones(2))
    with pytest.raises(ValueError, match="not among"):
        Restrict(Scale(), ["nope"]).initialize(params)
    with pytest.raises(ValueError, match="none"):
        Restrict(Scale(), lambda tensors: []).initialize(params)


def test_gradient_accumulation_equals_sgd_on_mean_gradient():
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, generator=generator) for _ in range(6)]
    params = OrderedDict(w=torch.zeros(3))
    rule = GradientAccumulation(3, Scale(0.1))
    rule.initialize(params)
    history = []
    for g in grads:
        _apply(rule, params, [g])
        history.append(params["w"].clone())
    expected_first = -0.1 * (grads[0] + grads[1] + grads[2]) / 3
    expected_second = expected_first - 0.1 * (grads[3] + grads[4] + grads[5]) / 3
    assert torch.equal(history[0], torch.zeros(3)) and torch.equal(history[1], torch.zeros(3))
    torch.testing.assert_close(history[2], expected_first)
    torch.testing.assert_close(history[3], expected_first)
    torch.testing.assert_close(history[5], expected_second)


def test_gradient_accumulation_fused_path_equals_steps_path(problem):
    results = []
    for fused in (False, True):
        params = problem.make_parameters()
        rule = GradientAccumulation(3, Adam(0.05))
        rule.initialize(params)
        problem.run_rule(rule, params, 10, fused=fused)
        results.append(params)
    problem.assert_close(results[1], results[0], tol=1e-12)


def test_gradient_accumulation_moves_the_inner_state_once_per_cycle():
    params = OrderedDict(w=torch.zeros(2))
    inner = Adam(0.1)
    rule = GradientAccumulation(4, inner)
    rule.initialize(params)
    for _ in range(8):
        _apply(rule, params, [torch.ones(2)])
    assert inner.time == 2 and rule.count == 0
    with pytest.raises(ValueError, match="num_batches"):
        GradientAccumulation(0)


def test_adadelta_and_adam_validate_their_arguments():
    with pytest.raises(ValueError, match="decay_rate"):
        AdaDelta(decay_rate=1.5)
    with pytest.raises(ValueError, match="beta1"):
        Adam(beta1=1.0)
    with pytest.raises(ValueError, match="threshold"):
        StepClipping(-1.0)
