"""H5PYDataset as Fuel has it (issue 18 item 2) and against hostile files (issue 17 item 9).

Our own tests of what Fuel's tests/test_hdf5.py pins — an open ``h5py.File``, including an in-memory one
(``driver='core', backing_store=False``), used as the dataset's file — plus what such a dataset does in a
checkpoint and in worker processes, lazily read axis labels, and clear errors for malformed split attributes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle

import h5py
import numpy as np
import pytest

from fuel.datasets.hdf5 import ExternalFileError, H5PYDataset, LayoutError, UnsortedRequestError
from fuel.schemes import SequentialExampleScheme, SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import MultiProcessing
from fuel.transformers.background import BackgroundProcess

FEATURES = np.arange(3600, dtype="uint16").reshape(100, 36)
TARGETS = np.arange(30, dtype="uint8").reshape(30, 1)


def _memory_file(name="memory.hdf5", features=FEATURES, targets=TARGETS):
    """An in-memory file with Fuel's layout: train 0:20, test 20:30, unlabeled 30:100 (features only)."""
    h5file = h5py.File(name, "w", driver="core", backing_store=False)
    h5file["features"] = features
    h5file["targets"] = targets
    for source, labels in (("features", ("batch", "feature")), ("targets", ("batch", "index"))):
        for dim, label in zip(h5file[source].dims, labels):
            dim.label = label
    h5file.attrs["split"] = H5PYDataset.create_split_array({
        "train": {"features": (0, 20), "targets": (0, 20)},
        "test": {"features": (20, 30), "targets": (20, 30)},
        "unlabeled": {"features": (30, 100, None, ".")},
    })
    return h5file


@pytest.fixture
def memory_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    h5file = _memory_file()
    yield h5file
    h5file.close()


# -- an open h5py.File as the dataset's file -------------------------------------------------


def test_in_memory_file_reads_like_fuel(memory_file):
    train = H5PYDataset(memory_file, which_sets=("train",))
    assert train.provides_sources == ("features", "targets") and train.num_examples == 20
    assert H5PYDataset(memory_file, which_sets=("unlabeled",)).provides_sources == ("features",)
    assert set(H5PYDataset.get_all_splits(memory_file)) == {"train", "test", "unlabeled"}
    assert set(H5PYDataset.get_all_sources(memory_file)) == {"features", "targets"}
    assert train.axis_labels == {"features": ("batch", "feature"), "targets": ("batch", "index")}
    state = train.open()
    for request, rows in ((slice(0, 8), slice(0, 8)), ([7, 4, 6, 2, 5], [7, 4, 6, 2, 5]), (3, 3)):
        got = train.get_data(state, request)
        np.testing.assert_array_equal(got[0], FEATURES[rows])
        np.testing.assert_array_equal(got[1], TARGETS[rows])
    train.close(state)
    np.testing.assert_array_equal(train.get_data(request=slice(0, 2))[0], FEATURES[:2])  # no open() needed
    both = H5PYDataset(memory_file, which_sets=("train", "test"), load_in_memory=True)
    np.testing.assert_array_equal(both.get_data(both.open(), list(range(30)))[1], TARGETS[:30])
    subset = H5PYDataset(memory_file, which_sets=("train",), subset=[0, 4, 2])
    np.testing.assert_array_equal(subset.get_data(None, slice(0, 3))[0], FEATURES[[0, 2, 4]])
    iterator = H5PYDataset(memory_file, which_sets=("test",)).get_example_stream().get_epoch_iterator()
    np.testing.assert_array_equal(next(iterator)[0], FEATURES[20])
    assert memory_file.id.valid  # the caller's file is never closed for it


def test_an_in_memory_file_never_reads_a_disk_file_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with h5py.File("same.hdf5", "w") as disk:  # another file with the same name in the working directory
        disk["features"] = np.zeros((100, 36), dtype="uint16")
        disk["targets"] = np.zeros((30, 1), dtype="uint8")
        disk.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 20), "targets": (0, 20)}})
    memory = _memory_file("same.hdf5")
    try:
        dataset = H5PYDataset(memory, which_sets=("train",))
        np.testing.assert_array_equal(dataset.get_data(None, [5, 1])[0], FEATURES[[5, 1]])
    finally:
        memory.close()


