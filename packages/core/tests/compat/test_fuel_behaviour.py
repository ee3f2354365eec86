"""Fuel's documented behaviour of the built-in datasets, streams and transformers, checked on small data.

Together with tests/fuel/*.py and the other compat files, every behaviour Fuel's own test suite pins for
datasets, schemes, streams, sequences, toy data and transformers has a test here (docs/migration.md lists what
differs on purpose).
"""

from __future__ import annotations

import io
import operator
from collections import OrderedDict
from itertools import repeat

import numpy as np
import pytest

import fuel
from fuel.datasets import Dataset, IndexableDataset, IterableDataset, Spiral
from fuel.schemes import (
    ConcatenatedScheme,
    ConstantScheme,
    SequentialExampleScheme,
    SequentialScheme,
    ShuffledScheme,
    cross_validation,
)
from fuel.streams import DataStream
from fuel.transformers import (
    Batch,
    Cache,
    Filter,
    FilterSources,
    ImagesFromBytes,
    Mapping,
    Merge,
    MinimumImageDimensions,
    MultiProcessing,
    NGrams,
    Padding,
    Random2DRotation,
    RandomFixedSizeCrop,
    SortMapping,
    Unpack,
    Window,
)
from fuel.transformers.defaults import ToBytes


def _tuples(epoch):
    return [tuple(np.asarray(v).tolist() for v in data) for data in epoch]


# -- datasets ------------------------------------------------------------------------------------------
def test_dataset_basics():
    stream = DataStream(IterableDataset([7, 8]))
    assert list(stream.get_epoch_iterator()) == [(7,), (8,)]
    assert [list(e) for _, e in zip(range(2), stream.iterate_epochs())] == [[(7,), (8,)]] * 2
    assert next(stream.get_epoch_iterator(as_dict=True)) == {"data": 7}
    with pytest.raises(ValueError):
        IterableDataset([1], sources=("nope",))

    class NoSources(Dataset):
        pass

    with pytest.raises(ValueError):
        NoSources(sources=("data",))
    assert IterableDataset([1]).axis_labels is None
    assert IterableDataset([1], axis_labels={"data": ("batch",)}).axis_labels == {"data": ("batch",)}
    picked = IterableDataset(OrderedDict([("a", [1, 2]), ("b", [3, 4])]), sources=("a",))
    assert picked.filter_sources(([1, 2], [3, 4])) == ([1, 2],)


def test_iterable_and_indexable_dataset_errors_and_access():
    for bad in (None, {"x": None, "y": [1]}):
        with pytest.raises(ValueError):
            IterableDataset(bad)
    with pytest.raises(ValueError):
        IterableDataset([1, 2]).get_data(None, None)
    with pytest.raises(ValueError):
        IterableDataset([1, 2]).get_data(IterableDataset([1, 2]).open(), [0])
    assert IndexableDataset({"a": (4, 5)}).a == (4, 5)
    with pytest.raises(AttributeError):
        IndexableDataset({"a": (4, 5)}).b
    assert np.isnan(IterableDataset(repeat(1)).num_examples)
    assert IterableDataset({"f": range(3), "t": range(3)}).num_examples == 3
    with pytest.raises(ValueError):
        IndexableDataset({"f": np.zeros((5, 2)), "t": np.zeros((4, 2))})


def test_lists_batched_by_a_shuffled_scheme_and_source_selection():
    data = IndexableDataset(OrderedDict([("a", list(range(20))), ("b", list(range(100, 120)))]))
    batches = list(DataStream(data, iteration_scheme=ShuffledScheme(20, 6, rng=2)).get_epoch_iterator())
    assert sorted(sum((b[0] for b in batches), [])) == list(range(20))
    assert all([x + 100 for x in b[0]] == b[1] for b in batches)
    two = OrderedDict([("f", [5, 6]), ("t", [1, 0])])
    assert list(DataStream(IterableDataset(two)).get_epoch_iterator()) == [(5, 1), (6, 0)]
    assert list(DataStream(IterableDataset(two, sources=("t",))).get_epoch_iterator()) == [(1,), (0,)]


