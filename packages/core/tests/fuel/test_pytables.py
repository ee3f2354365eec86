"""PytablesDataset (Fuel's class for files written with PyTables), against numpy indexing of the same arrays."""

from __future__ import annotations

import doctest
import os
import pickle

import numpy as np
import pytest

from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialExampleScheme, ShuffledScheme
from fuel.streams import DataStream

tables = pytest.importorskip("tables", reason="PyTables is optional (pip install 'blocks-core[pytables]')")

from fuel.datasets.pytables import PytablesDataset  # noqa: E402

FEATURES = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
TARGETS = (np.arange(40, dtype=np.uint8) * 7 % 11).reshape(40, 1)


@pytest.fixture
def path(tmp_path):
    file = tmp_path / "data.h5"
    filters = tables.Filters(complib="blosc", complevel=5)
    with tables.open_file(str(file), mode="w", filters=filters) as h5:
        group = h5.create_group("/", "Data")
        features = h5.create_earray(group, "x", atom=tables.Float32Atom(), shape=(0, 3), filters=filters)
        features.append(FEATURES)
        targets = h5.create_carray(group, "y", atom=tables.UInt8Atom(), shape=TARGETS.shape, filters=filters)
        targets[:] = TARGETS
        h5.create_array(group, "short", np.arange(10))
    return str(file)


@pytest.fixture
def dataset(path):
    ds = PytablesDataset(path, ("features", "targets"), start=5, stop=35, sources_in_file=("x", "y"))
    yield ds
    ds.close_file()


REQUESTS = [slice(0, 10), slice(None), slice(3, None, 4), slice(-5, None), slice(25, 100), slice(7, 2), [4, 1, 1, 29],
            [], np.array([0, 29, 3]), 0, 29, np.int64(12)]


@pytest.mark.parametrize("request_", REQUESTS, ids=repr)
def test_reads_what_numpy_reads_from_the_same_rows(dataset, request_):
    reference = IndexableDataset({"features": FEATURES[5:35], "targets": TARGETS[5:35]})
    expected = reference.get_data(None, request_)
    got = dataset.get_data(request=request_)
    assert len(got) == 2
    for a, b in zip(got, expected):
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)


@pytest.mark.parametrize("request_", [True, None, "0", 30, -1, [30], [-1], slice(0, 5, -1), [[1, 2]], [0.5]],
                         ids=repr)
def test_bad_requests_are_value_errors(dataset, request_):
    with pytest.raises(ValueError):
        dataset.get_data(None, request_)


def test_defaults_and_bounds(path):
    whole = PytablesDataset(path, ("x",))
    assert (whole.start, whole.stop, whole.num_examples) == (0, 40, 40)
    assert whole.sources == ("x",) and whole.sources_in_file == ("x",)
    whole.close_file()
    with pytest.raises(ValueError, match="fewer"):
        PytablesDataset(path, ("x", "short"))  # 40 rows asked of a 10-row node
    with pytest.raises(ValueError, match="start"):
        PytablesDataset(path, ("x",), start=30, stop=20)
    for bad in ({"start": -1}, {"stop": True}, {"sources_in_file": ("x", "y")}):
        with pytest.raises(ValueError):
            PytablesDataset(path, ("x",), **bad)
    with pytest.raises(ValueError, match="sources"):
        PytablesDataset(path, "x")


def test_missing_file_nodes_and_non_hdf5_files_are_named(path, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        PytablesDataset(str(tmp_path / "nothere.h5"), ("x",))
    with pytest.raises(ValueError, match="/Other"):
        PytablesDataset(path, ("x",), data_node="Other")
    with pytest.raises(ValueError, match=r"/Data/z .*\['short', 'x', 'y'\]"):
        PytablesDataset(path, ("z",))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="HDF5"):
        PytablesDataset(str(text), ("x",))


def test_a_stream_over_it_is_the_stream_over_the_arrays(dataset):
    reference = IndexableDataset({"features": FEATURES[5:35], "targets": TARGETS[5:35]})
    for scheme in (ShuffledScheme(30, 7, rng=3), SequentialExampleScheme(30)):
        ours = list(DataStream(dataset, iteration_scheme=scheme).get_epoch_iterator())
        theirs = list(DataStream(reference, iteration_scheme=scheme).get_epoch_iterator())
        assert len(ours) == len(theirs)
        assert all(np.array_equal(a, b) for x, y in zip(ours, theirs) for a, b in zip(x, y))
    assert len(list(DataStream(dataset).get_epoch_iterator())) == 30  # its example scheme


def test_closed_unpickled_or_forked_copies_reopen_the_same_file_only(dataset, path):
    first = dataset.get_data(request=[3])[0]
    dataset.close_file()
    assert np.array_equal(dataset.get_data(request=[3])[0], first)  # reopened
    copy = pickle.loads(pickle.dumps(dataset))
    assert len(copy.nodes) == 2 and np.array_equal(copy.get_data(request=[3])[0], first)
    copy.close_file()
    inherited, dataset._pid = dataset._h5file, -1  # as in a forked worker: the inherited handle is not used
    assert np.array_equal(dataset.get_data(request=[3])[0], first)
    assert dataset._h5file is not inherited
    inherited.close()
    dataset.close_file()
    replacement = path + ".new"
    with tables.open_file(replacement, mode="w") as h5:
        h5.create_array(h5.create_group("/", "Data"), "x", np.zeros((3, 3)))
    os.replace(replacement, path)
    with pytest.raises(OSError, match="no longer the file"):
        dataset.get_data(request=[0])


def test_docstring_examples():
    import fuel.datasets.pytables

    result = doctest.testmod(fuel.datasets.pytables, optionflags=doctest.ELLIPSIS, report=False)
    assert result.attempted and result.failed == 0