def test_a_closed_or_dropped_handle_is_an_ioerror(memory_file):
    dataset = H5PYDataset(memory_file, which_sets=("train",))
    dataset._external_file_handle = None
    with pytest.raises(IOError, match="closed"):
        dataset.get_data(None, [0])
    handle = _memory_file("other.hdf5")
    dataset = H5PYDataset(handle, which_sets=("train",))
    handle.close()
    with pytest.raises(ExternalFileError, match="closed"):
        dataset.get_data(None, [0])
    with pytest.raises(ExternalFileError, match="closed"):
        H5PYDataset(handle, which_sets=("train",))


def test_unsorted_request_without_sort_indices_is_a_type_error(memory_file, tmp_path):
    strict = H5PYDataset(memory_file, which_sets=("train",), sort_indices=False)
    with pytest.raises(TypeError, match="sort_indices=True"):
        strict.get_data(None, [7, 4, 6])
    np.testing.assert_array_equal(strict.get_data(None, [1, 4, 6])[0], FEATURES[[1, 4, 6]])
    path = tmp_path / "contiguous.hdf5"  # pread reads refuse it the same way
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(10)
        f.attrs["split"] = H5PYDataset.create_split_array({"all": {"x": (0, 10)}})
    with pytest.raises(UnsortedRequestError):
        H5PYDataset(path, which_sets=("all",), sort_indices=False).get_data(None, [3, 1])
    assert H5PYDataset(path, which_sets=("all",), sort_indices=False, load_in_memory=True).get_data(
        None, [3, 1])[0].tolist() == [3, 1]


def test_fuel_private_get_data_paths_check_their_arguments(memory_file):
    dataset = H5PYDataset(memory_file, which_sets=("train",))
    with pytest.raises(ValueError):
        dataset._in_memory_get_data(None, None)
    with pytest.raises(ValueError):
        dataset._in_memory_get_data(True, None)
    with pytest.raises(ValueError):
        dataset._out_of_memory_get_data(None, {})
    with pytest.raises(ValueError):
        dataset.get_data(None, True)  # a boolean is not an index


# -- workers and checkpoints ------------------------------------------------------------------


def _read_in_child(dataset, queue):
    try:
        queue.put(("data", dataset.get_data(None, [0])[0].tolist()))
    except Exception as err:  # noqa: BLE001 - the test inspects it
        queue.put(("error", f"{type(err).__name__}: {err}"))


def test_workers_refuse_an_in_memory_file_at_construction(memory_file):
    dataset = H5PYDataset(memory_file, which_sets=("train",))
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(20, 5))
    with pytest.raises(ExternalFileError, match="worker process cannot reopen it.*path"):
        MultiProcessing(stream)
    with pytest.raises(ExternalFileError, match="worker process cannot reopen it"):
        BackgroundProcess(stream, max_store=2)
    with pytest.raises(TypeError, match="cannot be pickled.*path"):
        pickle.dumps(dataset)
    # a process forked by other means gets a clear error on its first read, never another file's data
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(dataset, queue))
    child.start()
    kind, value = queue.get(timeout=60)
    child.join(60)
    assert kind == "error" and "ExternalFileError" in value and "cannot reopen it" in value


def test_a_replaced_file_is_not_read_by_a_reopening_process(tmp_path):
    path = tmp_path / "data.hdf5"
    for n in (10, 12):  # the second file replaces the first and is larger
        with h5py.File(path.with_suffix(f".{n}"), "w") as f:
            f["x"] = np.arange(n)
            f.attrs["split"] = H5PYDataset.create_split_array({"all": {"x": (0, 10)}})
    os.replace(path.with_suffix(".10"), path)
    with h5py.File(path, "r") as handle:
        dataset = H5PYDataset(handle, which_sets=("all",))  # read-only on disk: reopened by path
    assert dataset.get_data(None, [2])[0].tolist() == [2]
    dataset.close_file()
    os.replace(path.with_suffix(".12"), path)
    with pytest.raises(ExternalFileError, match="no longer the file"):
        dataset.get_data(None, [2])


