"""Bad input: every damaged or mismatching checkpoint is a clear CheckpointError, never a partial load."""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import TinyModel, build_loop  # noqa: E402

from blocks.serialization import (  # noqa: E402
    Archive,
    CheckpointError,
    checkpoint_info,
    load_checkpoint,
    load_main_loop_state,
    load_parameters,
    save_checkpoint,
)
from blocks.serialization import archive as archive_module  # noqa: E402


@pytest.fixture
def saved(tmp_path):
    loop = build_loop()
    loop.algorithm.initialize()
    path = tmp_path / "ok.tar"
    save_checkpoint(path, loop)
    return path


def _offsets(path):
    with tarfile.open(path) as tar:
        return {m.name: (m.offset, m.offset_data, m.size) for m in tar}


@pytest.mark.parametrize("keep", [0, 100, 511, 513, 0.5, -1025, -1600, -3000])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    saved.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated|empty|MANIFEST"):
        load_checkpoint(saved)


@pytest.mark.parametrize("member", ["parameters.safetensors", "optimizer.safetensors", "state.safetensors",
                                    "state.json"])
def test_flipped_byte_in_each_member(saved, member):
    _, start, size = _offsets(saved)[member]
    data = bytearray(saved.read_bytes())
    data[start + size // 2] ^= 0x01
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"member '{member}' is corrupted: its sha256"):
        load_checkpoint(saved)
    with pytest.raises(CheckpointError, match="corrupted"):
        checkpoint_info(saved)


def test_flipped_byte_in_a_tar_header_or_the_manifest(saved, tmp_path):
    offsets = _offsets(saved)
    data = bytearray(saved.read_bytes())
    data[offsets["state.json"][0] + 130] ^= 0x04  # inside the header's size/mode fields
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load_checkpoint(saved)
    other = tmp_path / "m.tar"
    save_checkpoint(other, model={"w": torch.ones(3)})
    _, start, size = _offsets(other)["MANIFEST"]
    data = bytearray(other.read_bytes())
    manifest = data[start:start + size].decode()
    index = start + manifest.index('"sha256": "') + len('"sha256": "') + 3
    data[index] = ord("0") if data[index] != ord("0") else ord("1")
    other.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_parameters(other)


def _rewrite_without(path, drop):
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar if m.name != drop]
    os.unlink(path)
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            import io

            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("member", ["optimizer.safetensors", "state.json"])
def test_missing_member(saved, member):
    _rewrite_without(saved, member)
    with pytest.raises(CheckpointError, match=rf"member\(s\) \['{member}'\] listed in MANIFEST are missing"):
        load_checkpoint(saved)


def test_missing_manifest(saved):
    _rewrite_without(saved, "MANIFEST")
    with pytest.raises(CheckpointError, match="'MANIFEST' is missing"):
        load_parameters(saved)


def test_newer_format_version(tmp_path, monkeypatch):
    path = tmp_path / "future.tar"
    monkeypatch.setattr(archive_module, "FORMAT_VERSION", 2)
    save_checkpoint(path, model={"w": torch.ones(1)})
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=r"format version 2, newer .* \(up to 1\); upgrade blocks-core"):
        load_parameters(path)


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"hello world" * 100)
    with pytest.raises(CheckpointError, match="not a readable tar archive"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.tar")


def test_mismatching_parameters_load_nothing(saved):
    loop = build_loop(seed=5)
    loop.model.W = torch.nn.Parameter(torch.zeros(4, 2))  # other shape
    before = {k: v.clone() for k, v in loop.model.get_persistent_dict().items()}
    expected = r"shape mismatch: \[./linear.W \(model \[4, 2\], checkpoint \[3, 2\]\)'\]"
    with pytest.raises(CheckpointError, match=expected):
        load_main_loop_state(loop, saved)
    for name, tensor in loop.model.get_persistent_dict().items():
        assert torch.equal(tensor, before[name])
    assert loop.status["iterations_done"] == 0

    class Renamed(TinyModel):
        def get_persistent_dict(self):
            d = super().get_persistent_dict()
            d["/linear.extra"] = torch.zeros(1)
            del d["/linear.b"]
            return d

    other = build_loop()
    other._model = Renamed()
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint: \['/linear.extra'\]; not in the model: "
                                              r"\['/linear.b'\]"):
        load_main_loop_state(other, saved)


def test_parameters_only_checkpoint_cannot_resume(tmp_path):
    loop = build_loop()
    path = tmp_path / "p.tar"
    save_checkpoint(path, loop, parameters_only=True)
    with Archive(path) as archive:
        assert set(archive.members) == {"parameters.safetensors", "state.json"}
    with pytest.raises(CheckpointError, match="parameters-only checkpoint holds no iteration state"):
        load_main_loop_state(build_loop(), path)
    fresh = build_loop(seed=9)
    load_main_loop_state(fresh, path, load_iteration_state=False, load_log=False)
    assert torch.equal(fresh.model.W, loop.model.W)
    assert json.loads(json.dumps(checkpoint_info(path)))["kind"] == "parameters"


def test_a_resumed_run_records_the_runs_it_continues(saved, tmp_path):
    loop = build_loop()
    load_main_loop_state(loop, saved)
    second = tmp_path / "second.tar"
    save_checkpoint(second, loop)
    history = checkpoint_info(second)["history"]
    assert len(history) == 1 and history[0]["checkpoint"] == str(saved)
    assert history[0]["start_time"] and history[0]["argv"] == sys.argv
    again = build_loop()
    load_main_loop_state(again, second)
    third = tmp_path / "third.tar"
    save_checkpoint(third, again)
    assert [h["checkpoint"] for h in checkpoint_info(third)["history"]] == [str(saved), str(second)]
