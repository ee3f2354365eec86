"""Core step rules: the StepRule protocol, Scale, CompositeRule, the TorchOptim adapter, registration."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch

import blocks.plugins
from blocks.algorithms import CompositeRule, Scale, StepRule, TorchOptim
from blocks.roles import ALGORITHM_BUFFER, ALGORITHM_HYPERPARAMETER, has_roles


def _parameters(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return OrderedDict(
        w=torch.randn(4, 3, generator=generator, dtype=torch.float64),
        b=torch.randn(3, generator=generator, dtype=torch.float64),
    )


def _gradient(parameter, step, index):
    generator = torch.Generator().manual_seed(100 * step + index)
    return parameter - 0.3 + torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)


def _run_rule(rule, parameters, steps, start=0):
    tensors = list(parameters.values())
    with torch.no_grad():
        for t in range(start, start + steps):
            grads = [_gradient(p, t, i) for i, p in enumerate(tensors)]
            torch._foreach_sub_(tensors, rule.compute_steps(tensors, grads))


def _run_optimizer(parameters, optimizer, steps):
    for t in range(steps):
        for i, p in enumerate(parameters):
            p.grad = _gradient(p.detach(), t, i)
        optimizer.step()


class Velocity(StepRule):
    """A per-parameter rule with a buffer: exercises the default compute_steps path."""

    buffer_names = ("velocity",)

    def __init__(self, momentum=0.5):
        super().__init__()
        self.momentum = self.add_hyperparameter("momentum", momentum)

    def compute_step(self, parameter, previous_step):
        velocity = self.buffer("velocity", parameter)
        velocity.mul_(self.momentum.item()).add_(previous_step)
        return velocity.clone()


def test_per_parameter_default_path_matches_sgd_momentum():
    params = _parameters()
    rule = CompositeRule([Scale(0.1), Velocity(0.5)])
    rule.initialize(params)
    _run_rule(rule, params, 100)
    leaves = [torch.nn.Parameter(p.clone()) for p in _parameters().values()]
    _run_optimizer(leaves, torch.optim.SGD(leaves, lr=0.1, momentum=0.5), 100)
    for mine, theirs in zip(params.values(), leaves):
        torch.testing.assert_close(mine, theirs.detach(), rtol=1e-6, atol=1e-6)


def test_scale_is_sgd_and_hyperparameter_has_role():
    params = _parameters()
    rule = Scale(0.05)
    rule.initialize(params)
    _run_rule(rule, params, 100)
    leaves = [torch.nn.Parameter(p.clone()) for p in _parameters().values()]
    _run_optimizer(leaves, torch.optim.SGD(leaves, lr=0.05), 100)
    for mine, theirs in zip(params.values(), leaves):
        torch.testing.assert_close(mine, theirs.detach(), rtol=1e-6, atol=1e-6)
    assert has_roles(rule.learning_rate, [ALGORITHM_HYPERPARAMETER])
    assert rule.learning_rate.dim() == 0


def test_buffers_are_keyed_by_parameter_name_with_role():
    rule = Velocity()
    rule.initialize(_parameters())
    assert list(rule.buffers["velocity"]) == ["w", "b"]
    assert has_roles(rule.buffers["velocity"]["w"], [ALGORITHM_BUFFER])
    state = rule.state_dict()
    assert set(state) == {"hyperparameters", "buffers", "parameter_names"}
    assert state["parameter_names"] == ["w", "b"]


def test_rule_must_override_a_compute_method():
    with pytest.raises(TypeError, match="compute_step"):

        class Empty(StepRule):
            pass


def test_composite_rejects_non_rules_and_names_hyperparameters():
    with pytest.raises(ValueError, match="component 1"):
        CompositeRule([Scale(), object()])
    rule = CompositeRule([Scale(0.1), Velocity(0.9), Scale(0.5)])
    assert list(rule.hyperparameters) == ["0.learning_rate", "momentum", "2.learning_rate"]


def test_hyperparameter_validation():
    with pytest.raises(ValueError, match="learning_rate"):
        Scale("fast")
    with pytest.raises(ValueError, match="0-d"):
        Scale(torch.ones(2))


def test_initialize_validates_parameters():
    with pytest.raises(ValueError, match="OrderedDict"):
        Scale().initialize([torch.zeros(1)])
    with pytest.raises(ValueError, match="not a tensor"):
        Scale().initialize({"w": 1.0})


@pytest.mark.parametrize("mode", ["class", "name", "instance"])
def test_torch_optim_adapter_reproduces_the_optimizer(mode):
    params = _parameters()
    if mode == "class":
        rule = TorchOptim(torch.optim.Adam, lr=0.01)
    elif mode == "name":
        rule = TorchOptim("Adam", lr=0.01)
    else:
        trained = OrderedDict((k, torch.nn.Parameter(v)) for k, v in params.items())
        rule = TorchOptim(torch.optim.Adam(list(trained.values()), lr=0.01))
        params = trained
    rule.initialize(params)
    _run_rule(rule, params, 100)
    leaves = [torch.nn.Parameter(p.clone()) for p in _parameters().values()]
    _run_optimizer(leaves, torch.optim.Adam(leaves, lr=0.01), 100)
    for mine, theirs in zip(params.values(), leaves):
        torch.testing.assert_close(mine.detach(), theirs.detach(), rtol=1e-6, atol=1e-6)


def test_torch_optim_hyperparameters_are_synced():
    params = OrderedDict(w=torch.zeros(2))
    rule = TorchOptim(torch.optim.SGD, lr=0.1)
    rule.initialize(params)
    assert rule.learning_rate is rule.lr
    rule.learning_rate.fill_(0.5)
    steps = rule.compute_steps([params["w"]], [torch.ones(2)])
    torch.testing.assert_close(steps[0], torch.full((2,), 0.5))
    assert rule.optimizer.param_groups[0]["lr"] == 0.5


def test_torch_optim_state_round_trip_continues_identically():
    params = _parameters()
    rule = TorchOptim("AdamW", lr=0.01, weight_decay=0.1)
    rule.initialize(params)
    _run_rule(rule, params, 30)
    state = copy.deepcopy(rule.state_dict())
    assert set(state["buffers"]) >= {"exp_avg", "exp_avg_sq"} and set(state["buffers"]["exp_avg"]) == {"w", "b"}
    assert state["param_groups"][0]["params"] == ["w", "b"]
    snapshot = copy.deepcopy(params)
    _run_rule(rule, params, 30, start=30)
    resumed = TorchOptim("AdamW", lr=0.01, weight_decay=0.1)
    resumed.initialize(snapshot)
    resumed.load_state_dict(state)
    _run_rule(resumed, snapshot, 30, start=30)
    for key in params:
        assert torch.equal(params[key], snapshot[key])


def test_torch_optim_errors():
    with pytest.raises(ValueError, match="unknown torch.optim optimizer"):
        TorchOptim("Adamm")
    with pytest.raises(ValueError, match="invalid arguments"):
        TorchOptim(torch.optim.SGD, learning_rate=0.1)
    with pytest.raises(ValueError, match="closure"):
        TorchOptim(torch.optim.LBFGS)
    other = torch.nn.Parameter(torch.zeros(2))
    rule = TorchOptim(torch.optim.SGD([other], lr=0.1))
    with pytest.raises(ValueError, match="exactly the trained parameters"):
        rule.initialize(OrderedDict(w=torch.nn.Parameter(torch.zeros(2))))


def test_builtin_rules_are_registered(plugin_host):
    assert blocks.plugins.resolve("step_rules", "scale") is Scale
    assert blocks.plugins.resolve("step_rules", "composite") is CompositeRule
    assert blocks.plugins.resolve("step_rules", "torch_optim") is TorchOptim


def test_update_parameters_equals_compute_steps_then_subtract():
    results = []
    for fused in (False, True):
        params = _parameters()
        rule = CompositeRule([Velocity(0.5), Scale(0.1)])
        rule.initialize(params)
        tensors = list(params.values())
        with torch.no_grad():
            for t in range(20):
                grads = [_gradient(p, t, i) for i, p in enumerate(tensors)]
                if fused:
                    rule.update_parameters(tensors, grads)  # Scale's add_(alpha=-lr) ends the chain
                else:
                    torch._foreach_sub_(tensors, rule.compute_steps(tensors, grads))
        results.append(params)
    for key in results[0]:
        torch.testing.assert_close(results[1][key], results[0][key], rtol=1e-12, atol=1e-12)


def test_step_rules_examples_run():
    import doctest

    import blocks.algorithms.step_rules as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_buffer_list_is_the_state_and_names_a_missing_buffer():
    class Count(StepRule):
        buffer_names = ("count",)

        def compute_steps(self, parameters, previous_steps):
            torch._foreach_add_(self.buffer_list("count"), 1.0)
            return previous_steps

    rule = Count()
    with pytest.raises(ValueError, match="no buffer 'count'.*initialize"):
        rule.buffer_list("count")
    rule.initialize(OrderedDict(w=torch.zeros(2)))
    rule.compute_steps([torch.zeros(2)], [torch.ones(2)])
    assert rule.state_dict()["buffers"]["count"]["w"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="no buffer 'velocity'"):
        rule.buffer_list("velocity")
