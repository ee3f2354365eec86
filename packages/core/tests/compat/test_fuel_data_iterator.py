"""``DataIterator`` built Fuel's way: ``DataIterator(data_stream, request_iterator=None, as_dict=False)``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fuel.datasets import IndexableDataset, IterableDataset
from fuel.iterator import DataIterator
from fuel.schemes import SequentialScheme
from fuel.streams import AbstractDataStream, DataStream
from fuel.utils import do_not_pickle_attributes


def _stream():
    return DataStream(IndexableDataset({"x": np.arange(10, 20)}))


def test_requests_are_passed_to_get_data_and_an_epoch_starts():
    stream = _stream()
    iterator = DataIterator(stream, iter([3, 0, 9]))
    assert stream.epoch == 1 and iterator.epoch == 0
    assert [int(x) for x, in iterator] == [13, 10, 19]
    by_name = DataIterator(stream, request_iterator=[[1, 2]], as_dict=True)
    assert [d["x"].tolist() for d in by_name] == [[11, 12]] and by_name.epoch == 1 and stream.epoch == 2


def test_without_requests_get_data_is_called_until_the_stream_ends():
    stream = DataStream(IterableDataset({"x": [4, 5, 6]}))
    assert [x for x, in DataIterator(stream)] == [4, 5, 6]


def test_a_data_iterator_without_a_stream_is_an_iterator_that_says_it_has_no_data():
    iterator = DataIterator(None)
    assert iter(iterator) is iterator and iterator.sources == ()
    with pytest.raises(ValueError, match="without a data stream"):
        next(iterator)

    @do_not_pickle_attributes("iterator")
    class Holder:
        def load(self):
            self.iterator = DataIterator(None)

    holder = Holder()
    holder.load()
    with pytest.raises(ValueError, match="iterator"):
        pickle.dumps(holder)


def test_a_cursor_and_request_iterator_together_are_refused():
    stream = _stream()
    with pytest.raises(ValueError, match="not both"):
        DataIterator(stream, stream.open_cursor(0), request_iterator=iter([1]))
    with pytest.raises(ValueError, match="not both"):
        DataIterator(stream, iter([0]), request_iterator=iter([1]))


class Squares(AbstractDataStream):
    """A stream written for Fuel that builds its own DataIterator in get_epoch_iterator."""

    sources = ("x",)

    def get_epoch_iterator(self, as_dict=False):
        self.calls = getattr(self, "calls", 0) + 1
        return DataIterator(self, self.iteration_scheme.get_request_iterator(), as_dict=as_dict)

    def get_data(self, request=None):
        return (np.asarray(request) ** 2,)


def test_a_fuel_stream_building_its_own_data_iterator_iterates_and_resumes():
    stream = Squares(iteration_scheme=SequentialScheme(7, 3))
    first = stream.get_epoch_iterator(as_dict=True)
    assert [b["x"].tolist() for b in first] == [[0, 1, 4], [9, 16, 25], [36]]
    second = stream.get_epoch_iterator()
    assert second.epoch == 1 and stream.epoch == 2
    next(second)
    saved = second.state_dict()
    fresh = Squares(iteration_scheme=SequentialScheme(7, 3))
    resumed = fresh.get_epoch_iterator()
    resumed.load_state_dict(saved)
    assert [b[0].tolist() for b in resumed] == [[9, 16, 25], [36]] and fresh.epoch == 2