def test_spiral_ranges():
    features, position, label = Spiral(num_examples=200, classes=3, seed=0).get_data(None, slice(0, 200))
    assert features.shape == (200, 2) and position.shape == (200,) and label.shape == (200,)
    assert np.abs(features).max() <= 1 and position.max() <= 1 and label.max() == 2


# -- schemes -------------------------------------------------------------------------------------------
def test_scheme_request_types_and_constant_scheme():
    assert list(ConstantScheme(4, num_examples=10).get_request_iterator()) == [4, 4, 2]
    assert list(ConstantScheme(4, num_examples=4).get_request_iterator()) == [4]
    assert list(ConstantScheme(2, times=2).get_request_iterator()) == [2, 2]
    endless = ConstantScheme(5).get_request_iterator()
    assert [next(endless) for _ in range(20)] == [5] * 20
    with pytest.raises(ValueError):
        ConstantScheme(3, 5, 2)
    assert not ConstantScheme(2).requests_examples and not ShuffledScheme(3, 2).requests_examples
    assert SequentialExampleScheme(2).requests_examples
    assert list(SequentialExampleScheme([2, 1, 0]).get_request_iterator()) == [2, 1, 0]
    concatenated = ConcatenatedScheme([ConstantScheme(3, times=2), ConstantScheme(1, times=1)])
    assert list(concatenated.get_request_iterator()) == [3, 3, 1] and not concatenated.requests_examples
    assert ConcatenatedScheme([SequentialExampleScheme(1), SequentialExampleScheme(2)]).requests_examples
    with pytest.raises(ValueError):
        ConcatenatedScheme([ConstantScheme(1), SequentialExampleScheme(1)])


def test_cross_validation_folds_are_reusable():
    folds = cross_validation(SequentialExampleScheme, 7, 2, strict=False)
    train, valid, size = next(folds)
    for _ in range(2):  # the indices are not consumed by iterating
        assert list(train.get_request_iterator()) == [3, 4, 5, 6] and list(valid.get_request_iterator()) == [0, 1, 2]
    assert size == 3 and next(folds)[2] == 4
    with pytest.raises(StopIteration):
        next(folds)
    with pytest.raises(ValueError):
        next(cross_validation(SequentialExampleScheme, 7, 2))
    train, valid = next(cross_validation(SequentialScheme, 6, 3, batch_size=2))
    assert list(train.get_request_iterator()) == [[2, 3], [4, 5]] and list(valid.get_request_iterator()) == [[0, 1]]


# -- one-to-one transformers ------------------------------------------------------------------------------
def test_mapping_and_sort_mapping():
    rows = [[3, 1, 2], [2, 3, 1]]
    assert _tuples(Mapping(DataStream(IterableDataset(rows)), lambda d: (d[0][::-1],)).get_epoch_iterator()) == [
        ([2, 1, 3],), ([1, 3, 2],)]
    as_dict = Mapping(DataStream(IterableDataset(rows)), lambda d: {"data": d["data"][:1]}, mapping_accepts=dict)
    assert _tuples(as_dict.get_epoch_iterator()) == [([3],), ([2],)]
    with pytest.raises(ValueError):
        Mapping(DataStream(IterableDataset(rows)), abs, mapping_accepts=int)
    lists = OrderedDict([("x", [[3, 1, 2], [9, 8, 7]]), ("y", [[0, 1, 2], [2, 1, 0]])])
    sort = Mapping(DataStream(IterableDataset(lists)), SortMapping(operator.itemgetter(0)))
    assert list(sort.get_epoch_iterator()) == [([1, 2, 3], [1, 2, 0]), ([7, 8, 9], [0, 1, 2])]
    arrays = OrderedDict((k, np.array(v)) for k, v in lists.items())
    sorted_arrays = Mapping(DataStream(IterableDataset(arrays)), SortMapping(lambda ex: -ex[0], reverse=True))
    first = next(sorted_arrays.get_epoch_iterator())
    assert first[0].tolist() == [1, 2, 3] and first[1].tolist() == [1, 2, 0] and isinstance(first[0], np.ndarray)


