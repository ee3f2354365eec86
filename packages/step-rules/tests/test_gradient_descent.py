"""The plugin's rules driving GradientDescent on an MLP equal a hand-written torch loop."""

from __future__ import annotations

import numpy
import torch
import torch.nn.functional as F

from blocks.algorithms import CompositeRule, GradientDescent
from blocks.bricks import MLP, Identity, Rectifier
from blocks.graph import lvector, matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks_step_rules import Adam, GradientAccumulation, Momentum, StepClipping


def _setup(step_rule):
    mlp = MLP([Rectifier(), Identity()], [5, 16, 4], weights_init=IsotropicGaussian(0.3), biases_init=Constant(0.0),
              seed=3)
    mlp.initialize()
    cost = F.cross_entropy(mlp.apply(matrix("features")), lvector("targets"))
    algorithm = GradientDescent(cost, step_rule=step_rule)
    algorithm.initialize()
    hand = [p.detach().clone().requires_grad_(True) for p in algorithm.parameters]
    return algorithm, hand


def _batches(count):
    rng = numpy.random.default_rng(0)
    return [{"features": rng.standard_normal((8, 5)).astype("float32"), "targets": rng.integers(0, 4, 8)}
            for _ in range(count)]


def _hand_cost(parameters, batch):
    w1, b1, w2, b2 = parameters
    x, y = torch.as_tensor(batch["features"]), torch.as_tensor(batch["targets"])
    return F.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, y)


def test_clipped_adam_equals_clip_grad_norm_and_torch_adam():
    algorithm, hand = _setup(CompositeRule([StepClipping(0.5), Adam(0.01, epsilon=0.0)]))
    optimizer = torch.optim.Adam(hand, lr=0.01, eps=0.0)
    for batch in _batches(40):
        algorithm.process_batch(batch)
        optimizer.zero_grad()
        _hand_cost(hand, batch).backward()
        torch.nn.utils.clip_grad_norm_(hand, 0.5)
        optimizer.step()
    for mine, theirs in zip(algorithm.parameters, hand):
        torch.testing.assert_close(mine.detach(), theirs.detach(), rtol=1e-5, atol=1e-5)


def test_gradient_accumulation_equals_momentum_on_the_mean_gradient_of_k_batches():
    algorithm, hand = _setup(GradientAccumulation(4, Momentum(0.1, 0.9)))
    optimizer = torch.optim.SGD(hand, lr=0.1, momentum=0.9)
    batches = _batches(16)
    for start in range(0, 16, 4):
        before = [p.detach().clone() for p in algorithm.parameters]
        for index, batch in enumerate(batches[start:start + 4]):
            algorithm.process_batch(batch)
            if index < 3:  # accumulation-only batches leave the parameters untouched
                assert all(torch.equal(p, b) for p, b in zip(algorithm.parameters, before))
        optimizer.zero_grad()
        (sum(_hand_cost(hand, b) for b in batches[start:start + 4]) / 4).backward()
        optimizer.step()
    for mine, theirs in zip(algorithm.parameters, hand):
        torch.testing.assert_close(mine.detach(), theirs.detach(), rtol=1e-5, atol=1e-6)


def test_max_norm_on_weights_chosen_by_a_variable_filter():
    from blocks.algorithms import Scale
    from blocks.filter import VariableFilter
    from blocks.roles import WEIGHT
    from blocks_step_rules import Restrict, VariableClipping

    rule = CompositeRule([Scale(0.5), Restrict(VariableClipping(0.4, axis=0), VariableFilter(roles=[WEIGHT]))])
    algorithm, _ = _setup(rule)
    restricted = rule.components[1]
    assert restricted.step_rule.parameter_names == ["/mlp/linear_0.W", "/mlp/linear_1.W"]
    for batch in _batches(10):
        algorithm.process_batch(batch)
    weights = [p for name, p in algorithm.parameter_dict.items() if name.endswith(".W")]
    biases = [p for name, p in algorithm.parameter_dict.items() if name.endswith(".b")]
    for weight in weights:
        assert (weight.detach().norm(dim=0) <= 0.4 + 1e-5).all()
    assert any((b.detach().abs() > 0).any() for b in biases)
