"""Fuel's ``fuel.utils`` and ``fuel.config`` behaviour (issue 18 items 4 and 8, part of 9).

Our own tests of what Fuel's tests/test_utils.py and tests/test_config_parser.py pin:
Subset's algebra and bounds, find_in_data_path's IOError, do_not_pickle_attributes,
producer_consumer, remember_cwd, and the Fuel spellings of the configuration API.
"""

from __future__ import annotations

import os
import pickle
from functools import partial

import h5py
import numpy as np
import pytest

import fuel
from fuel.config_parser import (
    Configuration,
    ConfigurationError,
    UnknownOptionError,
    extra_downloader_converter,
)
from fuel.utils import DataFileNotFoundError, Subset, do_not_pickle_attributes, find_in_data_path, remember_cwd
from fuel.utils.parallel import ProducerError, producer_consumer

# -- Subset -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "n"),
    [([0, -1], 2), ([0, 10], 2), (slice(-1, None), 2), (slice(None, -1), 2), (slice(None, None, -1), 2),
     (slice(0, 4, 2), 4), (slice(None, 10), 2), (slice(13, 18), 10), (slice(10, 10), 10), (slice(11, 10), 15),
     (np.array([0.5, 1.0]), 4), (np.array([[0, 1]]), 4)],
)
def test_subset_refuses_what_fuel_refuses(given, n):
    with pytest.raises(ValueError):
        Subset(given, n)


def test_subset_lists_are_sorted_unique_and_contiguous_ones_become_slices():
    assert Subset([0, 3, 3, 5], 10).list_or_slice == [0, 3, 5]
    assert Subset(np.array([5, 1, 3, 0]), 10).list_or_slice == [0, 1, 3, 5]
    assert Subset([3, 1, 2], 10).list_or_slice == slice(1, 4, None)
    assert Subset([0, 3, 8, 13], 15).num_examples == 4
    assert Subset(slice(3, 18, 1), 50).num_examples == 15
    assert Subset(slice(None), 7).num_examples == 7 and not Subset(slice(None), 7).is_list
    assert Subset([], 3).is_empty and Subset(slice(0, 0), 3).is_empty
    assert Subset.empty_subset(4).num_examples == 0


def test_subset_translates_requests_like_numpy_indexing():
    base = np.arange(16) * 10
    list_subset, slice_subset = Subset([0, 2, 5, 7, 10, 15], 16), Subset(slice(1, 14), 16)
    for subset in (list_subset, slice_subset):
        within = base[subset.get_list_representation()]
        for request in ([3, 2, 4], slice(1, 4, 2), slice(2, 5), [0]):
            translated = subset[request]
            assert base[translated].tolist() == within[request].tolist()
    assert list_subset[[3, 2, 4]] == [7, 5, 10] and list_subset[slice(1, 4, 2)] == [2, 7]
    assert slice_subset[[3, 2, 4]] == [4, 3, 5] and slice_subset[slice(1, 4, 2)] == slice(2, 5, 2)
    assert Subset([1, 3, 5, 7], 8)[slice(None)] == [1, 3, 5, 7]
    assert Subset(slice(0, 8, 1), 8)[slice(None)] == slice(0, 8, 1)
    assert Subset.subset_of(slice_subset, [0, 2]).list_or_slice == [1, 3]


@pytest.mark.parametrize(
    ("request_", "n"),
    [([], 1), ([-1], 1), ([1], 1), ([2], 1), (slice(-1, None), 1), (slice(None, -1), 1), (slice(None, None, -1), 1),
     (slice(None, 2), 1), (slice(1, None), 1), (slice(1, 1), 3), (slice(2, 1), 3)],
)
def test_subset_request_checks(request_, n):
    check = Subset._list_request_sanity_check if isinstance(request_, list) else Subset._slice_request_sanity_check
    with pytest.raises(ValueError):
        check(request_, n)


def test_subset_addition():
    with pytest.raises(ValueError, match="different sizes"):
        Subset([1, 3], 10) + Subset([2, 4], 11)
    assert (Subset([0, 3, 2, 8], 10) + Subset([0, 4, 5], 10)).list_or_slice == [0, 2, 3, 4, 5, 8]
    assert (Subset([0, 3, 2, 8], 10) + Subset(slice(1, 5), 10)).list_or_slice == [0, 1, 2, 3, 4, 8]
    assert (Subset(slice(1, 5), 10) + Subset([0, 3, 2, 8], 10)).list_or_slice == [0, 1, 2, 3, 4, 8]
    for a, b in ((slice(0, 4, 1), slice(4, 7, 1)), (slice(0, 6, 1), slice(4, 7, 1))):
        assert (Subset(a, 10) + Subset(b, 10)).list_or_slice == slice(0, 7, 1)
        assert (Subset(b, 10) + Subset(a, 10)).list_or_slice == slice(0, 7, 1)
    assert (Subset(slice(0, 4), 20) + Subset(slice(12, 16), 20)).list_or_slice == [0, 1, 2, 3, 12, 13, 14, 15]
    assert (Subset([], 5) + Subset([1, 3], 5)).list_or_slice == [1, 3]