def test_filter_and_filter_sources_keep_labels():
    stream = DataStream(IndexableDataset({"v": [5, 6, 7, 8]}, axis_labels={"v": ("batch",)}),
                        iteration_scheme=SequentialScheme(4, 2))
    kept = Filter(stream, lambda d: d[0][0] > 5)
    assert _tuples(kept.get_epoch_iterator()) == [([7, 8],)] and kept.axis_labels == stream.axis_labels
    three = DataStream(IndexableDataset(OrderedDict([("a", [1]), ("b", [2]), ("c", [3])])))
    assert FilterSources(three, ("c", "a")).sources == ("a", "c")
    assert FilterSources(three, ("a", "b", "c")).sources == ("a", "b", "c")
    with pytest.raises(ValueError):
        FilterSources(three, ["a", "z"])


def test_multiprocessing_keeps_values_and_labels():
    mapped = Mapping(DataStream(IterableDataset(range(6))), lambda d: (d[0] * 2,))
    mapped.axis_labels = {"data": ("index",)}
    background = MultiProcessing(mapped, max_store=2)
    try:
        assert list(background.get_epoch_iterator()) == [(0,), (2,), (4,), (6,), (8,), (10,)]
        assert background.axis_labels == {"data": ("index",)}
    finally:
        background.close()


def test_to_bytes_examples_and_batches():
    words = [b"abc", b"de"]
    dataset = IndexableDataset({"w": [np.frombuffer(w, dtype="uint8") for w in words]})
    assert [w for w, in ToBytes(DataStream(dataset)).get_epoch_iterator()] == words
    batches = ToBytes(DataStream(dataset, iteration_scheme=SequentialScheme(2, 2)))
    assert [w for w, in batches.get_epoch_iterator()] == [words]


# -- examples and batches --------------------------------------------------------------------------------
def test_batch_and_unpack_errors_and_labels():
    examples = DataStream(IterableDataset({"v": [1, 2, 3]}, axis_labels={"v": ("index",)}))
    assert Batch(examples, ConstantScheme(2)).axis_labels == {"v": ("batch", "index")}
    with pytest.raises(ValueError):
        Batch(examples, SequentialExampleScheme(3))
    with pytest.raises(ValueError):
        Batch(DataStream(IndexableDataset([1, 2]), iteration_scheme=SequentialScheme(2, 1)), ConstantScheme(1))
    with pytest.raises(ValueError):
        Unpack(examples)
    with pytest.raises(ValueError):
        Cache(Batch(examples, ConstantScheme(2)), SequentialScheme(2, 1))
    unpacked = Unpack(Batch(DataStream(IterableDataset(range(5))), ConstantScheme(2)))
    assert [int(v) for v, in unpacked.get_epoch_iterator()] == [0, 1, 2, 3, 4]


def test_cache_epochs_start_over():
    cached = Cache(Batch(DataStream(IterableDataset(range(30))), ConstantScheme(8)), ConstantScheme(5, times=2))
    for _ in range(2):
        assert [b[0].tolist() for b in cached.get_epoch_iterator()] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    whole = Cache(Batch(DataStream(IterableDataset(range(1000))), ConstantScheme(1024)), ConstantScheme(64))
    batches = list(whole.get_epoch_iterator())
    assert len(batches[-1][0]) == 1000 % 64 and not whole.cache[0]


