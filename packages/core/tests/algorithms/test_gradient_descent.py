"""GradientDescent on the annotated graph, against hand-written torch loops."""

from __future__ import annotations

import copy

import numpy
import pytest
import torch
import torch.nn.functional as F

from blocks.algorithms import CompositeRule, GradientDescent, Scale, TorchOptim
from blocks.bricks import MLP, Brick, Identity, Tanh, application
from blocks.graph import ComputationGraph, as_variable, lvector, matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import BATCH_NORM_POPULATION_MEAN


def _batches(count, seed=0, size=6):
    rng = numpy.random.default_rng(seed)
    return [
        {
            "features": rng.standard_normal((size, 4)).astype("float32"),
            "targets": rng.integers(0, 3, size=size),
        }
        for _ in range(count)
    ]


def _mlp_cost(seed=1):
    torch.manual_seed(seed)
    mlp = MLP([Tanh(), Identity()], [4, 8, 3], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1),
              seed=seed)
    mlp.initialize()
    x, y = matrix("features"), lvector("targets")
    cost = F.cross_entropy(mlp.apply(x), y)
    cost.name = "cost"
    return mlp, cost


def _hand_parameters(algorithm):
    return [p.detach().clone().requires_grad_(True) for p in algorithm.parameters]


def _hand_forward(parameters, batch):
    w1, b1, w2, b2 = parameters
    x = torch.as_tensor(batch["features"])
    y = torch.as_tensor(batch["targets"])
    return F.cross_entropy(torch.tanh(x @ w1 + b1) @ w2 + b2, y)


def _hand_loop(parameters, optimizer, batches, clip=None):
    costs = []
    for batch in batches:
        optimizer.zero_grad()
        cost = _hand_forward(parameters, batch)
        cost.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip)
        optimizer.step()
        costs.append(cost.item())
    return costs


def test_parameters_default_to_the_graph_with_hierarchical_names():
    mlp, cost = _mlp_cost()
    algorithm = GradientDescent(cost)
    assert list(algorithm.parameter_dict) == ["/mlp/linear_0.W", "/mlp/linear_0.b", "/mlp/linear_1.W",
                                              "/mlp/linear_1.b"]
    assert [id(p) for p in algorithm.parameters] == [id(p) for p in ComputationGraph([cost]).parameters]
    assert isinstance(algorithm.step_rule, Scale) and algorithm.step_rule.learning_rate.item() == 1.0


@pytest.mark.parametrize("rule", ["sgd", "torch_adam", "composite"])
def test_mlp_training_equals_a_hand_written_torch_loop(rule):
    mlp, cost = _mlp_cost()
    if rule == "sgd":
        step_rule, make_optimizer, clip = Scale(0.1), (lambda ps: torch.optim.SGD(ps, lr=0.1)), None
    elif rule == "torch_adam":
        step_rule, make_optimizer, clip = TorchOptim("Adam", lr=0.01), (lambda ps: torch.optim.Adam(ps, lr=0.01)), None
    else:
        step_rule = CompositeRule([Scale(0.5), Scale(0.2)])
        make_optimizer, clip = (lambda ps: torch.optim.SGD(ps, lr=0.1)), None
    algorithm = GradientDescent(cost, step_rule=step_rule)
    hand = _hand_parameters(algorithm)
    algorithm.add_monitored([cost])
    algorithm.initialize()
    batches = _batches(30)
    costs = []
    for batch in batches:
        algorithm.process_batch(batch)
        costs.append(algorithm.monitored_values["cost"].item())
    expected_costs = _hand_loop(hand, make_optimizer(hand), batches, clip)
    numpy.testing.assert_allclose(costs, expected_costs, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(algorithm.parameters, hand):
        torch.testing.assert_close(mine.detach(), theirs.detach(), rtol=1e-5, atol=1e-6)
    assert costs[-1] < costs[0]
    assert all(p.grad is None for p in algorithm.parameters)


def test_monitored_values_are_pre_update_and_norms_match_hand_computation():
    mlp, cost = _mlp_cost()
    algorithm = GradientDescent(cost, step_rule=Scale(0.3))
    algorithm.add_monitored([cost, algorithm.total_gradient_norm, algorithm.total_step_norm])
    hand = _hand_parameters(algorithm)
    algorithm.initialize()
    batch = _batches(1)[0]
    expected_cost = _hand_forward(hand, batch)
    gradients = torch.autograd.grad(expected_cost, hand)
    expected_norm = torch.sqrt(sum((g**2).sum() for g in gradients))
    algorithm.process_batch(batch)
    values = algorithm.monitored_values
    assert set(values) == {"cost", "total_gradient_norm", "total_step_norm"}
    torch.testing.assert_close(values["cost"], expected_cost.detach())
    torch.testing.assert_close(values["total_gradient_norm"], expected_norm)
    torch.testing.assert_close(values["total_step_norm"], 0.3 * expected_norm)
    assert not values["cost"].requires_grad


def test_keep_gradients_exposes_the_raw_gradients():
    mlp, cost = _mlp_cost()
    algorithm = GradientDescent(cost, step_rule=Scale(0.5), keep_gradients=True)
    hand = _hand_parameters(algorithm)
    algorithm.initialize()
    batch = _batches(1)[0]
    expected = torch.autograd.grad(_hand_forward(hand, batch), hand)
    algorithm.process_batch(batch)
    assert list(algorithm.gradients) == algorithm.parameters
    for parameter, gradient in zip(algorithm.parameters, expected):
        torch.testing.assert_close(algorithm.gradients[parameter], gradient)  # not scaled by the rule


def test_norms_are_not_computed_unless_asked():
    mlp, cost = _mlp_cost()
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))
    algorithm.initialize()
    algorithm.process_batch(_batches(1)[0])
    assert algorithm.monitored_values == {}


