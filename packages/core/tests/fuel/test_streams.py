"""DataStream, DataIterator and the resume protocol of design.md section 4."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fuel.datasets import Dataset, IndexableDataset, IterableDataset
from fuel.schemes import SequentialScheme, ShardedScheme, ShuffledScheme
from fuel.streams import DataStream


def _dataset(n=20):
    return IndexableDataset(
        {"features": np.arange(n * 2, dtype="float32").reshape(n, 2), "targets": np.arange(n) % 3},
        axis_labels={"features": ("batch", "feature"), "targets": ("batch",)},
    )


def test_indexable_dataset_requests_and_errors():
    ds = _dataset()
    feats, targets = ds.get_data(None, np.array([3, 1]))
    np.testing.assert_array_equal(feats, ds.features[[3, 1]])
    assert ds.get_data(None, 4)[1] == 1
    with pytest.raises(ValueError, match="out of range for 20 examples"):
        ds.get_data(None, [1, 25])
    with pytest.raises(ValueError, match="provides"):
        IndexableDataset({"a": [1]}, sources=["b"])
    with pytest.raises(ValueError, match="same length"):
        IndexableDataset({"a": [1], "b": [1, 2]})
    only = IndexableDataset({"a": [1, 2], "b": [3, 4]}, sources=["b"])
    assert only.sources == ("b",) and only.get_data(None, [1]) == ([4],)


def test_iterable_dataset_stream_and_resume():
    ds = IterableDataset({"x": list(range(5)), "y": list("abcde")})
    stream = DataStream(ds)
    assert stream.produces_examples and stream.num_requests == 5
    it = stream.get_epoch_iterator(as_dict=True)
    assert next(it) == {"x": 0, "y": "a"}
    next(it)
    state = {"stream": stream.state_dict(), "iterator": it.state_dict()}
    other = DataStream(IterableDataset({"x": list(range(5)), "y": list("abcde")}))
    other.load_state_dict(state["stream"])
    it2 = other.get_epoch_iterator(as_dict=True)
    it2.load_state_dict(state["iterator"])
    assert [d["x"] for d in it2] == [2, 3, 4]


def test_datastream_epochs_reshuffle_and_as_dict():
    stream = DataStream(_dataset(), iteration_scheme=ShuffledScheme(20, 6, rng=1))
    assert stream.num_requests == 4 and stream.sources == ("features", "targets")
    e0 = [b["targets"].tolist() for b in stream.get_epoch_iterator(as_dict=True)]
    e1 = [b[1].tolist() for b in stream.get_epoch_iterator()]
    assert e0 != e1 and sorted(sum(e0, [])) == sorted(sum(e1, []))
    assert stream.axis_labels == {"features": ("batch", "feature"), "targets": ("batch",)}


def test_example_stream_drops_batch_axis_label():
    stream = _dataset().get_example_stream()
    assert stream.produces_examples and stream.axis_labels["features"] == ("feature",)
    assert next(stream.get_epoch_iterator())[1] == 0


@pytest.mark.parametrize("scheme", [lambda: ShuffledScheme(20, 3, rng=5), lambda: SequentialScheme(20, 6)])
def test_resume_protocol_mid_epoch(scheme):
    def build():
        return DataStream(_dataset(), iteration_scheme=scheme())

    reference = build()
    epochs = [[b["features"].copy() for b in reference.get_epoch_iterator(as_dict=True)] for _ in range(3)]

    stream = build()
    list(stream.get_epoch_iterator())  # epoch 0 done
    it = stream.get_epoch_iterator(as_dict=True)  # epoch 1
    got = [next(it)["features"] for _ in range(2)]
    state = json.loads(json.dumps({"stream": stream.state_dict(), "iterator": it.state_dict()}))

    fresh = build()
    fresh.load_state_dict(state["stream"])
    it2 = fresh.get_epoch_iterator(as_dict=True)
    it2.load_state_dict(state["iterator"])
    got += [b["features"] for b in it2]
    assert len(got) == len(epochs[1])
    for a, b in zip(got, epochs[1]):
        np.testing.assert_array_equal(a, b)
    after = [b["features"] for b in fresh.get_epoch_iterator(as_dict=True)]
    for a, b in zip(after, epochs[2]):
        np.testing.assert_array_equal(a, b)


def test_stream_state_alone_means_epoch_boundary():
    stream = DataStream(_dataset(), iteration_scheme=ShuffledScheme(20, 4, rng=2))
    ref = DataStream(_dataset(), iteration_scheme=ShuffledScheme(20, 4, rng=2))
    ref_epochs = [[b[1].tolist() for b in ref.get_epoch_iterator()] for _ in range(2)]
    list(stream.get_epoch_iterator())
    fresh = DataStream(_dataset(), iteration_scheme=ShuffledScheme(20, 4, rng=2))
    fresh.load_state_dict(json.loads(json.dumps(stream.state_dict())))
    assert [b[1].tolist() for b in fresh.get_epoch_iterator()] == ref_epochs[1]


def test_two_iterators_over_one_stream_are_independent():
    stream = DataStream(_dataset(), iteration_scheme=SequentialScheme(20, 5))
    a, b = stream.get_epoch_iterator(), stream.get_epoch_iterator()
    first_a = next(a)[1].tolist()
    assert next(b)[1].tolist() == first_a
    assert len(list(a)) == 3 and len(list(b)) == 3


def test_sharded_stream_ranks_cover_global_batches():
    def build(num_shards, shard):
        return DataStream(_dataset(), iteration_scheme=ShardedScheme(ShuffledScheme(20, 8, rng=3), num_shards, shard))

    single = [b[1].tolist() for b in build(1, 0).get_epoch_iterator()]
    parts = [[b[1].tolist() for b in build(2, k).get_epoch_iterator()] for k in range(2)]
    assert [p0 + p1 for p0, p1 in zip(*parts)] == single
    assert build(2, 1).num_requests == 3


def test_bad_states_are_value_errors():
    stream = DataStream(_dataset(), iteration_scheme=SequentialScheme(20, 5))
    with pytest.raises(ValueError, match="stream state"):
        stream.load_state_dict({"nope": 1})
    with pytest.raises(ValueError, match="iterator state"):
        stream.get_epoch_iterator().load_state_dict({})


def test_custom_dataset_protocol_open_close():
    events = []

    class Counting(Dataset):
        provides_sources = ("x",)

        def open(self):
            events.append("open")
            return {"n": 0}

        def close(self, state):
            events.append("close")

        def get_data(self, state=None, request=None):
            return (np.asarray(request) * 10,)

    stream = DataStream(Counting(), iteration_scheme=SequentialScheme(4, 2))
    assert [b[0].tolist() for b in stream.get_epoch_iterator()] == [[0, 10], [20, 30]]
    assert events == ["open", "close"]


def test_default_stream_applies_default_transformers():
    import fuel
    from fuel.transformers import Cast, ScaleAndShift

    class Pixels(IndexableDataset):
        default_transformers = (
            (ScaleAndShift, [1 / 255.0, 0], {"which_sources": ("features",)}),
            (Cast, ["floatX"], {"which_sources": ("features",)}),
        )

    ds = Pixels({"features": np.full((4, 2), 255, dtype="uint8"), "targets": np.arange(4)})
    with fuel.config.override(floatX="float32"):
        stream = DataStream.default_stream(ds, iteration_scheme=SequentialScheme(4, 2))
    features, targets = next(stream.get_epoch_iterator())
    assert features.dtype == np.float32 and features.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert targets.tolist() == [0, 1] and stream.num_requests == 2
