"""Shared helpers of the step-rule tests: a deterministic training problem and two drivers."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import pytest
import torch

SHAPES = OrderedDict([("w1", (5, 4)), ("b1", (4,)), ("w2", (3, 2, 2)), ("s", ())])


def make_parameters(dtype: torch.dtype = torch.float64, seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    generator = torch.Generator().manual_seed(seed)
    return OrderedDict((name, torch.randn(shape, generator=generator, dtype=dtype)) for name, shape in SHAPES.items())


def gradient(parameter: torch.Tensor, step: int, index: int) -> torch.Tensor:
    """A gradient that depends on the current value (so trajectories feed back) and on the step."""
    generator = torch.Generator().manual_seed(1000 * step + index)
    noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
    return 2.0 * (parameter - 0.5) + noise


def run_rule(rule, parameters, steps: int, start: int = 0, fused: bool = False):
    """Train ``parameters`` (in place) with a Blocks step rule: p -= step.

    ``fused`` goes through ``rule.update_parameters`` (GradientDescent's path when the steps are not
    monitored) instead of ``compute_steps`` + ``_foreach_sub_``.
    """
    tensors = list(parameters.values())
    with torch.no_grad():
        for t in range(start, start + steps):
            grads = [gradient(p, t, i) for i, p in enumerate(tensors)]
            if fused:
                rule.update_parameters(tensors, grads)
            else:
                torch._foreach_sub_(tensors, rule.compute_steps(tensors, grads))
    return parameters


def run_optimizer(factory: Callable, parameters, steps: int, before_step: Callable | None = None):
    """Train copies of ``parameters`` with a torch.optim optimizer; returns name -> tensor."""
    leaves = OrderedDict((name, torch.nn.Parameter(value.clone())) for name, value in parameters.items())
    optimizer = factory(list(leaves.values()))
    for t in range(steps):
        for i, p in enumerate(leaves.values()):
            p.grad = gradient(p.detach(), t, i)
        if before_step is not None:
            before_step(list(leaves.values()))
        optimizer.step()
    return OrderedDict((name, p.detach()) for name, p in leaves.items())


def assert_close(actual, expected, tol: float = 1e-6) -> None:
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=tol, atol=tol, msg=lambda m: f"{name}: {m}")


@pytest.fixture
def problem():
    """The helpers above, as a fixture (test modules are imported with importlib mode)."""

    class Problem:
        make_parameters = staticmethod(make_parameters)
        gradient = staticmethod(gradient)
        run_rule = staticmethod(run_rule)
        run_optimizer = staticmethod(run_optimizer)
        assert_close = staticmethod(assert_close)

    return Problem
