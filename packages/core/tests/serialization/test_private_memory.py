"""Loaded tensors live in private memory: what was verified is what the caller holds, whatever the file does later."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import build_loop  # noqa: E402

from blocks.extensions import FinishAfter  # noqa: E402
from blocks.serialization import archive as archive_module  # noqa: E402
from blocks.serialization import checkpoint_info, load_checkpoint, load_parameters, save_checkpoint  # noqa: E402

WEIGHTS = {"w": torch.arange(3000, dtype=torch.float32).reshape(30, 100), "b": torch.linspace(-1, 1, 7)}


def _scribble(path: Path) -> None:
    """Overwrite every byte of the file in place (same inode, same size), as a concurrent writer would."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(b"\xff" * size)
        f.flush()
        os.fsync(f.fileno())


def test_rewriting_the_file_in_place_after_load_changes_no_loaded_value(tmp_path):
    loop = build_loop([FinishAfter(after_n_batches=2)])
    loop.run()
    path = tmp_path / "c.tar"
    save_checkpoint(path, loop)
    parameters = load_parameters(path)
    loaded = load_checkpoint(path)
    velocity = loaded.main_loop["algorithm"]["buffers"]["velocity"]  # algorithm state, left on the CPU
    expected = {name: t.detach().clone() for name, t in loop.model.get_persistent_dict().items()}
    expected_velocity = {name: t.clone() for name, t in loop.algorithm.velocity.items()}
    _scribble(path)
    for name, tensor in expected.items():
        assert torch.equal(parameters[name], tensor), name
        assert torch.equal(loaded.parameters[name], tensor), name
    for name, tensor in expected_velocity.items():
        assert torch.equal(velocity[name], tensor), name


def test_truncating_the_file_after_load_does_not_crash_the_process(tmp_path):
    path = tmp_path / "w.tar"
    save_checkpoint(path, model=WEIGHTS)
    script = textwrap.dedent(f"""
        import os
        from blocks.serialization import load_checkpoint, load_parameters
        parameters = load_parameters({str(path)!r})
        loaded = load_checkpoint({str(path)!r})
        os.truncate({str(path)!r}, 0)
        print(float(parameters["w"].sum()), float(loaded.parameters["b"].abs().sum()))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr)  # was -7: SIGBUS
    total, b = result.stdout.split()
    assert float(total) == float(WEIGHTS["w"].sum()) and float(b) == float(WEIGHTS["b"].abs().sum())


class _RewritingDigest:
    """A sha256 that rewrites the checkpoint on disk as soon as it has hashed its first piece."""

    def __init__(self, path: Path, calls: list[int], *data) -> None:
        self._digest, self._path, self._calls = hashlib.sha256(), path, calls
        for piece in data:
            self.update(piece)

    def update(self, data) -> None:
        self._digest.update(data)
        self._calls.append(len(data))
        if len(self._calls) == 1:
            _scribble(self._path)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def test_the_hash_covers_the_very_bytes_the_tensors_are_built_from(tmp_path, monkeypatch):
    """A file changed between hashing and building tensors (verify-then-copy) must not reach the tensors."""
    path = tmp_path / "w.tar"
    save_checkpoint(path, model=WEIGHTS)
    calls: list[int] = []

    class FakeHashlib:
        @staticmethod
        def sha256(*args):
            return _RewritingDigest(path, calls, *args)

    monkeypatch.setattr(archive_module, "hashlib", FakeHashlib)
    parameters = load_parameters(path)
    assert calls, "the archive did not hash through hashlib.sha256"
    for name, tensor in WEIGHTS.items():
        assert torch.equal(parameters[name], tensor), name


def test_verifying_a_large_member_in_pieces_matches_a_plain_sha256(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_module, "_PIECE", 4096)
    monkeypatch.setattr(archive_module, "_THREADED", 1024)  # every piece through the helper thread
    weights = {"big": torch.arange(20_000, dtype=torch.float64)}
    path = tmp_path / "big.tar"
    manifest = save_checkpoint(path, model=weights)
    info = checkpoint_info(path)  # hashes in reused pieces, keeps nothing
    assert info["members"]["parameters.safetensors"]["sha256"] == manifest["members"]["parameters.safetensors"][
        "sha256"]
    assert torch.equal(load_parameters(path)["big"], weights["big"])
