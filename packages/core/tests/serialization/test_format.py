"""The checkpoint format: plain safetensors members, JSON state, exact round trips, no pickle."""

from __future__ import annotations

import json
import math
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import build_loop  # noqa: E402

from blocks.serialization import (  # noqa: E402
    CheckpointError,
    load_checkpoint,
    load_parameters,
    safetensors_io,  # noqa: E402
    save_checkpoint,
)
from blocks.serialization.flatten import flatten_state, unflatten_state  # noqa: E402

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.bool]


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()


def _sample(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return (torch.randn(shape, generator=gen) * 50).to(dtype)


def test_writer_is_read_by_safetensors_for_every_dtype():
    tensors = {f"/t_{i}": _sample(dtype, shape)
               for i, (dtype, shape) in enumerate((d, s) for d in DTYPES for s in [(3, 5), (), (0, 2), (7,)])}
    tensors["/strided"] = torch.arange(24.0).reshape(4, 6).t()
    prepared = safetensors_io.prepare(tensors)
    data = b"".join(bytes(c) for c in prepared.chunks())
    assert len(data) == prepared.size
    reference = safetensors.torch.load(data)
    assert set(reference) == set(tensors)
    for name, tensor in tensors.items():
        assert reference[name].dtype == tensor.dtype and torch.equal(reference[name], tensor), name
    ours, _ = safetensors_io.read(bytearray(data))
    for name, tensor in tensors.items():
        assert torch.equal(safetensors_io.to_torch(ours[name]), tensor), name


def test_reader_reads_files_written_by_safetensors():
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5), "c": torch.ones(2, dtype=torch.float16)}
    raw, metadata = safetensors_io.read(bytearray(safetensors.torch.save(tensors, metadata={"k": "v"})))
    assert metadata == {"k": "v"}
    for name, tensor in tensors.items():
        assert torch.equal(safetensors_io.to_torch(raw[name]), tensor)


def test_numpy_arrays_and_unsupported_dtypes():
    arrays = {"u32": np.arange(6, dtype=np.uint32).reshape(2, 3), "big": np.arange(3, dtype=">i4")}
    data = b"".join(bytes(c) for c in safetensors_io.prepare(arrays).chunks())
    loaded = safetensors.numpy.load(data)
    np.testing.assert_array_equal(loaded["u32"], arrays["u32"])
    np.testing.assert_array_equal(loaded["big"], arrays["big"])
    with pytest.raises(ValueError, match="complex"):
        safetensors_io.prepare({"c": torch.zeros(2, dtype=torch.complex64)})
    with pytest.raises(ValueError, match="dtype"):
        safetensors_io.prepare({"s": np.array(["a"])})


