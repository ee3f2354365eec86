"""find_in_data_path (search order) and cache_file (local copies of files on slow storage)."""

from __future__ import annotations

import os
import threading

import pytest

import fuel
from fuel import data_path
from fuel.data_path import cache_file, find_in_data_path


def test_first_directory_that_holds_the_file_wins(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.hdf5").write_text(name)
    with fuel.config.override(data_path=[str(tmp_path / "missing"), str(tmp_path / "b"), str(tmp_path / "a")]):
        assert find_in_data_path("x.hdf5") == str(tmp_path / "b" / "x.hdf5")


def test_missing_file_lists_the_path_and_how_to_make_it(tmp_path):
    with fuel.config.override(data_path=[str(tmp_path)]):
        with pytest.raises(ValueError, match=r"'mnist.hdf5' not found in fuel.config.data_path .*fuel-download"):
            find_in_data_path("mnist.hdf5")


def test_cache_file_copies_once_and_refreshes_when_the_source_changes(tmp_path):
    source = tmp_path / "shared" / "x.hdf5"
    source.parent.mkdir()
    source.write_bytes(b"v1")
    cache = tmp_path / "local"
    with fuel.config.override(local_data_path=str(cache)):
        local = cache_file(str(source))
        assert local == os.path.join(str(cache), str(source).lstrip(os.sep))
        assert open(local, "rb").read() == b"v1"
        stamp = os.stat(local).st_mtime_ns
        assert cache_file(str(source)) == local and os.stat(local).st_mtime_ns == stamp
        source.write_bytes(b"v2 is longer")
        assert open(cache_file(str(source)), "rb").read() == b"v2 is longer"
        assert cache_file(local) == local  # already local
        assert not [f for f in os.listdir(os.path.dirname(local)) if f.startswith(".") or f.endswith(".lock")]
    with fuel.config.override(local_data_path=""):
        assert cache_file(str(source)) == str(source)


def test_cache_file_checks_free_space(tmp_path, monkeypatch):
    source = tmp_path / "x.hdf5"
    source.write_bytes(b"data")
    monkeypatch.setattr(data_path, "_free_space", lambda directory: 1)
    with fuel.config.override(local_data_path=str(tmp_path / "local")):
        with pytest.raises(ValueError, match="not enough free space"):
            cache_file(str(source))
    local = os.path.join(str(tmp_path / "local"), str(source).lstrip(os.sep))
    assert os.listdir(os.path.dirname(local)) == []  # neither a copy nor the lock is left behind


def test_cache_file_uses_the_copy_another_process_finishes_while_it_waits(tmp_path):
    source = tmp_path / "x.hdf5"
    source.write_bytes(b"data")
    cache = tmp_path / "local"
    local = os.path.join(str(cache), str(source).lstrip(os.sep))
    os.makedirs(os.path.dirname(local))
    open(local + ".lock", "w").close()  # the other process holds the lock ...

    def finish():  # ... and completes its copy
        with open(local + ".tmp", "wb") as copy:
            copy.write(b"data")
        stat = os.stat(source)
        os.utime(local + ".tmp", (stat.st_atime, stat.st_mtime))
        os.replace(local + ".tmp", local)

    timer = threading.Timer(0.3, finish)
    timer.start()
    try:
        with fuel.config.override(local_data_path=str(cache)):
            assert cache_file(str(source), lock_timeout=60) == local
    finally:
        timer.join()
    assert open(local, "rb").read() == b"data" and os.path.exists(local + ".lock")  # its lock: not ours to remove


def test_cache_file_waits_for_a_lock_then_says_what_to_do(tmp_path):
    source = tmp_path / "x.hdf5"
    source.write_bytes(b"data")
    cache = tmp_path / "local"
    local = os.path.join(str(cache), str(source).lstrip(os.sep))
    os.makedirs(os.path.dirname(local))
    open(local + ".lock", "w").close()
    with fuel.config.override(local_data_path=str(cache)):
        with pytest.raises(ValueError, match="delete the lock file"):
            cache_file(str(source), lock_timeout=0.3)