def test_checkpoint_state_of_an_in_memory_dataset_records_the_position_only(memory_file, tmp_path):
    def stream_over(h5file):
        return DataStream(H5PYDataset(h5file, which_sets=("train",)), iteration_scheme=ShuffledScheme(20, 3, rng=7))

    stream = stream_over(memory_file)
    iterator = stream.get_epoch_iterator(as_dict=True)
    next(iterator), next(iterator)
    state = json.loads(json.dumps({"stream": stream.state_dict(), "iterator": iterator.state_dict()}))
    assert "memory.hdf5" not in json.dumps(state)  # no path, no handle: there is none to record
    expected = next(iterator)
    rebuilt = _memory_file("rebuilt.hdf5")  # on resume, the script builds its in-memory file again
    try:
        again = stream_over(rebuilt)
        again.load_state_dict(state["stream"])
        resumed = again.get_epoch_iterator(as_dict=True)
        resumed.load_state_dict(state["iterator"])
        got = next(resumed)
    finally:
        rebuilt.close()
    np.testing.assert_array_equal(got["features"], expected["features"])


# -- malformed split attributes and sources (issue 17 item 9) -------------------------------


def _file_with(tmp_path, name, split, sources=None):
    path = tmp_path / f"{name}.hdf5"
    with h5py.File(path, "w") as f:
        for source, data in (sources or {"x": np.arange(10), "y": np.arange(10)}).items():
            f[source] = data
        f.attrs["split"] = split(f) if callable(split) else split
    return path


def _rows(entries):
    return H5PYDataset.create_split_array(entries)


def _with_field(array, name, values):
    array = array.copy()
    array[name] = values
    return array


