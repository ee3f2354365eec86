"""The backend protocol, core's cpu backend and selection through select_backend."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks import hookimpl
from blocks.backends import Backend, CPUBackend, LossScaler, available_backends, get_backend
from blocks.config import config


def test_auto_and_cpu_select_core_cpu_backend(plugin_host):
    assert isinstance(get_backend("auto"), CPUBackend)
    assert isinstance(get_backend("cpu"), CPUBackend)
    assert available_backends()["cpu"]["available"] is True


def test_device_comes_from_configuration(plugin_host, monkeypatch):
    monkeypatch.setenv("BLOCKS_DEVICE", "cpu")
    assert get_backend().device.type == "cpu"
    monkeypatch.setenv("BLOCKS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="no backend serves device 'tpu'.*cpu \\(available\\)"):
        get_backend()
    with config.override(device="cpu"):  # code beats environment
        assert get_backend().device.type == "cpu"


def test_unknown_cuda_request_says_how_to_get_it(plugin_host):
    with pytest.raises(ValueError, match="install blocks-gpu-cuda"):
        get_backend("cuda:0")


class FakeAccelerator(Backend):
    """A backend registered by a test plugin (computes on the CPU)."""

    name = "fake"

    def __init__(self, device="cpu", **kw):
        super().__init__("cpu", **kw)

    @classmethod
    def is_available(cls):
        return True

    @classmethod
    def devices(cls):
        return ["fake:0"]


class FakePlugin:
    @hookimpl
    def register_backends(self, register):
        register("fake", FakeAccelerator)

    @hookimpl
    def select_backend(self, requested, available):
        return "fake" if requested in {"auto", "fake"} else None


def test_plugin_backend_wins_auto_and_falls_back_for_cpu(register_plugin):
    register_plugin(FakePlugin(), "fake-plugin")
    assert isinstance(get_backend("auto"), FakeAccelerator)
    assert isinstance(get_backend("cpu"), CPUBackend)  # the plugin declines, core serves cpu
    assert available_backends()["fake"] == {
        "plugin": "fake-plugin 0",
        "available": True,
        "devices": ["fake:0"],
        "error": "",
    }


def test_place_batch_casts_floats_to_floatx_and_keeps_integers():
    backend = CPUBackend(floatX="float64")
    batch = backend.place_batch({"x": numpy.ones((2, 3), dtype="float32"), "y": numpy.arange(2, dtype="int64")})
    assert batch["x"].dtype == torch.float64 and batch["y"].dtype == torch.int64
    with pytest.raises(ValueError, match="ragged"):
        backend.place_batch({"x": numpy.array([numpy.ones(2), numpy.ones(3)], dtype=object)})


def test_place_module_and_tensors():
    backend = CPUBackend(floatX="float64")
    module = backend.place_module(torch.nn.Linear(2, 2))
    assert module.weight.dtype == torch.float64
    buffers = [torch.zeros(2)]
    backend.place_tensors(buffers)
    assert buffers[0].device.type == "cpu"


def test_cpu_backend_refuses_fp16_and_bad_settings():
    with pytest.raises(ValueError, match="fp16"):
        CPUBackend(precision="fp16")
    with pytest.raises(ValueError, match="floatX"):
        CPUBackend(floatX="float8")
    with pytest.raises(ValueError, match="precision"):
        CPUBackend(precision="int8")


def test_bf16_autocast_policy_on_cpu():
    backend = CPUBackend(precision="bf16")
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with backend.autocast():
        assert (a @ b).dtype == torch.bfloat16
    with CPUBackend().autocast():
        assert (a @ b).dtype == torch.float32


def test_loss_scaler_skips_overflow_and_grows():
    scaler = LossScaler(init_scale=4.0, growth_interval=2)
    grads = [torch.tensor([8.0, 4.0])]
    assert scaler.unscale_(grads)
    assert torch.equal(grads[0], torch.tensor([2.0, 1.0]))
    scaler.update()
    assert scaler.scale == 4.0
    scaler.unscale_([torch.tensor([1.0])])
    scaler.update()
    assert scaler.scale == 8.0  # two good steps in a row
    assert not scaler.unscale_([torch.tensor([float("nan")])])
    scaler.update()
    assert scaler.scale == 4.0
    state = scaler.state_dict()
    other = LossScaler()
    other.load_state_dict(state)
    assert other.state_dict() == state


def test_loss_scaler_matches_unscaled_gradients():
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    x = torch.randn(5, 3)
    (x @ w).pow(2).mean().backward()
    reference = w.grad.clone()
    w.grad = None
    scaler = LossScaler(init_scale=1024.0)
    scaler.scale_loss((x @ w).pow(2).mean()).backward()
    assert scaler.unscale_([w.grad])
    torch.testing.assert_close(w.grad, reference)
