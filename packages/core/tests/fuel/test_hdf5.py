"""H5PYDataset against raw h5py reads of files with Fuel's layout."""

from __future__ import annotations

import multiprocessing
import pickle

import h5py
import numpy as np
import pytest

from fuel.datasets.hdf5 import H5PYDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream


def test_split_array_layout_matches_fuel():
    array = H5PYDataset.create_split_array(
        {"train": {"features": (0, 8, None, "a comment"), "targets": (0, 8)}, "test": {"features": (8, 12)}}
    )
    assert array.dtype.names == ("split", "source", "start", "stop", "indices", "available", "comment")
    assert array.dtype["split"].itemsize == 5 and array.dtype["source"].itemsize == 8
    rows = {(bytes(r["split"]), bytes(r["source"])): r for r in array}
    assert len(rows) == 4
    assert not rows[(b"test", b"targets")]["available"]
    assert bytes(rows[(b"train", b"features")]["comment"]) == b"a comment"
    assert bytes(rows[(b"train", b"targets")]["comment"]) == b"."
    assert not rows[(b"train", b"targets")]["indices"]


def test_reads_match_raw_h5py(mnist_like):
    path, features, targets = mnist_like
    train = H5PYDataset(path, which_sets=("train",))
    assert train.sources == ("features", "targets") and train.num_examples == 8
    assert train.axis_labels["features"] == ("batch", "channel", "height", "width")
    with h5py.File(path, "r") as f:
        raw = f["features"][[1, 3, 6]]
    request = np.array([6, 1, 3])
    got = train.get_data(None, request)
    np.testing.assert_array_equal(got[0], features[[6, 1, 3]])
    np.testing.assert_array_equal(np.sort(got[0], axis=0), np.sort(raw, axis=0))
    np.testing.assert_array_equal(train.get_data(None, slice(2, 5))[1], targets[2:5])
    np.testing.assert_array_equal(train.get_data(None, 7)[0], features[7])
    assert train.provenance == {
        "h5py_interface_version": "0.3",
        "fuel_convert_version": "0.2",
        "fuel_convert_command": "fuel-convert mnist",
    }
    assert train._readers[0].rows is not None  # contiguous uncompressed: read with pread


def test_unavailable_source_and_multisplit(mnist_like):
    path, features, _ = mnist_like
    test = H5PYDataset(path, which_sets=("test",))
    assert test.sources == ("features",)
    with pytest.raises(ValueError, match=r"available sources: \['features'\]"):
        H5PYDataset(path, which_sets=("test",), sources=("targets",))
    both = H5PYDataset(path, which_sets=("test", "train"), sources=("features",))
    assert both.num_examples == 12
    np.testing.assert_array_equal(both.get_data(None, slice(0, 12))[0], features)


def test_sources_order_and_subset(mnist_like):
    path, features, targets = mnist_like
    ds = H5PYDataset(path, which_sets=("train",), sources=("targets", "features"), subset=slice(2, 6))
    assert ds.sources == ("targets", "features") and ds.num_examples == 4
    t, f = ds.get_data(None, [3, 0])
    np.testing.assert_array_equal(t, targets[[5, 2]])
    np.testing.assert_array_equal(f, features[[5, 2]])
    listed = H5PYDataset(path, which_sets=("train",), subset=[7, 1, 4, 4])
    assert listed.num_examples == 3
    np.testing.assert_array_equal(listed.get_data(None, slice(0, 3))[1], targets[[1, 4, 7]])


@pytest.mark.parametrize("load_in_memory", [False, True])
def test_in_memory_equals_out_of_core(mnist_like, load_in_memory):
    path, features, _ = mnist_like
    ds = H5PYDataset(path, which_sets=("train",), load_in_memory=load_in_memory, subset=[0, 2, 3, 7])
    stream = DataStream(ds, iteration_scheme=ShuffledScheme(ds.num_examples, 3, rng=1))
    got = np.concatenate([b[0] for b in stream.get_epoch_iterator()])
    order = np.concatenate(list(ShuffledScheme(4, 3, rng=1).get_request_iterator(epoch=0)))
    np.testing.assert_array_equal(got, features[[0, 2, 3, 7]][order])


def test_compressed_dataset_uses_h5py_with_unsorted_requests(tmp_path):
    data = np.arange(60, dtype="int32").reshape(20, 3)
    path = tmp_path / "gz.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, compression="gzip", chunks=(4, 3))
        f.attrs["split"] = H5PYDataset.create_split_array({"all": {"x": (0, 20)}})
    ds = H5PYDataset(path, which_sets=("all",))
    np.testing.assert_array_equal(ds.get_data(None, np.array([9, 2, 9, 15]))[0], data[[9, 2, 9, 15]])
    assert ds._readers[0].rows is None
    strict = H5PYDataset(path, which_sets=("all",), sort_indices=False)
    with pytest.raises(ValueError, match="sort_indices"):
        strict.get_data(None, np.array([3, 1]))


