"""Fuel's stream, dataset and scheme behaviour: attributes, epochs driven by the dataset, lazy axis labels.

Our own tests of what Fuel's test suite pins (see docs/migration.md, "Differences you will notice").
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest

from fuel.datasets import Dataset, IndexableDataset, IterableDataset
from fuel.schemes import (
    BatchSizeScheme,
    BootstrapScheme,
    BucketScheme,
    ConcatenatedScheme,
    ConstantScheme,
    SequentialExampleScheme,
    SequentialScheme,
    ShardedScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
    request_iterator,
)
from fuel.streams import AbstractDataStream, DataStream
from fuel.transformers import (
    Batch,
    Cache,
    Cast,
    Filter,
    FilterSources,
    Flatten,
    ForceFloatX,
    ImagesFromBytes,
    Mapping,
    Merge,
    MinimumImageDimensions,
    MultiProcessing,
    Padding,
    Random2DRotation,
    RandomFixedSizeCrop,
    Rename,
    ScaleAndShift,
    Transformer,
    Unpack,
)


# -- schemes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", [
    SequentialScheme(5, 2), ShuffledScheme(5, 2, rng=1), ShuffledScheme(5, 2, rng=1, sorted_indices=True),
    BootstrapScheme(5, 2, rng=1), BucketScheme([3, 1, 2, 5, 4], 2, bucket_boundaries=[3], rng=1),
    ConcatenatedScheme([SequentialScheme(3, 2), ShuffledScheme([7, 8], 2, rng=1)]),
    ShardedScheme(ShuffledScheme(8, 4, rng=2), 2, 1),
])
def test_batch_request_iterators_yield_lists_of_ints(scheme):
    requests = list(scheme.get_request_iterator(epoch=1))
    assert all(type(r) is list and all(type(i) is int for i in r) for r in requests)
    native = list(scheme.get_request_iterator(epoch=1, native=True))
    assert all(isinstance(r, np.ndarray) for r in native)
    assert requests == [r.tolist() for r in native]  # the same requests, only the container differs
    assert list(request_iterator(scheme, 1, 1))[0].tolist() == requests[1]


def test_list_requests_compare_like_fuel():
    assert list(SequentialScheme(5, 3).get_request_iterator()) == [[0, 1, 2], [3, 4]]
    assert list(SequentialScheme([4, 3, 2, 1, 0], 3).get_request_iterator()) == [[4, 3, 2], [1, 0]]
    assert list(SequentialExampleScheme(3).get_request_iterator()) == [0, 1, 2]
    assert list(ConstantScheme(3, num_examples=7).get_request_iterator()) == [3, 3, 1]


def test_seeded_schemes_have_an_rng_that_reseeds():
    scheme = ShuffledExampleScheme(7)
    assert isinstance(scheme.rng, np.random.Generator)
    scheme.rng = 5
    assert scheme.seed == 5 and list(scheme.get_request_iterator(epoch=0)) == list(
        ShuffledExampleScheme(7, rng=5).get_request_iterator(epoch=0))
    random_state = np.random.RandomState(0)
    scheme.rng = random_state
    assert scheme.seed is None and scheme.rng is random_state
    for cls in (ShuffledScheme, BootstrapScheme):
        assert cls(4, 2, rng=3).rng.integers(100) == np.random.default_rng(3).integers(100)


def test_a_scheme_implementing_fuels_get_request_iterator_is_honoured():
    class Sizes(BatchSizeScheme):  # no __init__, no _plan: Fuel's protocol
        def get_request_iterator(self):
            return iter([1, 2, 1, 3])

    assert Sizes().num_requests is None
    stream = Batch(DataStream(IterableDataset({"x": list(range(6))})), Sizes())
    assert [b[0].tolist() for b in stream.get_epoch_iterator()] == [[0], [1, 2], [3], [4, 5]]
    assert stream.sequential
    iterator = stream.get_epoch_iterator()
    next(iterator), next(iterator)
    again = Batch(DataStream(IterableDataset({"x": list(range(6))})), Sizes()).get_epoch_iterator()
    again.load_state_dict(json.loads(json.dumps(iterator.state_dict())))
    assert [b[0].tolist() for b in again] == [[3], [4, 5]]


# -- datasets ----------------------------------------------------------------------------------------
def test_example_iteration_scheme_attribute_like_fuel():
    class NoScheme(Dataset):
        provides_sources = ("data",)

    with pytest.raises(AttributeError, match="no example iteration scheme"):
        NoScheme().example_iteration_scheme
    scheme = ConstantScheme(2)

    class ClassScheme(Dataset):
        provides_sources = ("data",)
        _example_iteration_scheme = scheme

    assert ClassScheme().example_iteration_scheme is scheme
    dataset = NoScheme()
    dataset.example_iteration_scheme = scheme
    assert dataset.example_iteration_scheme is scheme
    indexable = IndexableDataset([1, 2, 3])
    assert isinstance(indexable.example_iteration_scheme, SequentialExampleScheme)
    indexable.example_iteration_scheme = SequentialExampleScheme([2, 0])
    assert [d for d, in indexable.get_example_stream().get_epoch_iterator()] == [3, 1]
    assert IterableDataset([1]).example_iteration_scheme is None
    assert DataStream(NoScheme()).iteration_scheme is None  # a stream makes no requests then


def test_iterable_dataset_sources_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        IterableDataset({"features": range(10), "targets": range(7)})
    IterableDataset({"features": range(10), "targets": range(7)}, sources=("targets",))  # only what is used
    assert np.isnan(IterableDataset({"a": iter([1]), "b": [1, 2]}).num_examples)


def test_indexable_dataset_refuses_a_state():
    with pytest.raises(ValueError, match="takes no state"):
        IndexableDataset([1, 2, 3]).get_data(True, [1, 2])
    with pytest.raises(ValueError, match="needs a request"):
        IndexableDataset([1, 2, 3]).get_data(None, None)


class _EpochsFromState(Dataset):
    """Each epoch is the next row of a table: the epochs come from the dataset's state (Fuel's next_epoch)."""

    provides_sources = ("data",)

    def __init__(self):
        super().__init__()
        self.rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        self.opened = 0

    def open(self):
        self.opened += 1
        rows = iter(self.rows)
        return [rows, iter(next(rows))]

    def next_epoch(self, state):
        try:
            return [state[0], iter(next(state[0]))]
        except StopIteration:
            return self.open()

    def get_data(self, state=None, request=None):
        return ([next(state[1]) for _ in range(request)],)


def test_datastream_calls_the_datasets_next_epoch_and_reset():
    stream = DataStream(_EpochsFromState(), iteration_scheme=ConstantScheme(1))
    epochs = [[d[0][0] for d in stream.get_epoch_iterator()] for _ in range(4)]
    assert epochs == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 3]]
    assert stream.sequential
    stream.reset()
    assert [[d[0][0] for d in epoch] for _, epoch in zip(range(2), stream.iterate_epochs())] == epochs[:2]
    stream.close()


def test_dataset_driven_epochs_resume_by_replay():
    stream = DataStream(_EpochsFromState(), iteration_scheme=ConstantScheme(1))
    list(stream.get_epoch_iterator())
    iterator = stream.get_epoch_iterator()
    next(iterator)
    saved = json.loads(json.dumps({"stream": stream.state_dict(), "iterator": iterator.state_dict()}))
    resumed = DataStream(_EpochsFromState(), iteration_scheme=ConstantScheme(1))
    resumed.load_state_dict(saved["stream"])
    again = resumed.get_epoch_iterator()
    again.load_state_dict(saved["iterator"])
    assert [d[0][0] for d in again] == [5, 6]
    assert [d[0][0] for d in resumed.get_epoch_iterator()] == [7, 8, 9]


def test_reset_and_next_epoch_reach_the_wrapped_streams():
    calls = []

    class Recording(DataStream):
        def reset(self):
            calls.append(("reset", self))
            super().reset()

        def next_epoch(self):
            calls.append(("next_epoch", self))
            super().next_epoch()

        def close(self):
            calls.append(("close", self))
            super().close()

    a, b = Recording(IterableDataset([1, 2])), Recording(IterableDataset([3, 4]))
    Transformer(a).close()
    assert calls == [("close", a)]
    calls.clear()
    Transformer(a).reset()
    Mapping(Batch(b, ConstantScheme(2)), lambda d: d).next_epoch()
    merged = Merge((a, b), ("x", "y"))
    merged.reset()
    merged.next_epoch()
    assert calls == [("reset", a), ("next_epoch", b), ("reset", a), ("reset", b), ("next_epoch", a),
                     ("next_epoch", b)]
    assert not [c for c in calls if c[0] == "close"]
    assert list(merged.get_epoch_iterator()) == [(1, 3), (2, 4)]


# -- stream attributes ---------------------------------------------------------------------------------
def test_produces_examples_like_fuel():
    class Bare(AbstractDataStream):
        pass

    with pytest.raises(ValueError, match="produces_examples"):
        Bare().produces_examples
    with_scheme = Bare(SequentialExampleScheme(2))
    assert with_scheme.produces_examples
    with pytest.raises(ValueError, match="iteration scheme"):
        with_scheme.produces_examples = False
    bare = Bare()
    bare.produces_examples = False
    assert bare.produces_examples is False
    with pytest.raises(ValueError, match="contradicts"):
        Bare(SequentialScheme(4, 2), produces_examples=True)
    assert DataStream(IterableDataset([1])).produces_examples


def test_sources_setter():
    stream = DataStream(IterableDataset(np.eye(2)))
    stream.sources = ("features",)
    assert stream.sources == ("features",) and next(stream.get_epoch_iterator(as_dict=True)).keys() == {"features"}
    mapping = Mapping(stream, lambda d: d)
    mapping.sources = ["renamed"]
    assert mapping.sources == ("renamed",)
    with pytest.raises(ValueError, match="not the string"):
        stream.sources = "features"


class _LabelsCounted(IndexableDataset):
    """A dataset whose axis labels count how often they are read (like a damaged HDF5 file would crash there)."""

    def __init__(self, *args, **kwargs):
        self.reads = 0
        super().__init__(*args, **kwargs)

    @property
    def axis_labels(self):
        self.reads += 1
        return {"x": ("batch", "channel", "height", "width"), "y": ("batch",)}

    @axis_labels.setter
    def axis_labels(self, value):
        pass


def test_no_stream_reads_axis_labels_before_they_are_asked_for():
    data = {"x": np.zeros((8, 1, 4, 4), "uint8"), "y": np.arange(8)}
    dataset = _LabelsCounted(data)
    batches = DataStream(dataset, iteration_scheme=SequentialScheme(8, 4))
    examples = DataStream(dataset)
    chains = [
        Flatten(ScaleAndShift(Cast(batches, "float32", which_sources="x"), 2.0, 1.0), which_sources=("x",)),
        Rename(FilterSources(ForceFloatX(batches), ("x",)), {"x": "image"}),
        Padding(Filter(Mapping(batches, lambda d: d), lambda d: True), mask_sources=("y",)),
        Cache(batches, ConstantScheme(3)),
        Batch(MinimumImageDimensions(examples, (2, 2), which_sources=("x",)), ConstantScheme(2)),
        ImagesFromBytes(Mapping(batches, lambda d: d), which_sources=("y",)),
        Merge((Unpack(batches), examples), ("a", "b", "c", "d")),
        MultiProcessing(batches),
        RandomFixedSizeCrop(batches, (2, 2), which_sources=("x",)),
        Random2DRotation(examples, which_sources=("x",)),
    ]
    assert dataset.reads == 0
    for chain in chains[:4]:
        list(chain.get_epoch_iterator())
    chains[-3].close()
    assert dataset.reads == 0  # building and iterating never needed them
    assert chains[0].axis_labels == {"x": ("batch", "feature"), "y": ("batch",)} and dataset.reads == 1
    assert chains[1].axis_labels == {"image": ("batch", "channel", "height", "width")}
    assert Unpack(batches).axis_labels == {"x": ("channel", "height", "width"), "y": ()}
    assert examples.axis_labels == {"x": ("channel", "height", "width"), "y": ()}


def test_axis_labels_set_on_a_wrapped_stream_later_are_seen():
    batches = Batch(DataStream(IterableDataset(range(10))), ConstantScheme(2))
    batches.axis_labels = {"data": ("batch", "index")}
    assert Cache(batches, ConstantScheme(3)).axis_labels == {"data": ("batch", "index")}
    assert Unpack(batches).axis_labels == {"data": ("index",)}
    labelled = DataStream(IndexableDataset(OrderedDict([("f", np.ones((4, 2, 2))), ("t", np.zeros((4, 1)))])),
                          iteration_scheme=SequentialExampleScheme(4),
                          axis_labels={"f": ("batch", "width", "height"), "t": ("batch", "index")})
    assert labelled.axis_labels == {"f": ("width", "height"), "t": ("index",)}  # explicit labels lose 'batch' too
    assert Flatten(labelled, which_sources=("f",)).axis_labels == {"f": ("feature",), "t": ("index",)}
    with_none = DataStream(IndexableDataset({"f": np.ones((4, 2, 2))}), iteration_scheme=SequentialScheme(4, 2),
                           axis_labels={"f": None})
    assert Flatten(with_none).axis_labels == {"f": None}
    stream = DataStream(IndexableDataset({"x": [1, 2]}, axis_labels={"x": ("batch",)}),
                        iteration_scheme=SequentialScheme(2, 2))
    stream.axis_labels["x"] = ("batch", "changed")  # derived once, then kept: changes in place stay
    assert stream.axis_labels == {"x": ("batch", "changed")}
    assert DataStream(IterableDataset([1, 2])).axis_labels is None
