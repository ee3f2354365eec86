"""Out-of-core reads of contiguous HDF5 datasets with pread: equal to h5py, and safe when the file changes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset
from fuel.datasets.hdf5_pread import GAP_BYTES, ContiguousRows, FileChangedError

_SHAPES = {
    "bytes": ((5000,), "uint8"),  # one-byte rows: every gap fits the scratch buffer, many buffers per call
    "pages": ((40, 1024), "float32"),  # 4 KiB rows: gaps of up to 4 rows are read, wider ones are not
    "images": ((30, 3, 5, 7), ">i2"),  # big-endian, odd row size
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pread")
    rng = np.random.default_rng(0)
    out = {}
    for name, (shape, dtype) in _SHAPES.items():
        data = rng.integers(0, 1000, size=shape).astype(dtype)
        path = directory / f"{name}.hdf5"
        with h5py.File(path, "w") as f:
            f.create_dataset("pad", data=np.arange(37, dtype="uint8"))  # the data does not start at 0
            f["x"] = data
        out[name] = (path, data)
    return out


def _reader(path):
    handle = h5py.File(path, "r")
    rows = ContiguousRows.of(handle["x"])
    assert rows is not None
    return handle, rows


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(_SHAPES)), data=st.data())
def test_rows_equal_numpy_for_any_request(files, name, data):
    path, array = files[name]
    n = array.shape[0]
    kind = data.draw(st.sampled_from(["sorted", "unsorted", "duplicates", "int", "slice", "stepped"]))
    if kind == "int":
        request = data.draw(st.integers(0, n - 1))
    elif kind in ("slice", "stepped"):
        start = data.draw(st.integers(0, n))
        stop = data.draw(st.integers(0, n))
        request = slice(start, stop, data.draw(st.integers(2, 5)) if kind == "stepped" else None)
    else:
        size = data.draw(st.integers(1, min(n, 700)))
        request = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size)))
        if kind == "sorted":
            request = np.unique(request)
        elif kind == "unsorted":
            request = np.random.default_rng(size).permutation(np.unique(request))
    handle, rows = _reader(path)
    try:
        got = rows.read(request)
    finally:
        rows.close()
        handle.close()
    expected = array[request]
    assert got.dtype == array.dtype and got.shape == np.shape(expected)
    np.testing.assert_array_equal(got, expected)


def test_clusters_gaps_and_call_limits(files):
    path, array = files["bytes"]
    handle, rows = _reader(path)
    try:
        every_other = np.arange(0, 5000, 2)  # 2500 rows in one cluster: split into calls of <= 512 buffers
        np.testing.assert_array_equal(rows.read(every_other), array[every_other])
        wide = np.array([0, GAP_BYTES + 1, 2 * GAP_BYTES + 3]) % 5000  # gaps too wide for the scratch buffer
        np.testing.assert_array_equal(rows.read(np.sort(wide)), array[np.sort(wide)])
        assert rows.read(np.array([], dtype=np.int64)).shape == (0,)
        with pytest.raises(IndexError, match="out of range"):
            rows.read(np.array([0, 5000]))
        with pytest.raises(IndexError, match="out of range"):
            rows.read(-1)
    finally:
        rows.close()
        handle.close()
    with pytest.raises(ValueError, match="closed"):
        rows.read(0)


def test_not_used_for_chunked_compressed_or_object_data(tmp_path):
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("chunked", data=np.zeros((8, 2)), chunks=(2, 2))
        f.create_dataset("gz", data=np.zeros((8, 2)), compression="gzip")
        vlen = f.create_dataset("vlen", (2,), dtype=h5py.vlen_dtype(np.uint8))
        vlen[0], vlen[1] = np.array([1], "uint8"), np.array([2, 3], "uint8")
        f.create_dataset("empty", shape=(0, 3), dtype="uint8")
        f.create_dataset("scalar", data=3)
    with h5py.File(path, "r") as f:
        assert all(ContiguousRows.of(f[name]) is None for name in ("chunked", "gz", "vlen", "empty", "scalar"))


def _cifar_like(path, n=64):
    data = np.random.default_rng(1).integers(0, 256, size=(n, 3, 8, 8), dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f["features"] = data
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, n)}})
    return data


def test_file_truncated_under_a_reader_is_an_error_not_a_crash(tmp_path):
    # a file mapping would kill the process with SIGBUS here: run it in a child and look at how it ended
    path = tmp_path / "data.hdf5"
    _cifar_like(path)
    script = textwrap.dedent(f"""
        import os, numpy as np
        from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset
        ds = H5PYDataset({str(path)!r}, which_sets=("train",))
        ds.get_data(None, np.array([0, 63]))
        os.truncate({str(path)!r}, os.path.getsize({str(path)!r}) // 2)
        try:
            ds.get_data(None, np.array([1, 62]))
        except DamagedFileError as err:
            print("refused:", err)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the reader died (exit {result.returncode}): {result.stderr[-2000:]}"
    assert "refused:" in result.stdout and "changed while being read" in result.stdout


def test_file_rewritten_in_place_is_not_read_as_the_old_one(tmp_path):
    path = tmp_path / "data.hdf5"
    _cifar_like(path)
    ds = H5PYDataset(path, which_sets=("train",))
    ds.get_data(None, np.array([3]))
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:  # the same layout, other bytes
        f["features"] = np.zeros((64, 3, 8, 8), dtype=np.uint8)
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 64)}})
    with open(path, "wb") as target:  # truncated and written again in place (the same inode)
        target.write(other.read_bytes())
    os.utime(path, ns=(0, 10**18))  # a new modification time even where the clock is coarse
    with pytest.raises(DamagedFileError, match="rename it into place") as info:
        ds.get_data(None, np.array([3, 9]))
    assert isinstance(info.value.__cause__, FileChangedError)


def test_short_read_is_a_file_changed_error(tmp_path, monkeypatch):
    path = tmp_path / "data.hdf5"
    data = _cifar_like(path)
    handle, rows = _reader_of(path)
    try:
        real = os.preadv
        calls = []

        def short_then_nothing(fd, buffers, offset):
            calls.append(offset)
            if len(calls) == 1:  # a partial read is completed ...
                view = buffers[0]
                got = real(fd, [view[:5]], offset)
                return got
            return real(fd, buffers, offset)

        monkeypatch.setattr(os, "preadv", short_then_nothing)
        np.testing.assert_array_equal(rows.read(np.array([2, 40])), data[[2, 40]])
        monkeypatch.setattr(os, "preadv", lambda fd, buffers, offset: 0)  # ... and no data at all is an error
        with pytest.raises(FileChangedError, match="ends at byte"):
            rows.read(5)
    finally:
        rows.close()
        handle.close()


def _reader_of(path):
    handle = h5py.File(path, "r")
    return handle, ContiguousRows.of(handle["features"])