def test_index_list_split(tmp_path):
    data = np.arange(10) * 10
    path = tmp_path / "idx.hdf5"
    with h5py.File(path, "w") as f:
        f["x"] = data
        idx = f.create_dataset("train_indices", data=np.array([8, 1, 5]))
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"x": (0, 0, idx.ref)}, "rest": {"x": (0, 10)}})
    ds = H5PYDataset(path, which_sets=("train",))
    assert ds.num_examples == 3
    np.testing.assert_array_equal(ds.get_data(None, slice(0, 3))[0], [10, 50, 80])


def test_variable_length_sources(vlen_file):
    path, seqs = vlen_file
    ds = H5PYDataset(path, which_sets=("train",))
    assert ds.axis_labels["features"] == ("batch", "time", "feature")
    batch = ds.get_data(None, [2, 0])[0]
    assert batch.dtype == object and batch.shape == (2,)
    np.testing.assert_array_equal(batch[0], seqs[2])
    np.testing.assert_array_equal(batch[1], seqs[0])
    np.testing.assert_array_equal(ds.get_data(None, 1)[0], seqs[1])
    mem = H5PYDataset(path, which_sets=("train", "valid"), load_in_memory=True)
    np.testing.assert_array_equal(mem.get_data(None, [4])[0][0], seqs[4])


def test_bad_input_errors_name_what_is_available(mnist_like, tmp_path):
    path, _, _ = mnist_like
    with pytest.raises(ValueError, match=r"available splits: \['test', 'train'\]"):
        H5PYDataset(path, which_sets=("valid",))
    with pytest.raises(ValueError, match="sequence of split names"):
        H5PYDataset(path, which_sets="train")
    ds = H5PYDataset(path, which_sets=("train",))
    with pytest.raises(ValueError, match="out of range; this subset has 8 examples"):
        ds.get_data(None, [1, 8])
    with pytest.raises(ValueError, match="out of range"):
        ds.get_data(None, 9)
    not_h5 = tmp_path / "text.hdf5"
    not_h5.write_text("hello")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        H5PYDataset(not_h5, which_sets=("train",))
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(path.read_bytes()[:600])
    with pytest.raises(ValueError, match="HDF5"):
        H5PYDataset(truncated, which_sets=("train",))
    with pytest.raises(ValueError, match="does not exist"):
        H5PYDataset(tmp_path / "missing.hdf5", which_sets=("train",))
    plain = tmp_path / "plain.hdf5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="no root attribute 'split'"):
        H5PYDataset(plain, which_sets=("train",))


def test_pickle_carries_no_handle_or_array(mnist_like, tmp_path):
    path, features, _ = mnist_like
    ds = H5PYDataset(path, which_sets=("train",), load_in_memory=True)
    ds.get_data(None, [0])
    payload = pickle.dumps(ds)
    assert len(payload) < 4000 and features.tobytes()[:64] not in payload
    clone = pickle.loads(payload)
    np.testing.assert_array_equal(clone.get_data(None, [1])[0], features[[1]])
    # a pickled dataset unpickles even if the file has gone
    out_of_core = H5PYDataset(path, which_sets=("train",))
    out_of_core.get_data(None, [0])
    payload = pickle.dumps(out_of_core)
    moved = tmp_path / "moved.hdf5"
    path.rename(moved)
    orphan = pickle.loads(payload)
    assert orphan.num_examples == 8
    with pytest.raises(ValueError, match="does not exist"):
        orphan.get_data(None, [0])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_fork_and_spawn_workers_reopen_the_file(mnist_like, method):
    from concurrent.futures import ProcessPoolExecutor

    path, features, _ = mnist_like
    ds = H5PYDataset(path, which_sets=("train",))
    ds.get_data(None, [0, 1])  # open in the parent first (fuel#47)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        got = pool.submit(ds.get_data, None, np.array([7, 0, 3])).result(timeout=120)
    np.testing.assert_array_equal(got[0], features[[7, 0, 3]])
    assert ds.get_data(None, [2])[0].shape == (1, 1, 3, 3)


def test_h5py_file_object_and_background_worker_over_hdf5(mnist_like):
    from fuel.transformers import MultiProcessing

    path, features, _ = mnist_like
    with h5py.File(path, "r") as handle:
        ds = H5PYDataset(handle, which_sets=("train",))
    assert ds.path == str(path)
    ds.get_data(None, [0])  # the parent has the file open before the worker forks (fuel#47)
    stream = MultiProcessing(DataStream(ds, iteration_scheme=ShuffledScheme(8, 3, rng=0)), max_store=2)
    try:
        got = np.concatenate([b[0] for b in stream.get_epoch_iterator()])
    finally:
        stream.close()
    order = np.concatenate(list(ShuffledScheme(8, 3, rng=0).get_request_iterator(epoch=0)))
    np.testing.assert_array_equal(got, features[:8][order])