def test_sources_missing_always_raise_and_unused_follow_the_policy():
    mlp, cost = _mlp_cost()
    batch = _batches(1)[0]
    strict = GradientDescent(cost)
    strict.initialize()
    with pytest.raises(ValueError, match=r"lacks the source\(s\) \['targets'\]"):
        strict.process_batch({"features": batch["features"]})
    with pytest.raises(ValueError, match="extra"):
        strict.process_batch({**batch, "extra": numpy.zeros(2)})
    warn = GradientDescent(cost, on_unused_sources="warn", step_rule=Scale(0.0))
    warn.initialize()
    with pytest.warns(UserWarning, match="extra"):
        warn.process_batch({**batch, "extra": numpy.zeros(2)})
    ignore = GradientDescent(cost, on_unused_sources="ignore", step_rule=Scale(0.0))
    ignore.initialize()
    ignore.process_batch({**batch, "extra": numpy.zeros(2)})
    with pytest.raises(ValueError, match="lacks"):
        ignore.process_batch({"extra": 1, "features": batch["features"]})
    with pytest.raises(ValueError, match="mapping"):
        strict.process_batch((batch["features"], batch["targets"]))
    with pytest.raises(ValueError, match="on_unused_sources"):
        GradientDescent(cost, on_unused_sources="sometimes")


def test_state_dict_round_trip_mid_training_continues_identically():
    batches = _batches(20)
    mlp, cost = _mlp_cost()
    algorithm = GradientDescent(cost, step_rule=TorchOptim("Adam", lr=0.01))
    algorithm.initialize()
    for batch in batches[:10]:
        algorithm.process_batch(batch)
    state = copy.deepcopy(algorithm.state_dict())
    values = {id(p): p.detach().clone() for p in algorithm.parameters}
    snapshot = [values[id(p)] for p in algorithm.parameters]
    for batch in batches[10:]:
        algorithm.process_batch(batch)

    mlp2, cost2 = _mlp_cost(seed=7)  # different initial values, overwritten below
    resumed = GradientDescent(cost2, step_rule=TorchOptim("Adam", lr=0.01))
    assert resumed.state_dict() == {"parameter_names": state["parameter_names"], "step_rule": None}
    resumed.load_state_dict(state)  # before initialize: applied by initialize
    with torch.no_grad():
        for p, value in zip(resumed.parameters, snapshot):
            p.copy_(value)
    resumed.initialize()
    for batch in batches[10:]:
        resumed.process_batch(batch)
    for mine, theirs in zip(algorithm.parameters, resumed.parameters):
        assert torch.equal(mine, theirs)
    assert state["parameter_names"] == list(algorithm.parameter_dict)


class _RunningMean(Brick):
    """Keeps a running mean of its input in a buffer, as batch normalization's population statistics."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.new_buffer("population_mean", torch.zeros(dim), BATCH_NORM_POPULATION_MEAN)

    @application(inputs=["x"], outputs=["y"])
    def apply(self, x, application_call):
        mean = as_variable(self.population_mean)  # read the buffer in the graph, not its value at build time
        application_call.add_update(self.population_mean, 0.5 * mean + 0.5 * x.mean(0))
        return x


def test_graph_updates_are_applied_after_each_step():
    x = matrix("features")
    running = _RunningMean(4)
    weight = torch.nn.Parameter(torch.ones(4))
    cost = (running.apply(x) * weight).sum()
    algorithm = GradientDescent(cost, parameters=[weight], step_rule=Scale(0.1))
    algorithm.initialize()
    first, second = numpy.ones((2, 4), "float32"), numpy.full((2, 4), 3.0, "float32")
    algorithm.process_batch({"features": first})
    torch.testing.assert_close(running.population_mean, torch.full((4,), 0.5))
    algorithm.process_batch({"features": second})
    torch.testing.assert_close(running.population_mean, torch.full((4,), 1.75))
    torch.testing.assert_close(weight.detach(), torch.full((4,), 1.0 - 0.1 * 2 - 0.1 * 6))


def test_named_parameters_and_errors():
    mlp, cost = _mlp_cost()
    w = mlp.linear_transformations[0].W
    algorithm = GradientDescent(cost, parameters={"first": w})
    algorithm.initialize()
    assert algorithm.step_rule.parameter_names == ["first"]
    algorithm.add_monitored([cost, algorithm.total_gradient_norm])  # after initialize: compiled again
    algorithm.process_batch(_batches(1)[0])
    assert set(algorithm.monitored_values) == {"cost", "total_gradient_norm"}
    with pytest.raises(ValueError, match="Variable"):
        GradientDescent(torch.zeros(()))
    with pytest.raises(ValueError, match="StepRule"):
        GradientDescent(cost, step_rule=torch.optim.SGD)
    vector_cost = GradientDescent((matrix("features") @ w).sum(0), parameters=[w])
    vector_cost.initialize()
    with pytest.raises(ValueError, match="scalar"):
        vector_cost.process_batch({"features": numpy.ones((2, 4), "float32")})
    unused = torch.nn.Parameter(torch.zeros(2))
    bad = GradientDescent(cost, parameters=[w, unused])
    bad.initialize()
    with pytest.raises(ValueError, match="does not depend"):
        bad.process_batch(_batches(1)[0])
    other = GradientDescent(cost)
    with pytest.raises(ValueError, match="needs a name"):
        other.add_monitored([(cost * 2).sum()])
    twin = cost * 1
    twin.name = "cost"
    with pytest.raises(ValueError, match="named 'cost'"):
        other.add_monitored([cost, twin])
