"""Writes are atomic and durable: temp file in the same directory, fsync, rename, fsync of the directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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


WRITER = """
import os, sys, time
from blocks.serialization.archive import MemberSource, write_archive

def pieces():
    yield b"x" * 65536
    open(sys.argv[2], "w").close()  # the temporary file exists and holds data: tell the test
    time.sleep(600)
    yield b"x" * 65536

write_archive(sys.argv[1], [MemberSource("big", 131072, pieces())])
"""


def _start_writer(tmp_path, name):
    flag = tmp_path / f"{name}.started"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / name), str(flag)])
    return process, flag


def _wait_for(flags, processes):
    deadline = time.monotonic() + 120
    while not all(f.exists() for f in flags):
        assert all(p.poll() is None for p in processes), "a writer exited early"
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.05)


def _temporaries(directory):
    return sorted(p.name for p in directory.iterdir() if ".blocks-tmp." in p.name)


def test_a_writer_killed_mid_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """kill -9 one writer mid-write while another is still writing: only the dead one's file goes."""
    (tmp_path / "notes.tmp").write_text("not ours")
    (tmp_path / ".killed.tar.abcd1234.tmp").write_text("an older name pattern: not provably ours")
    killed, killed_flag = _start_writer(tmp_path, "killed.tar")
    alive, alive_flag = _start_writer(tmp_path, "alive.tar")
    try:
        _wait_for([killed_flag, alive_flag], [killed, alive])
        temporaries = _temporaries(tmp_path)
        assert len(temporaries) == 2 and all(f".blocks-tmp.{p.pid}." in " ".join(temporaries)
                                             for p in (killed, alive))
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        save_checkpoint(tmp_path / "next.tar", model={"w": torch.zeros(2)})
        left = _temporaries(tmp_path)
        assert len(left) == 1 and f".blocks-tmp.{alive.pid}." in left[0]  # a write in progress keeps its file
        assert (tmp_path / "notes.tmp").exists() and (tmp_path / ".killed.tar.abcd1234.tmp").exists()
    finally:
        alive.kill()
        alive.wait(30)
    save_checkpoint(tmp_path / "next.tar", model={"w": torch.zeros(2)})
    assert _temporaries(tmp_path) == []
    assert not (tmp_path / "killed.tar").exists() and not (tmp_path / "alive.tar").exists()


def _foreign(tmp_path, host, pid, namespace, age):
    path = tmp_path / f".c.tar.x1y2z3w4.blocks-tmp.{pid}.{namespace}.{host}.tmp"
    path.write_bytes(b"partial")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_temporaries_of_other_hosts_or_namespaces_go_only_when_old(tmp_path):
    namespace = archive_module._pid_namespace()
    dead_pid = _dead_pid()
    recent_other_host = _foreign(tmp_path, "other-host.example", dead_pid, namespace, 60)
    recent_other_namespace = _foreign(tmp_path, archive_module._host(), dead_pid, namespace + 1, 60)
    old_other_host = _foreign(tmp_path, "other-host.example", 1, namespace, archive_module.STALE_TEMPORARY_SECONDS + 60)
    link = tmp_path / f".l.tar.a1b2c3d4.blocks-tmp.{dead_pid}.{namespace}.{archive_module._host()}.tmp"
    link.symlink_to(tmp_path / "elsewhere")
    removed = archive_module.remove_stale_temporaries(tmp_path)
    assert removed == [old_other_host.name]
    assert recent_other_host.exists() and recent_other_namespace.exists() and link.is_symlink()
    with atomic_write(tmp_path / "x") as fd:
        os.write(fd, b"x")
    assert not old_other_host.exists() and recent_other_host.exists()


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)
    return process.pid


def test_a_long_destination_name_still_fits_the_temporary_name(tmp_path):
    path = tmp_path / ("c" * 250 + ".tar")
    save_checkpoint(path, model={"w": torch.ones(3)})
    assert torch.equal(load_parameters(path)["w"], torch.ones(3))