def test_subset_indexing_within_and_sorted_fancy_indexing(tmp_path):
    assert Subset.sorted_fancy_indexing(np.arange(10), [0]).tolist() == [0]
    assert Subset.sorted_fancy_indexing(np.arange(10), [0, 5, 2, 5]).tolist() == [0, 5, 2, 5]
    with h5py.File(tmp_path / "x.hdf5", "w") as f:
        f["x"] = np.arange(20) * 3
        subset = Subset([1, 4, 9, 12], 20)
        # h5py needs increasing indices: sort_indices reads in order and restores the requested one
        assert subset.index_within_subset(f["x"], [3, 0, 2], sort_indices=True).tolist() == [36, 3, 27]
        assert subset.index_within_subset(f["x"], 1).tolist() == 12
        assert subset.index_within_subset(list("abcdefghijklmnopqrst"), [2, 0]) == ["j", "b"]
    for empty in (Subset([], 2), Subset(slice(0, 0), 2)):
        for request in ([1], slice(1, 2)):
            with pytest.raises(ValueError):
                empty.index_within_subset([1, 2], request)


def test_subset_map_refuses_boolean_requests():
    with pytest.raises(ValueError, match="boolean"):
        Subset(slice(0, 5), 5).map(True)


# -- find_in_data_path, remember_cwd --------------------------------------------------------


def test_find_in_data_path_raises_an_ioerror_for_a_missing_file(tmp_path, monkeypatch):
    (tmp_path / "dir1").mkdir()
    (tmp_path / "dir2").mkdir()
    for name in ("dir1/file_1.txt", "dir2/file_1.txt", "dir2/file_2.txt"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("FUEL_H5_TEST_ROOT", str(tmp_path))
    with fuel.config.override(data_path=os.pathsep.join(["$FUEL_H5_TEST_ROOT/dir1", str(tmp_path / "dir2")])):
        assert find_in_data_path("file_2.txt") == str(tmp_path / "dir2" / "file_2.txt")
        assert find_in_data_path("file_1.txt") == str(tmp_path / "dir1" / "file_1.txt")
        with pytest.raises(IOError, match="'dummy.txt' not found") as caught:
            find_in_data_path("dummy.txt")
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, DataFileNotFoundError)
    assert isinstance(caught.value, ValueError)  # code written for earlier versions of this package
    assert caught.value.filename == "dummy.txt"


def test_remember_cwd_restores_the_directory_after_an_error(tmp_path):
    before = os.getcwd()
    with pytest.raises(RuntimeError):
        with remember_cwd():
            os.chdir(tmp_path)
            raise RuntimeError("boom")
    assert os.getcwd() == before


# -- do_not_pickle_attributes ----------------------------------------------------------------


@do_not_pickle_attributes("bulky", "function")
class _Loaded:
    loads = 0

    def __init__(self):
        self.kept = "kept"
        self.load()

    def load(self):
        type(self).loads += 1
        self.bulky = list(range(100))
        self.function = lambda x: x  # not picklable


@do_not_pickle_attributes("iterator")
class _HoldsIterator:
    def __init__(self):
        self.load()

    def load(self):
        self.iterator = iter([1, 2, 3])


@do_not_pickle_attributes("attribute")
class _LoadsNothing:
    def load(self):
        pass


def test_do_not_pickle_attributes_rebuilds_on_first_use():
    blob = pickle.dumps(_Loaded())
    assert b"bulky" not in blob.replace(b"_Loaded", b"")  # neither value nor key travels
    before = _Loaded.loads
    copy = pickle.loads(blob)
    assert copy.kept == "kept" and _Loaded.loads == before
    assert copy.bulky == list(range(100)) and copy.function(3) == 3 and _Loaded.loads == before + 1


def test_do_not_pickle_attributes_errors():
    class NoLoad:
        pass

    with pytest.raises(ValueError, match="no load"):
        do_not_pickle_attributes("x")(NoLoad)
    with pytest.raises(ValueError, match="iterator"):
        pickle.dumps(_HoldsIterator())
    with pytest.raises(ValueError, match="did not set 'attribute'"):
        _LoadsNothing().attribute


