"""The opt-in mapped reader (H5PYDataset(memory_map=True)): equal to h5py, copies only, changes refused."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset
from fuel.datasets.hdf5_mmap import MappedRows
from fuel.datasets.hdf5_pread import ContiguousRows, FileChangedError
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream


def _write(path, data, pad=37):
    with h5py.File(path, "w") as f:
        f.create_dataset("pad", data=np.arange(pad, dtype="uint8"))  # the data does not start at offset 0
        f["features"] = data
        f["targets"] = np.arange(len(data), dtype="int64")[:, None]
        f.attrs["split"] = H5PYDataset.create_split_array(
            {"train": {"features": (0, len(data)), "targets": (0, len(data))}}
        )


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mmap") / "data.hdf5"
    data = np.random.default_rng(0).integers(-500, 500, size=(300, 3, 5, 7)).astype(">i2")  # odd rows, big-endian
    _write(path, data)
    return path, data


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_rows_equal_numpy_for_any_request(dataset_file, data):
    path, array = dataset_file
    n = array.shape[0]
    kind = data.draw(st.sampled_from(["sorted", "unsorted", "duplicates", "int", "slice", "stepped", "empty"]))
    if kind == "int":
        request = data.draw(st.integers(0, n - 1))
    elif kind in ("slice", "stepped"):
        start, stop = data.draw(st.integers(0, n)), data.draw(st.integers(0, n))
        request = slice(start, stop, data.draw(st.integers(2, 5)) if kind == "stepped" else None)
    elif kind == "empty":
        request = np.array([], dtype=np.int64)
    else:
        size = data.draw(st.integers(1, 200))
        request = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size)))
        if kind == "sorted":
            request = np.unique(request)
        elif kind == "unsorted":
            request = np.random.default_rng(size).permutation(np.unique(request))
    with h5py.File(path, "r") as handle:
        rows = MappedRows.of(handle["features"])
        assert rows is not None
        try:
            got = rows.read(request)
        finally:
            rows.close()
    expected = array[request]
    assert got.dtype == array.dtype and got.shape == np.shape(expected)
    np.testing.assert_array_equal(got, expected)


def test_batches_are_private_copies_that_outlive_the_reader(dataset_file):
    path, array = dataset_file
    with h5py.File(path, "r") as handle:
        rows = MappedRows.of(handle["features"])
        batches = [rows.read(slice(0, 4)), rows.read(7), rows.read(np.array([9, 2]))]
        rows.close()
    for batch in batches:
        assert batch.flags.owndata or batch.base is None or not isinstance(batch.base, (np.memmap, memoryview))
        batch[...] = 0  # writable: a view of a read-only mapping is not
    np.testing.assert_array_equal(batches[0][:0], array[:0])
    with pytest.raises(ValueError, match="closed"):
        rows.read(0)


def test_out_of_range_and_malformed_requests_are_errors(dataset_file):
    path, _ = dataset_file
    with h5py.File(path, "r") as handle:
        rows = MappedRows.of(handle["features"])
        try:
            for bad in (300, -1, np.array([0, 300]), np.array([-2, 1])):
                with pytest.raises(IndexError, match="out of range"):
                    rows.read(bad)
            with pytest.raises(IndexError, match="1-D array of integers"):
                rows.read(np.array([[1, 2]]))
            with pytest.raises(IndexError, match="1-D array of integers"):
                rows.read(np.array([0.5]))
        finally:
            rows.close()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(MappedRows.__new__(MappedRows))


def test_dataset_with_memory_map_equals_the_default_reader(dataset_file):
    path, array = dataset_file
    mapped = H5PYDataset(path, which_sets=("train",), memory_map=True)
    plain = H5PYDataset(path, which_sets=("train",))
    scheme = ShuffledScheme(mapped.num_examples, 32, rng=3)
    got = list(DataStream(mapped, iteration_scheme=scheme).get_epoch_iterator())
    want = list(DataStream(plain, iteration_scheme=scheme).get_epoch_iterator())
    assert len(got) == len(want) == 10
    for (gf, gt), (wf, wt) in zip(got, want):
        np.testing.assert_array_equal(gf, wf)
        np.testing.assert_array_equal(gt, wt)
    assert isinstance(mapped._sources_for_reading()[0].rows, MappedRows)
    assert isinstance(plain._sources_for_reading()[0].rows, ContiguousRows)
    # the flag travels to worker processes (pickled without the mapping)
    clone = pickle.loads(pickle.dumps(mapped))
    assert clone.memory_map and clone._readers is None
    np.testing.assert_array_equal(clone.get_data(None, np.array([5, 1]))[0], array[[5, 1]])
    for ds in (mapped, plain, clone):
        ds.close_file()


def test_file_rewritten_between_reads_is_refused(tmp_path):
    path = tmp_path / "data.hdf5"
    _write(path, np.ones((64, 3, 8, 8), dtype=np.uint8))
    ds = H5PYDataset(path, which_sets=("train",), memory_map=True)
    ds.get_data(None, np.array([3]))
    other = tmp_path / "other.hdf5"
    _write(other, np.zeros((64, 3, 8, 8), dtype=np.uint8))
    assert os.path.getsize(other) == os.path.getsize(path)
    with open(path, "r+b") as target:  # rewritten in place: same inode, same size, other bytes
        target.write(other.read_bytes())
    os.utime(path, ns=(0, 10**18))  # a new modification time even where the clock is coarse
    with pytest.raises(DamagedFileError, match="rename it into place") as info:
        ds.get_data(None, np.array([3, 9]))
    assert isinstance(info.value.__cause__, FileChangedError)
    ds.close_file()


def test_file_shorter_than_its_data_is_refused_before_mapping(tmp_path):
    # libhdf5 itself refuses to open a truncated file; a reader described by a damaged header must too
    path = tmp_path / "data.hdf5"
    _write(path, np.ones((64, 3, 8, 8), dtype=np.uint8))
    with h5py.File(path, "r") as handle:
        offset = handle["features"].id.get_offset()
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(FileChangedError, match="ends before the data"):
        MappedRows(fd, offset, np.dtype("uint8"), (10**4, 3, 8, 8), "data.hdf5, dataset 'features'")
    with pytest.raises(OSError):  # the reader closed the descriptor it was given
        os.fstat(fd)
