"""A checkpoint that cannot be loaded in full changes nothing: the document is checked first, failures roll back."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tamper import rewrite_members, rewrite_state_json  # noqa: E402
from _tiny import build_loop  # noqa: E402

from blocks.extensions import FinishAfter, Load  # noqa: E402
from blocks.serialization import (  # noqa: E402
    CheckpointError,
    checkpoint_info,
    load_checkpoint,
    load_main_loop_state,
    load_parameters,
    safetensors_io,
    save_checkpoint,
)


@pytest.fixture
def saved(tmp_path):
    loop = build_loop([FinishAfter(after_n_batches=2)])
    loop.run()
    path = tmp_path / "c.tar"
    save_checkpoint(path, loop)
    return path


def _trained(batches: int = 3, seed: int = 4):
    """A loop that has trained (algorithm initialized, log rows, other parameters than the checkpoint's)."""
    loop = build_loop([FinishAfter(after_n_batches=batches)], seed=seed)
    loop.run()
    return loop


def _snapshot(loop):
    return {
        "parameters": {n: t.detach().clone() for n, t in loop.model.get_persistent_dict().items()},
        "velocity": {n: t.clone() for n, t in loop.algorithm.velocity.items()},
        "status": dict(loop.status),
        "log": json.dumps(loop.log.state_dict(), sort_keys=True, default=str),
        "extensions": [json.dumps(e.state_dict(), sort_keys=True, default=str) for e in loop.extensions],
        "stream": dict(loop.data_stream.state_dict()),
        "torch_rng": torch.get_rng_state().clone(),
        "python_rng": random.getstate(),
        "generator": loop.algorithm.gen.get_state().clone(),
    }


def _assert_unchanged(loop, before):
    after = _snapshot(loop)
    for name, tensor in before["parameters"].items():
        assert torch.equal(after["parameters"][name], tensor), name
    for name, tensor in before["velocity"].items():
        assert torch.equal(after["velocity"][name], tensor), name
    for key in ("status", "log", "extensions", "stream", "python_rng"):
        assert after[key] == before[key], key
    assert torch.equal(after["torch_rng"], before["torch_rng"])
    assert torch.equal(after["generator"], before["generator"])


def _drop_algorithm(doc):
    del doc["main_loop"]["algorithm"]


def test_a_malformed_main_loop_changes_nothing_through_resume_and_load(saved):
    rewrite_state_json(saved, _drop_algorithm)
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(CheckpointError, match=r"state.json is malformed: /main_loop must be .*lacks algorithm"):
        loop.resume(str(saved))
    _assert_unchanged(loop, before)
    fresh = build_loop([Load(saved, load_iteration_state=True, load_log=True), FinishAfter(after_n_batches=1)],
                       seed=6)
    initial = {n: t.detach().clone() for n, t in fresh.model.get_persistent_dict().items()}
    with pytest.raises(CheckpointError, match="lacks algorithm"):
        fresh.run()
    for name, tensor in fresh.model.get_persistent_dict().items():
        assert torch.equal(tensor, initial[name]), name


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


MALFORMED = {
    "iterations_done is a string": (_set("main_loop", "status", "iterations_done", "many"),
                                    "/main_loop/status/iterations_done must be a non-negative integer"),
    "negative epochs": (_set("main_loop", "status", "epochs_done", -1), "/main_loop/status/epochs_done"),
    "bool counter": (_set("main_loop", "status", "iterations_done", True), "/main_loop/status/iterations_done"),
    "flag is a number": (_set("main_loop", "status", "training_started", 1), "/main_loop/status/training_started"),
    "epoch ends hold strings": (_set("main_loop", "status", "_epoch_ends", ["x"]), "/main_loop/status/_epoch_ends/0"),
    "log status": (_set("main_loop", "log", "status", "iterations_done", 2.5), "/main_loop/log/status/iterations_d"),
    "log row key": (_set("main_loop", "log", "rows", {"abc": {}}), "/main_loop/log/rows must be keyed by iteration"),
    "extensions is a list": (_set("main_loop", "extensions", []), "/main_loop/extensions must be an object"),
    "data lacks the stream": (_set("main_loop", "data", {}), "/main_loop/data must be an object with the data"),
    "main loop is a list": (_set("main_loop", []), "/main_loop must be an object"),
    "shape is a string": (_set("parameters", "/linear.W", "shape", "3x2"), "/parameters//linear.W/shape"),
    "kind": (_set("kind", "everything"), "/kind must be 'full' or 'parameters'"),
    "world size zero": (_set("ranks", {"world_size": 0, "data": []}), "/ranks/world_size must be an integer >= 1"),
    "ranks without data": (_set("ranks", {"world_size": 2, "data": [{}]}), "/ranks/data must be one data position"),
    "version is a string": (_set("format_version", "1"), "/format_version must be an integer >= 1"),
    "history of strings": (_set("history", ["x"]), "/history/0 must be an object"),
    "versions": (_set("versions", {"torch": 2}), "/versions/torch must be a string"),
    "document is a list": (lambda doc: [doc], "/ must be an object"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_field_is_checked_before_anything_changes(saved, case):
    change, message = MALFORMED[case]
    rewrite_state_json(saved, change)
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(CheckpointError, match="state.json is malformed: " + message.replace("/", "/")):
        load_main_loop_state(loop, saved)
    _assert_unchanged(loop, before)
    with pytest.raises(CheckpointError, match="malformed"):
        checkpoint_info(saved)


def test_a_state_the_main_loop_refuses_part_way_is_rolled_back_entirely(saved):
    """Arrays of the wrong shape pass the document's checks; the algorithm refuses them after the log was loaded."""
    velocity = "/main_loop/algorithm/buffers/velocity/~1linear.W"  # W's (3, 2) velocity given for b's (2,)
    rewrite_state_json(saved, _set("main_loop", "algorithm", "buffers", "velocity", "/linear.b",
                                   {"__array__": velocity, "type": "torch"}))
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(CheckpointError, match=r"could not take the saved state .*the main loop's state and the "
                                              r"random states were put back"):
        load_main_loop_state(loop, saved)
    _assert_unchanged(loop, before)  # W's velocity had been loaded before b's failed: it is back too


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deeply_nested_json_is_a_checkpoint_error(saved, depth):
    def nest(doc):
        doc.pop("extra", None)
        text = json.dumps(doc).encode()
        return text[:-1] + b', "extra": ' + _deep(depth) + b"}"

    rewrite_state_json(saved, nest)
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_main_loop_state(loop, saved)
    _assert_unchanged(loop, before)


def _safetensors(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


@pytest.mark.parametrize(("header", "message"), [
    ({"__metadata__": ["not", "a", "dict"]}, "__metadata__ must be an object of strings"),
    ({"__metadata__": {"format": 3}}, "__metadata__ must be an object of strings"),
    ({"__metadata__": {}, "x": [[[[]]]]}, "malformed header entry"),
    ({"x": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}, "malformed header entry"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, "tensors 'x' and 'y' overlap"),
])
def test_a_malformed_safetensors_header_is_a_checkpoint_error(tmp_path, header, message):
    path = tmp_path / "w.tar"
    save_checkpoint(path, model={"x": torch.ones(2)})
    rewrite_members(path, lambda members: members.__setitem__("parameters.safetensors",
                                                              _safetensors(header, b"\0" * 8)))
    with pytest.raises(CheckpointError, match=message):
        load_parameters(path)


def test_deeply_nested_safetensors_header_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "w.tar"
    save_checkpoint(path, model={"x": torch.ones(2)})
    text = b'{"x": ' + _deep(100_000) + b"}"
    text += b" " * (-len(text) % 8)
    rewrite_members(path, lambda m: m.__setitem__("parameters.safetensors", len(text).to_bytes(8, "little") + text))
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_parameters(path)


def test_state_json_must_describe_the_parameters_member(tmp_path):
    path = tmp_path / "w.tar"
    save_checkpoint(path, model={"x": torch.ones(2)})
    rewrite_state_json(path, _set("parameters", "x", "dtype", "float64"))
    with pytest.raises(CheckpointError, match=r"disagree on dtype or shape: \['x \(state.json: float64 \[2\]"):
        load_checkpoint(path)


def test_another_dtype_is_an_error_unless_casting_is_asked_for(tmp_path):
    source = build_loop(seed=1)
    weights = {n: t.detach().double() for n, t in source.model.get_persistent_dict().items()}
    path = tmp_path / "f64.tar"
    save_checkpoint(path, model=weights)
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(CheckpointError, match=r"dtype mismatch: \['/linear.W \(model float32, checkpoint float64\)'"
                                              r".*cast_dtypes=True"):
        load_main_loop_state(loop, path, load_iteration_state=False, load_log=False)
    _assert_unchanged(loop, before)
    load_main_loop_state(loop, path, load_iteration_state=False, load_log=False, cast_dtypes=True)
    assert loop.model.W.dtype == torch.float32
    assert torch.equal(loop.model.W, weights["/linear.W"].float())
    # a float64 model (gradient checks) takes float32 weights through Load(..., cast_dtypes=True)
    wide = build_loop([Load(path, cast_dtypes=True), FinishAfter(after_n_batches=0)], seed=2)
    wide.model.W.data = wide.model.W.data.double()
    strict = build_loop([Load(path)], seed=2)
    with pytest.raises(CheckpointError, match="dtype mismatch"):
        strict.extensions[0].main_loop = strict
        strict.extensions[0].do("before_training")
    wide.extensions[0].main_loop = wide
    wide.extensions[0].do("before_training")
    assert wide.model.W.dtype == torch.float64 and torch.equal(wide.model.W, weights["/linear.W"])


def test_the_untampered_checkpoint_loads_into_the_same_loops(saved):
    loop = _trained()
    load_main_loop_state(loop, saved)
    assert loop.status["iterations_done"] == 2
    assert safetensors_io.read(_safetensors({}, b""))[0] == {}


def test_main_loop_load_state_dict_alone_is_all_or_nothing(saved):
    rewrite_state_json(saved, _set("main_loop", "algorithm", "buffers", "velocity", "/linear.b",
                                   {"__array__": "/main_loop/algorithm/buffers/velocity/~1linear.W", "type": "torch"}))
    state = load_checkpoint(saved).main_loop
    loop = _trained()
    before = _snapshot(loop)
    with pytest.raises(RuntimeError):
        loop.load_state_dict(state)
    _assert_unchanged(loop, before)


def test_a_deeply_nested_manifest_is_a_checkpoint_error(tmp_path):
    import io
    import tarfile

    path = tmp_path / "deep.tar"
    with tarfile.open(path, "w") as tar:
        data = _deep(100_000)
        info = tarfile.TarInfo("MANIFEST")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CheckpointError, match="MANIFEST is damaged"):
        load_parameters(path)
