"""blocks-gpu-cuda: registers everywhere, declines without CUDA, works with it."""

from __future__ import annotations

import numpy
import pytest
import torch

import blocks_cuda.plugin as cuda_plugin
from blocks.backends import CPUBackend, available_backends, get_backend

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def cuda_host(register_plugin):
    register_plugin(cuda_plugin, "blocks_cuda.plugin", distribution="blocks-gpu-cuda")


def test_registers_cuda_backend(cuda_host):
    assert "cuda" in available_backends()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_declines_without_cuda_and_never_initializes_it(cuda_host):
    assert cuda_plugin.select_backend(requested="auto", available=["cpu", "cuda"]) is None
    assert isinstance(get_backend("auto"), CPUBackend)
    assert available_backends()["cuda"]["available"] is False
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_backend("cuda")
    assert not torch.cuda.is_initialized()


def test_declines_requests_for_other_devices():
    assert cuda_plugin.select_backend(requested="cpu", available=["cpu", "cuda"]) is None
    assert cuda_plugin.select_backend(requested="auto", available=["cpu"]) is None


@pytest.mark.gpu
@requires_cuda
def test_cuda_backend_places_and_prefetches(cuda_host):
    from blocks_cuda.backend import CUDABackend

    backend = get_backend("auto")
    assert isinstance(backend, CUDABackend)
    # small batches are copied on the compute stream, large ones (>= SIDE_STREAM_BYTES) on the side stream
    for rows in (4, 1 << 16):
        batches = [{"x": numpy.full((rows, 3), i, dtype="float64"), "y": numpy.arange(rows)} for i in range(5)]
        seen = list(backend.prefetch(batches))
        assert [int(b["x"][0, 0].item()) for b in seen] == list(range(5))
        assert [int(b["x"][-1, -1].item()) for b in seen] == list(range(5))
        assert seen[0]["x"].device.type == "cuda" and seen[0]["x"].dtype == torch.float32
        assert int(seen[-1]["y"].sum()) == rows * (rows - 1) // 2
    assert backend.describe()["backend"] == "cuda"


@pytest.mark.gpu
@requires_cuda
def test_fp16_loss_scaling_and_bf16_autocast(cuda_host):
    backend = get_backend("cuda", precision="fp16")
    scaler = backend.make_loss_scaler()
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(0)).to(backend.device).requires_grad_(True)
    (reference,) = torch.autograd.grad((w @ w).pow(2).mean(), [w])  # float32
    # at the initial scale (2 ** 16) this float16 backward overflows: the scaler must find it, skip the step and
    # halve the scale until a step is finite, and the unscaled gradient is then the float32 one
    scales, finite = [], False
    for _ in range(24):
        w.grad = None
        with backend.autocast():
            loss = (w @ w).float().pow(2).mean()
        scaler.scale_loss(loss).backward()
        finite = scaler.unscale_([w.grad])
        scales.append(scaler.scale)
        scaler.update()
        if finite:
            break
    assert finite, f"no finite step at scales {scales}"
    assert scales == [2.0**16 * 0.5**i for i in range(len(scales))]
    torch.testing.assert_close(w.grad, reference, rtol=2e-2, atol=2e-2)
    with get_backend("cuda", precision="bf16").autocast():
        assert (w @ w).dtype == torch.bfloat16


@pytest.mark.gpu
@requires_cuda
def test_same_training_script_on_the_gpu(cuda_host):
    """Transparent GPU: GradientDescent places the model; compiled graphs accept host batches."""
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Softmax, Tanh
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.graph import ComputationGraph, lvector, matrix
    from blocks.initialization import Constant, IsotropicGaussian

    x, y = matrix("features"), lvector("targets")
    mlp = MLP([Tanh(), Softmax()], [4, 8, 2], weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
    algorithm = GradientDescent(cost, step_rule=Scale(0.1), backend="auto")
    algorithm.initialize()
    batch = {"features": numpy.ones((3, 4), dtype="float32"), "targets": numpy.array([0, 1, 0])}
    algorithm.process_batch(batch)
    assert all(p.device.type == "cuda" for p in algorithm.parameters)
    (value,) = ComputationGraph([cost]).compile()(batch)  # e.g. DataStreamMonitoring on a host stream
    assert value.device.type == "cuda"
