"""A DataStream's sources rename its dataset's position by position; names that would mislabel are an error."""

from __future__ import annotations

from collections import OrderedDict

import numpy
import pytest

from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream
from fuel.transformers import FilterSources


def test_setting_a_data_streams_sources_to_other_names_is_refused_not_a_relabelling():
    dataset = IndexableDataset(OrderedDict([("a", numpy.arange(4)), ("b", numpy.arange(4) * 10)]))
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(4, 2))
    stream.sources = ("a", "b")  # the dataset's own: fine
    for other in (("b",), ("b", "a"), ("a", "b", "c"), ("b", "x")):
        with pytest.raises(ValueError, match=r"yields its dataset's sources \('a', 'b'\).*FilterSources"):
            stream.sources = other  # before: ("b",) labelled source a's values "b"
    assert stream.sources == ("a", "b")
    stream.sources = ("x", "b")  # a rename of a (Fuel's use: ("features",) for a one-source dataset)
    assert next(stream.get_epoch_iterator(as_dict=True))["x"].tolist() == [0, 1]
    stream.sources = ("a", "b")
    batch = next(stream.get_epoch_iterator(as_dict=True))
    assert batch["b"].tolist() == [0, 10]
    chosen = FilterSources(stream, ("b",))  # the way to choose
    assert next(chosen.get_epoch_iterator(as_dict=True))["b"].tolist() == [0, 10]