def test_padding_shapes_masks_and_errors():
    def batches(data, mask_sources=None, **kwargs):
        return Padding(Batch(DataStream(IterableDataset(data)), ConstantScheme(2)), mask_sources, **kwargs)

    out = _tuples(batches([[5], [6, 7], [], [8]]).get_epoch_iterator())
    with fuel.config.override(floatX="float32"):
        assert out == [([[5, 0], [6, 7]], [[1, 0], [1, 1]]), ([[0], [8]], [[0], [1]])]
    data, mask = next(batches([np.ones((2, 3)), np.ones((1, 3))]).get_epoch_iterator())
    assert data.shape == (2, 2, 3) and mask.tolist() == [[1, 1], [1, 0]]
    with pytest.raises(ValueError):
        next(batches([np.ones((2, 3)), np.ones((1, 4))]).get_epoch_iterator())
    two = OrderedDict([("a", [[1], [1, 2]]), ("b", [[3, 4], [5]])])
    assert len(next(batches(two).get_epoch_iterator())) == 4
    assert len(next(batches(two, mask_sources=("b",)).get_epoch_iterator())) == 3
    assert next(batches(two, mask_dtype="uint8").get_epoch_iterator())[1].dtype == np.uint8


def test_merge_examples_and_batches_repeatedly():
    def streams():
        return DataStream(IterableDataset(["one", "two"])), DataStream(IterableDataset(["un", "deux"]))

    merged = Merge(streams(), ("en", "fr"))
    for _ in range(2):
        assert list(merged.get_epoch_iterator()) == [("one", "un"), ("two", "deux")]
    assert next(merged.get_epoch_iterator(as_dict=True)) == {"en": "one", "fr": "un"}
    batched = Merge([Batch(s, ConstantScheme(2)) for s in streams()], ("en", "fr"))
    for _ in range(2):
        assert [tuple(v.tolist() for v in b) for b in batched.get_epoch_iterator()] == [
            (["one", "two"], ["un", "deux"])]
    with pytest.raises(ValueError):
        Merge(streams(), ("en",))
    with pytest.raises(ValueError):
        Merge((*streams(), DataStream(IndexableDataset(["x"]), iteration_scheme=SequentialScheme(1, 1))),
              ("a", "b", "c"))
    closed = []

    class Closing(DataStream):
        def close(self):
            closed.append(self)

    parts = [Closing(IterableDataset([1])), Closing(IterableDataset([2]))]
    Merge(parts, ("a", "b")).close()
    assert closed == parts


def test_ngrams_and_windows_on_random_sentences():
    rng = np.random.default_rng(4)
    sentences = [list(rng.integers(10, size=n)) for n in (3, 5, 7)]
    assert len(list(NGrams(4, DataStream(IterableDataset(sentences))).get_epoch_iterator())) == 4
    windows = list(Window(0, 4, 4, True, DataStream(IterableDataset(sentences))).get_epoch_iterator())
    assert len(windows) == 6 and all(s == t for s, t in windows)
    shifted = list(Window(-2, 4, 4, False, DataStream(IterableDataset(sentences))).get_epoch_iterator())
    assert len(shifted) == 2 and all(s[-2:] == t[:2] for s, t in shifted)
    overlapping = list(Window(-2, 4, 4, True, DataStream(IterableDataset(sentences))).get_epoch_iterator())
    assert len(overlapping) == 2 and all(s[:2] == t[-2:] for s, t in overlapping)
    two_sources = DataStream(IterableDataset(OrderedDict([("a", sentences), ("b", sentences)])))
    with pytest.raises(ValueError):
        NGrams(4, two_sources)
    with pytest.raises(ValueError):
        NGrams(4, DataStream(IndexableDataset(sentences), iteration_scheme=SequentialScheme(3, 1)))
    with pytest.raises(ValueError):
        NGrams(4, DataStream(IterableDataset(sentences))).get_data([0, 1])


# -- images ---------------------------------------------------------------------------------------------------
def _encoded(mode, shape, fmt):
    from PIL import Image

    pixels = np.random.default_rng(1).integers(0, 255, size=shape).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(buffer, format=fmt)
    return buffer.getvalue()


