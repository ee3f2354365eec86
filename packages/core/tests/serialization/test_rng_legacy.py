"""Global random states survive a checkpoint; old Blocks checkpoints' parameters load by name."""

from __future__ import annotations

import io
import pickle
import random
import tarfile

import numpy as np
import pytest
import torch

from blocks.serialization import (
    Archive,
    CheckpointError,
    capture_rng_state,
    checkpoint_info,
    load_checkpoint,
    load_parameters,
    restore_rng_state,
    save_checkpoint,
)


def _draw():
    return random.random(), np.random.random(), torch.rand(1).item(), random.gauss(0, 1), np.random.normal()


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    np.random.normal()
    path = tmp_path / "r.tar"
    save_checkpoint(path, extra=capture_rng_state(), model={"w": torch.zeros(1)})
    expected = _draw()
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    restore_rng_state(load_checkpoint(path).extra)
    assert _draw() == expected


def test_restore_rejects_malformed_state():
    with pytest.raises(ValueError, match="malformed random state"):
        restore_rng_state({"python": (3, "not a state", None)})


def _old_blocks_checkpoint(path, arrays):
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    with tarfile.open(path, "w") as tar:
        for name, data in (("_pkl", pickle.dumps({"never": "unpickled"})), ("_parameters", npz.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_legacy_blocks_parameters(tmp_path, monkeypatch):
    arrays = {"|mlp|linear_0.W": np.arange(6.0).reshape(2, 3), "|mlp|linear_0.b": np.zeros(3, np.float32)}
    path = tmp_path / "old.tar"
    _old_blocks_checkpoint(path, arrays)
    monkeypatch.setattr(pickle, "loads", lambda *a: pytest.fail("unpickled"))
    loaded = load_parameters(path)
    assert set(loaded) == {"/mlp/linear_0.W", "/mlp/linear_0.b"}
    np.testing.assert_array_equal(loaded["/mlp/linear_0.W"].numpy(), arrays["|mlp|linear_0.W"])
    assert loaded["/mlp/linear_0.b"].dtype == torch.float32
    info = checkpoint_info(path)
    assert info["kind"] == "legacy-blocks" and info["num_parameters"] == 9
    with pytest.raises(CheckpointError, match="old Blocks checkpoint.*load_parameters"):
        Archive(path)
    npz_path = tmp_path / "params.npz"
    np.savez(npz_path, **arrays)
    assert set(load_parameters(npz_path)) == {"/mlp/linear_0.W", "/mlp/linear_0.b"}


def test_legacy_object_arrays_are_refused(tmp_path):
    path = tmp_path / "bad.tar"
    _old_blocks_checkpoint(path, {"|x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="object arrays"):
        load_parameters(path)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_checkpoint_loads_on_cpu_and_back(tmp_path):
    module = torch.nn.Linear(3, 2).cuda()
    path = tmp_path / "gpu.tar"
    save_checkpoint(path, model=module)
    loaded = load_parameters(path)
    assert all(t.device.type == "cpu" for t in loaded.values())
    target = torch.nn.Linear(3, 2).cuda()
    target.load_state_dict(loaded)
    assert torch.equal(target.weight, module.weight)


def test_legacy_parameters_load_into_a_blocks_model(tmp_path):
    from blocks.bricks import MLP, Tanh
    from blocks.extensions import FinishAfter, Load
    from blocks.graph import matrix
    from blocks.initialization import Constant
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks.serialization import load_main_loop_state

    mlp = MLP([Tanh()], [3, 2], weights_init=Constant(0), biases_init=Constant(0), name="mlp")
    mlp.initialize()
    cost = mlp.apply(matrix("x")).sum()
    model = Model(cost)
    names = sorted(model.get_parameter_dict())
    assert names == ["/mlp/linear_0.W", "/mlp/linear_0.b"]
    arrays = {"|mlp|linear_0.W": np.arange(6, dtype=np.float32).reshape(3, 2),
              "|mlp|linear_0.b": np.ones(2, np.float32)}
    path = tmp_path / "old.tar"
    _old_blocks_checkpoint(path, arrays)

    class Nothing:
        def initialize(self):
            pass

        def process_batch(self, batch):
            pass

    class Stream:
        def get_epoch_iterator(self, as_dict=False):
            return iter([{"x": 1}])

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    loop = MainLoop(Nothing(), Stream(), model=model, extensions=[Load(path), FinishAfter(after_n_batches=1)])
    loop.run()
    np.testing.assert_array_equal(model.get_parameter_values()["/mlp/linear_0.W"], arrays["|mlp|linear_0.W"])
    with pytest.raises(CheckpointError, match="only its parameters can be loaded"):
        load_main_loop_state(loop, path)
    _old_blocks_checkpoint(path, {"|mlp|linear_0.W": np.zeros((2, 2), np.float32)})
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint: \['/mlp/linear_0.b'\].*shape mismatch"):
        load_main_loop_state(loop, path, load_iteration_state=False, load_log=False)
