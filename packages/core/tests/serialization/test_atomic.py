"""Writes are atomic and durable: temp file in the same directory, fsync, rename, fsync of the directory."""

from __future__ import annotations

import os

import pytest
import torch

from blocks.serialization import archive as archive_module
from blocks.serialization import atomic_write, load_parameters, save_checkpoint
from blocks.serialization.archive import MemberSource, write_archive


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.tar"
    save_checkpoint(path, model={"w": torch.full((4,), 1.0)})
    before = path.read_bytes()

    def exploding():
        yield b"x" * 1000
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_archive(path, [MemberSource("a", 2000, exploding())])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.tar"]
    assert torch.equal(load_parameters(path)["w"], torch.full((4,), 1.0))


def test_wrong_member_size_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="declared 5 bytes but produced 3"):
        write_archive(tmp_path / "x.tar", [MemberSource("a", 5, [b"abc"])])
    assert not list(tmp_path.iterdir())


def test_file_and_directory_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else None))
        real_fsync(fd)

    def replace(src, dst):
        assert os.path.dirname(os.path.abspath(src)) == str(tmp_path)
        events.append(("replace", os.path.basename(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(archive_module.os, "fsync", fsync)
    monkeypatch.setattr(archive_module.os, "replace", replace)
    save_checkpoint(tmp_path / "c.tar", model={"w": torch.zeros(2)})
    assert events == [("fsync", False), ("replace", "c.tar"), ("fsync", True)]


def test_atomic_write_mode_follows_umask(tmp_path):
    target = tmp_path / "f"
    old = os.umask(0o022)
    try:
        with atomic_write(target) as fd:
            os.write(fd, b"data")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"data"
    assert (target.stat().st_mode & 0o777) == 0o644