MALFORMED = {
    "a string": ("split", "must be a 1-D compound array"),
    "a 2-D array": (np.zeros((2, 2)), "must be a 1-D compound array"),
    "float start": (np.array([(b"train", b"x", 0.0, 5.0, True)],
                             dtype=[("split", "S5"), ("source", "S1"), ("start", "f8"), ("stop", "f8"),
                                    ("available", "?")]), "field 'start'.*expected integers"),
    "no stop field": (np.array([(b"train", b"x", 0, True)],
                               dtype=[("split", "S5"), ("source", "S1"), ("start", "i8"), ("available", "?")]),
                      "lacks the field"),
    "start after stop": (_with_field(_rows({"train": {"x": (0, 5), "y": (0, 5)}}), "start", [6, 0]),
                         "start 6 is after stop 5"),
    "negative start": (_with_field(_rows({"train": {"x": (0, 5), "y": (0, 5)}}), "start", [-2, 0]),
                       "must not be negative"),
    "stop past the end": (_rows({"train": {"x": (0, 11), "y": (0, 11)}}), "stops at 11, past the 10 examples"),
    "an empty split": (_rows({"train": {"x": (4, 4), "y": (4, 4)}}), "selects no examples"),
    "every row unavailable": (_with_field(_rows({"train": {"x": (0, 5), "y": (0, 5)}}), "available", False),
                              "no available source"),
    "a pair listed twice": (np.concatenate([_rows({"train": {"x": (0, 5), "y": (0, 5)}})] * 2), "listed twice"),
    "a name that is not UTF-8": (_with_field(_rows({"train": {"x": (0, 5), "y": (0, 5)}}), "split", b"\xfftrai"),
                                 "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_split_attributes_name_the_file(tmp_path, case):
    split, message = MALFORMED[case]
    path = _file_with(tmp_path, case.replace(" ", "_"), split)
    with pytest.raises(LayoutError, match=message) as caught:
        H5PYDataset(path, which_sets=("train",) if "UTF-8" not in case else (b"\xfftrai".decode("latin-1"),))
    assert str(path) in str(caught.value)


def test_scalar_sources_and_bad_index_datasets_name_the_file(tmp_path):
    scalar = _file_with(tmp_path, "scalar", _rows({"train": {"x": (0, 1), "y": (0, 5)}}),
                        {"x": np.float32(3), "y": np.arange(5)})
    with pytest.raises(LayoutError, match=r"source 'x' is a scalar") as caught:
        H5PYDataset(scalar, which_sets=("train",))
    assert str(scalar) in str(caught.value)

    def float_indices(f):
        return _rows({"train": {"x": (-1, -1, f.create_dataset("idx", data=[0.5, 2.0]).ref), "y": (0, 2)}})

    with pytest.raises(LayoutError, match="1-D integer dataset"):
        H5PYDataset(_file_with(tmp_path, "float_idx", float_indices), which_sets=("train",))

    def far_indices(f):
        return _rows({"train": {"x": (-1, -1, f.create_dataset("idx", data=[0, 10]).ref), "y": (0, 2)}})

    with pytest.raises(LayoutError, match="index dataset.*0..9, got 10"):
        H5PYDataset(_file_with(tmp_path, "far_idx", far_indices), which_sets=("train",))


# -- axis labels are read only when asked for ------------------------------------------------


def test_constructing_and_reading_never_touch_dimension_scales(memory_file, monkeypatch):
    def refuse(self):
        raise AssertionError("a dimension scale was read")

    real_getitem = h5py.AttributeManager.__getitem__

    def getitem(self, name):
        if name in ("DIMENSION_LABELS", "DIMENSION_LIST"):
            raise AssertionError(f"a dimension scale was read ({name})")
        return real_getitem(self, name)

    monkeypatch.setattr(h5py.Dataset, "dims", property(refuse))  # h5py's dimension-scale API (never used)
    monkeypatch.setattr(h5py.AttributeManager, "__getitem__", getitem)  # the labels, read as attributes
    for load_in_memory in (False, True):
        dataset = H5PYDataset(memory_file, which_sets=("train",), load_in_memory=load_in_memory)
        stream_data = dataset.get_data(None, slice(0, 20))
        np.testing.assert_array_equal(stream_data[0], FEATURES[:20])
    given = H5PYDataset(memory_file, which_sets=("train",), axis_labels={"features": ("b", "f"), "targets": ("b", "i")})
    assert given.axis_labels == {"features": ("b", "f"), "targets": ("b", "i")}  # nothing left to read
    with pytest.raises(AssertionError, match="dimension scale"):
        H5PYDataset(memory_file, which_sets=("train",)).axis_labels


def test_sequential_example_scheme_over_vlen_in_memory_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shapes = [(3, 2, 2), (3, 4, 4), (3, 5, 4), (3, 2, 3)]
    examples = [np.arange(int(np.prod(s)), dtype="uint8").reshape(s) for s in shapes]
    with h5py.File("vlen.hdf5", "w", driver="core", backing_store=False) as f:
        from fuel.converters import write_vlen_source

        write_vlen_source(f, "features", examples, "uint8", ("channel", "height", "width"))
        f["targets"] = np.arange(4, dtype="uint8").reshape(4, 1)
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 4), "targets": (0, 4)}})
        dataset = H5PYDataset(f, which_sets=("train",), sort_indices=False)
        assert dataset.axis_labels["features"] == ("batch", "channel", "height", "width")
        iterator = DataStream(dataset, iteration_scheme=SequentialExampleScheme(4)).get_epoch_iterator()
        for example in examples:
            np.testing.assert_array_equal(next(iterator)[0], example)
        unordered = H5PYDataset(f, which_sets=("train",)).get_data(None, [0, 3, 1, 2])[0]
        for got, index in zip(unordered, [0, 3, 1, 2]):
            np.testing.assert_array_equal(got, examples[index])
