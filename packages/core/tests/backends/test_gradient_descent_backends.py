"""GradientDescent on a backend: placement, autocast, fp16-style loss scaling that composes with step rules."""

from __future__ import annotations

import contextlib

import pytest
import torch

from blocks.algorithms import CompositeRule, GradientDescent, Scale
from blocks.backends import CPUBackend, LossScaler
from blocks.graph import matrix


class ScaledCPUBackend(CPUBackend):
    """The CPU backend with fp16's loss-scaling policy (autocast off), to test the scaling path."""

    def __init__(self, init_scale: float = 1024.0):
        super().__init__(floatX="float64")
        self.init_scale = init_scale

    def make_loss_scaler(self):
        return LossScaler(init_scale=self.init_scale, growth_interval=3)

    def autocast(self):
        return contextlib.nullcontext()


def _problem(scale_target: float = 1.0):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3, 1, dtype=torch.float64))
    x = matrix("features", dtype="float64")
    cost = ((x @ w) ** 2).mean() * scale_target
    return w, cost


def _batches(n=6):
    gen = torch.Generator().manual_seed(1)
    return [{"features": torch.randn(5, 3, generator=gen, dtype=torch.float64)} for _ in range(n)]


def test_loss_scaling_gives_the_unscaled_training(plugin_host):
    w_ref, cost_ref = _problem()
    reference = GradientDescent(cost_ref, parameters=[w_ref], step_rule=Scale(0.1), backend="cpu")
    w, cost = _problem()
    scaled = GradientDescent(cost, parameters=[w], step_rule=CompositeRule([Scale(0.1)]), backend=ScaledCPUBackend())
    reference.initialize()
    scaled.initialize()
    for batch in _batches():
        reference.process_batch(batch)
        scaled.process_batch(batch)
    # scales are powers of two: scaling and unscaling are exact in float64
    assert torch.equal(w, w_ref)
    assert scaled.loss_scaler.scale == 4096.0  # doubled after every 3 finite steps
    assert scaled.state_dict()["loss_scaler"] == {"scale": 4096.0, "good_steps": 0}


def test_non_finite_gradients_skip_the_step_and_back_off(plugin_host):
    w, cost = _problem(scale_target=1e300)  # the scaled loss overflows to inf
    algorithm = GradientDescent(cost, parameters=[w], step_rule=Scale(0.1), backend=ScaledCPUBackend())
    algorithm.initialize()
    before = w.detach().clone()
    algorithm.process_batch(_batches(1)[0])
    assert torch.equal(w.detach(), before), "a step with non-finite gradients must be skipped"
    assert algorithm.loss_scaler.scale == 512.0
    assert algorithm.monitored_values["loss_scale"].item() == 512.0


def test_bf16_autocast_on_cpu_trains(plugin_host):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(8, 1))
    x = matrix("features")
    cost = ((x @ w) - 1).pow(2).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost, parameters=[w], step_rule=Scale(0.05), backend=CPUBackend(precision="bf16"))
    algorithm.add_monitored([cost])
    algorithm.initialize()
    batch = {"features": torch.ones(4, 8)}
    algorithm.process_batch(batch)
    first = algorithm.monitored_values["cost"]
    assert first.dtype == torch.bfloat16  # the forward pass ran under autocast
    for _ in range(20):
        algorithm.process_batch(batch)
    assert algorithm.monitored_values["cost"] < first
    assert w.dtype == torch.float32  # parameters stay in full precision


def test_backend_from_configuration_and_errors(plugin_host, monkeypatch):
    w, cost = _problem()
    monkeypatch.setenv("BLOCKS_DEVICE", "cpu")
    algorithm = GradientDescent(cost, parameters=[w])
    algorithm.initialize()
    assert isinstance(algorithm.backend, CPUBackend)
    with pytest.raises(ValueError, match="no backend serves device 'cuda:3'"):
        GradientDescent(cost, parameters=[w], backend="cuda:3").initialize()
    with pytest.raises(ValueError, match="process group"):
        GradientDescent(cost, parameters=[w], distributed=True).initialize()
