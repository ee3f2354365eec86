"""Byte-flipped Fuel files that crash libhdf5 (issue 17 item 9): the crash stays where it can be reported.

With h5py 3.16 / HDF5 2.0, flipping one of the bits below in a small MNIST-like file makes libhdf5 crash the
process (SIGSEGV or SIGABRT) inside its dimension-scale code when an axis label is read with it — plain h5py
crashes (``[d.label for d in f["features"].dims]``). Building an H5PYDataset and reading its data never touch
that code, and its axis labels are read as a plain attribute (``DIMENSION_LABELS``), which gives a clean error on
these files; ``fuel-info --check`` reads the file in a child process and reports a crash as a damaged file.
"""

from __future__ import annotations

import faulthandler
import json
import os

import h5py
import numpy as np
import pytest

from blocks.cli import fuel_info
from fuel.converters import fill_hdf5_file, set_axis_labels
from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset

# (byte, bit) flips of the file _write_base makes that crashed libhdf5 in a 400-file fuzz (seeds 41, 139, 183,
# 202, 222, 338 of random.Random(seed): randrange(size), randrange(8)).
CRASHING_FLIPS = ((6242, 5), (24, 4), (1768, 1), (6316, 7), (1767, 3), (1794, 6))


def _write_base(path):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        fill_hdf5_file(f, [("train", "features", rng.integers(0, 255, (20, 1, 4, 4), dtype=np.uint8)),
                           ("test", "features", rng.integers(0, 255, (5, 1, 4, 4), dtype=np.uint8)),
                           ("train", "targets", rng.integers(0, 10, (20, 1), dtype=np.uint8)),
                           ("test", "targets", rng.integers(0, 10, (5, 1), dtype=np.uint8))])
        set_axis_labels(f, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})


def _in_fork(work):
    """Run ``work()`` in a forked child; its exit status (negative: the signal that killed it)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            faulthandler.disable()  # the crash is expected: no dump into the test's output
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            work()
        except Exception:  # noqa: BLE001 - a Python error is a clean outcome here
            pass
        except BaseException:  # noqa: BLE001
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@pytest.fixture(scope="module")
def flipped(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flipped")
    base = directory / "base.hdf5"
    _write_base(base)
    content = base.read_bytes()
    paths = []
    for position, bit in CRASHING_FLIPS:
        if position >= len(content):
            continue
        data = bytearray(content)
        data[position] ^= 1 << bit
        path = directory / f"flip_{position}_{bit}.hdf5"
        path.write_bytes(bytes(data))
        paths.append(path)
    return base, paths


def _construct_and_read(path):
    dataset = H5PYDataset(str(path), which_sets=("train",))
    dataset.get_data(None, slice(0, dataset.num_examples))
    H5PYDataset(str(path), which_sets=("train", "test"), load_in_memory=True)


def test_building_and_reading_a_damaged_file_does_not_crash(flipped):
    _, paths = flipped
    assert paths
    for path in paths:
        assert _in_fork(lambda p=path: _construct_and_read(p)) == 0, path.name


def _crashes_raw_h5py(path):
    def labels():
        with h5py.File(path, "r") as f:
            return [dim.label for dim in f["features"].dims]

    return _in_fork(labels) < 0


def test_axis_labels_of_files_that_crash_the_dimension_scale_api_are_clean_errors(flipped):
    # H5DSget_label (h5py's dims[i].label) crashes on these files; the labels are read as a plain attribute instead
    _, paths = flipped
    crashing = [p for p in paths if _crashes_raw_h5py(p)]
    if not crashing:
        pytest.skip("this libhdf5 no longer crashes on the recorded flips")

    def labels_or_a_clean_error(path):
        try:
            H5PYDataset(str(path), which_sets=("train",)).axis_labels
        except DamagedFileError as err:
            if str(path) not in str(err):
                raise SystemExit(f"no file name in {err}") from err

    for path in crashing:
        assert _in_fork(lambda p=path: labels_or_a_clean_error(p)) == 0, path.name


def test_fuel_info_check_reports_the_crashing_files_as_damaged(flipped, capsys):
    base, paths = flipped
    assert fuel_info.main(["--check", str(base)]) == 0
    assert "Check: OK" in capsys.readouterr().out
    for path in paths[:2]:  # one child process each
        assert fuel_info.main(["--check", str(path)]) == 2
        out = capsys.readouterr().out
        assert "Check: DAMAGED" in out and path.name in out


def test_fuel_info_check_reports_a_crash_of_the_reading_process(tmp_path, monkeypatch, capsys):
    # a reader killed by a signal (what libhdf5 does on some damaged files) is a damaged file, with the step it was in
    fake = tmp_path / "python"
    step = json.dumps({"step": "reading the dimension scales of features"})
    fake.write_text(f"#!/bin/sh\necho '{step}'\nkill -SEGV $$\n")
    fake.chmod(0o755)
    monkeypatch.setattr("fuel.datasets.hdf5_check.sys.executable", str(fake))
    assert fuel_info.main(["--check", str(tmp_path / "any.hdf5")]) == 2
    out = capsys.readouterr().out
    assert "Check: DAMAGED" in out and "crashed (SIGSEGV)" in out and "dimension scales" in out