def test_images_from_bytes_modes_and_batches():
    encoded = OrderedDict([("a", [_encoded("RGB", (5, 6, 3), "PNG"), _encoded("CMYK", (4, 3, 4), "JPEG")]),
                           ("b", [_encoded("L", (2, 7), "GIF"), _encoded("RGBA", (3, 3, 4), "PNG")])])
    dataset = IndexableDataset(encoded, axis_labels={"a": ("batch", "bytes"), "b": ("batch", "bytes")})
    kept = ImagesFromBytes(DataStream(dataset), color_mode=None)
    assert [tuple(i.shape for i in pair) for pair in kept.get_epoch_iterator()] == [((3, 5, 6), (1, 2, 7)),
                                                                                ((4, 4, 3), (4, 3, 3))]
    gray = ImagesFromBytes(DataStream(dataset), color_mode="L")
    assert [i.shape[0] for pair in gray.get_epoch_iterator() for i in pair] == [1, 1, 1, 1]
    batches = ImagesFromBytes(DataStream(dataset, iteration_scheme=SequentialScheme(2, 2)), which_sources=("a",))
    images, raw = next(batches.get_epoch_iterator())
    assert [i.shape for i in images] == [(3, 5, 6), (3, 4, 3)] and len(raw) == 2
    assert batches.axis_labels == {"a": ("batch", "channel", "height", "width"), "b": ("batch", "bytes")}


def test_minimum_dimensions_examples_and_batches():
    images = [np.zeros((3, 2, 9), "uint8"), np.zeros((3, 6, 3), "uint8"), np.zeros((3, 7, 8), "uint8")]
    labels = {"x": ("batch", "channel", "height", "width")}
    examples = MinimumImageDimensions(DataStream(IndexableDataset({"x": images}, axis_labels=labels)), (4, 5))
    assert [x.shape for x, in examples.get_epoch_iterator()] == [(3, 4, 18), (3, 10, 5), (3, 7, 8)]
    batches = MinimumImageDimensions(
        DataStream(IndexableDataset({"x": images}, axis_labels=labels), iteration_scheme=SequentialScheme(3, 2)),
        (4, 5))
    assert [[x.shape for x in b] for b, in batches.get_epoch_iterator()] == [[(3, 4, 18), (3, 10, 5)], [(3, 7, 8)]]


@pytest.mark.parametrize("as_list", [False, True])
def test_random_crops_cover_every_window_over_epochs(as_list):
    images = np.arange(4 * 2 * 5 * 6, dtype="int32").reshape(4, 2, 5, 6)
    data = [image for image in images] if as_list else images
    stream = DataStream(IndexableDataset({"x": data}, axis_labels={"x": ("batch", "channel", "height", "width")}),
                        iteration_scheme=ShuffledScheme(4, 2, rng=0))
    crop = RandomFixedSizeCrop(stream, (3, 4), rng=5)
    seen = set()
    for _ in range(40):
        for (batch,) in crop.get_epoch_iterator():
            assert len(batch) == 2 and all(np.shape(image) == (2, 3, 4) for image in batch)
            seen.update(np.asarray(batch).ravel().tolist())
    assert seen == set(images.ravel().tolist())


def test_rotation_of_arrays_lists_and_object_arrays():
    image = np.arange(3 * 4 * 6, dtype="uint8").reshape(3, 4, 6)
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = image, np.arange(3 * 4 * 7, dtype="uint8").reshape(3, 4, 7)
    for batch in (np.stack([image, image]), [image, objects[1]], objects):
        stream = DataStream(IndexableDataset({"x": list(batch)}), iteration_scheme=SequentialScheme(2, 2))
        rotate = Random2DRotation(stream, 0.5, rng=np.random.RandomState(3))
        out = rotate.transform_source_batch(batch, "x")
        assert type(out) is type(batch) and [o.shape for o in out] == [b.shape for b in batch]
    with pytest.raises(ValueError):
        Random2DRotation(stream, maximum_rotation=3.1416)
    with pytest.raises(ValueError):
        Random2DRotation(stream, resample="nonexisting")