def test_parameters_readable_with_plain_safetensors(tmp_path):
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    module(torch.randn(5, 4))  # moves the batch-norm statistics
    path = tmp_path / "m.tar"
    save_checkpoint(path, model=module)
    with tarfile.open(path) as tar:
        assert tar.getnames()[-1] == "MANIFEST"
    plain = safetensors.numpy.load(_member(path, "parameters.safetensors"))
    expected = module.state_dict()
    assert set(plain) == set(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(plain[name], tensor.numpy())
    manifest = json.loads(_member(path, "MANIFEST"))
    assert manifest["format_version"] == 1
    assert set(manifest["members"]) == {"parameters.safetensors", "state.json"}


def test_flatten_round_trip_keeps_types():
    state = {
        "tuple": (1, 2.5, "x"),
        "int_keys": {3: "three", (1, 2): "pair"},
        "nan": float("nan"), "inf": -math.inf,
        "np_scalar": np.float32(1.5), "np_int": np.int64(7),
        "bytes": b"\x00\xff",
        "tensor": torch.arange(4).reshape(2, 2),
        "array": np.arange(3.0),
        "list": [None, True, {"nested": torch.zeros(1)}],
        "taglike": {"__array__": "a key that looks like a tag"},
        "/odd~key": 1,
    }
    doc, arrays = flatten_state(state)
    json.dumps(doc, allow_nan=False)
    assert "/~1odd~0key" not in arrays and "/tensor" in arrays and "/list/2/nested" in arrays
    back = unflatten_state(doc, lambda key, kind: arrays[key] if kind == "torch" else np.asarray(arrays[key]))
    assert back["tuple"] == (1, 2.5, "x")
    assert back["int_keys"] == {3: "three", (1, 2): "pair"}
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert type(back["np_scalar"]) is np.float32 and back["np_int"] == 7 and type(back["np_int"]) is np.int64
    assert back["bytes"] == b"\x00\xff" and back["taglike"] == {"__array__": "a key that looks like a tag"}
    assert torch.equal(back["tensor"], state["tensor"]) and back["/odd~key"] == 1


def test_unstorable_values_are_refused_naming_their_path(tmp_path):
    with pytest.raises(ValueError, match=r"/extra/callbacks/0 is a builtins.builtin_function_or_method.*trusted=True"):
        save_checkpoint(tmp_path / "x.tar", model={"w": torch.zeros(1)}, extra={"callbacks": [len]})
    assert not list(tmp_path.iterdir())


class Opaque:
    def __init__(self, value):
        self.value = value


def test_trusted_objects_are_pickled_with_a_warning_and_need_trusted_to_load(tmp_path):
    path = tmp_path / "t.tar"
    with pytest.warns(UserWarning, match="pickles 1 value"):
        save_checkpoint(path, model={"w": torch.zeros(1)}, extra={"thing": Opaque(3)}, trusted=True)
    with pytest.raises(CheckpointError, match="trusted=True"):
        load_checkpoint(path)
    with pytest.warns(UserWarning, match="unpickling"):
        assert load_checkpoint(path, trusted=True).extra["thing"].value == 3


def test_loading_never_unpickles(tmp_path, monkeypatch):
    loop = build_loop()
    path = tmp_path / "full.tar"
    save_checkpoint(path, loop, extra={"note": (1, 2)})

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = load_checkpoint(path)
    assert loaded.extra == {"note": (1, 2)}
    assert set(load_parameters(path)) == {"/linear.W", "/linear.b", "/linear.running"}


def test_full_checkpoint_splits_optimizer_and_state_arrays(tmp_path):
    loop = build_loop()
    loop.algorithm.initialize()
    path = tmp_path / "full.tar"
    save_checkpoint(path, loop)
    optimizer = safetensors.torch.load(_member(path, "optimizer.safetensors"))
    assert set(optimizer) == {"/main_loop/algorithm/hyperparameters/learning_rate",
                              "/main_loop/algorithm/buffers/velocity/~1linear.W",
                              "/main_loop/algorithm/buffers/velocity/~1linear.b",
                              "/main_loop/algorithm/generator"}
    state = safetensors.torch.load(_member(path, "state.safetensors"))
    assert "/rng/torch" in state and "/rng/numpy/state/key" in state
    document = json.loads(_member(path, "state.json"))
    assert document["kind"] == "full" and document["format_version"] == 1
    assert document["run"]["argv"] == sys.argv and document["run"]["cwd"]
    assert {"python", "torch", "numpy", "blocks-core"} <= set(document["versions"])
    assert document["main_loop"]["status"]["iterations_done"] == 0
    assert "__array__" in json.dumps(document["main_loop"]["algorithm"])


def test_scalar_tensors_go_into_the_json_exactly(tmp_path):
    row = {"cost": torch.tensor(0.1), "flag": torch.tensor(True),
           "nan": torch.tensor(float("nan"), dtype=torch.float16), "big": torch.tensor(2**62 + 1),
           "bf": torch.tensor(1 / 3, dtype=torch.bfloat16),
           "vector": torch.arange(3.0)}
    path = tmp_path / "s.tar"
    save_checkpoint(path, model={"w": torch.zeros(1)}, extra={"row": row})
    document = json.loads(_member(path, "state.json"))
    assert document["extra"]["row"]["cost"] == {"__scalar__": float(torch.tensor(0.1)), "dtype": "float32"}
    assert set(safetensors.torch.load(_member(path, "state.safetensors"))) == {"/extra/row/vector"}
    back = load_checkpoint(path).extra["row"]
    for name, tensor in row.items():
        assert back[name].dtype == tensor.dtype and back[name].shape == tensor.shape
        assert torch.equal(back[name], tensor) or (torch.isnan(tensor) and torch.isnan(back[name]))