# -- producer_consumer ----------------------------------------------------------------------


def _send_squares(socket, n):
    socket.send_json(n)
    for i in range(n):
        socket.send_json(i * i)


def _sum_all(socket):
    return sum(socket.recv_json() for _ in range(socket.recv_json()))


def _fail(socket):
    raise RuntimeError("the producer failed on purpose")


@pytest.mark.timeout(60)
def test_producer_consumer_returns_what_the_consumer_returns():
    assert producer_consumer(partial(_send_squares, n=500), _sum_all) == sum(i * i for i in range(500))


@pytest.mark.timeout(60)
def test_producer_consumer_reports_a_dead_producer_instead_of_hanging():
    with pytest.raises(ProducerError, match="exited with code 1"):
        producer_consumer(_fail, lambda socket: socket.recv_json())


def _send_forever(socket):
    while True:
        socket.send_json(1)


@pytest.mark.timeout(60)
def test_producer_consumer_stops_the_producer_when_the_consumer_fails():
    def consume(socket):
        socket.recv_json()
        raise KeyError("the consumer failed on purpose")

    with pytest.raises(KeyError, match="on purpose"):
        producer_consumer(_send_forever, consume)


@pytest.mark.timeout(60)
def test_producer_consumer_leaves_a_given_context_open():
    zmq = pytest.importorskip("zmq")
    context = zmq.Context()
    try:
        assert producer_consumer(partial(_send_squares, n=10), _sum_all, context=context) == 285
        assert not context.closed
        socket = context.socket(zmq.PUSH)  # still usable
        socket.close()
    finally:
        context.term()


# -- configuration --------------------------------------------------------------------------


def test_configuration_with_fuels_spelling(tmp_path, monkeypatch):
    rc = tmp_path / "fuelrc"
    rc.write_text("data_path: yaml_path\n")
    monkeypatch.setenv("FUEL_CONFIG", str(rc))
    monkeypatch.delenv("FUEL_DATA_PATH", raising=False)
    monkeypatch.delenv("FUEL_CONFIG_TEST", raising=False)
    config = Configuration()
    config.add_config("data_path", str, env_var="FUEL_DATA_PATH")
    config.add_config("config_with_default", int, default="1", env_var="FUEL_CONFIG_TEST")
    config.add_config("config_without_default", str)
    config.load_yaml()
    assert config.data_path == "yaml_path"
    monkeypatch.setenv("FUEL_DATA_PATH", "env_path")
    assert config.data_path == "env_path"
    assert config.config_with_default == 1
    monkeypatch.setenv("FUEL_CONFIG_TEST", "2")
    assert config.config_with_default == 2
    with pytest.raises(AttributeError):
        config.non_existing_config
    assert not hasattr(config, "non_existing_config") and getattr(config, "other", 5) == 5
    with pytest.raises(ConfigurationError, match="not set"):
        config.config_without_default
    config.data_path = "manual_path"
    assert config.data_path == "manual_path"
    # deliberate difference: an undeclared public name is refused (a misspelt option is never silently ignored)
    with pytest.raises(UnknownOptionError, match="add_config"):
        config.new_config = "new_config"


def test_load_yaml_reports_unknown_keys_at_once(tmp_path, monkeypatch):
    rc = tmp_path / "fuelrc"
    rc.write_text("data_paht: /data\n")
    monkeypatch.setenv("FUEL_CONFIG", str(rc))
    config = Configuration()
    config.add_config("data_path", str)
    with pytest.raises(ConfigurationError, match="unknown fuel configuration option.*'data_paht'"):
        config.load_yaml()


def test_private_attributes_are_plain_attributes_as_in_fuel():
    saved = fuel.config.data_path if fuel.config.source("data_path") != "default" else None
    fuel.config._old_data_path = saved  # Fuel's tests keep the old value there
    assert fuel.config._old_data_path == saved
    del fuel.config._old_data_path
    assert not hasattr(fuel.config, "_old_data_path")
    with pytest.raises(ConfigurationError, match="internal"):
        fuel.config._options = {}


def test_extra_downloader_converter():
    assert extra_downloader_converter(["a.b.c", "d.e.f"]) == ["a.b.c", "d.e.f"]
    assert extra_downloader_converter("a.b.c d.e.f") == ["a.b.c", "d.e.f"]
    assert extra_downloader_converter("a.b.c") == ["a.b.c"]
