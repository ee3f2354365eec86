"""Transformers: semantics against plain numpy, per-iterator state and exact resume."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import fuel
from fuel.datasets import IndexableDataset, IterableDataset
from fuel.schemes import ConstantScheme, SequentialExampleScheme, SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
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
    NGrams,
    Padding,
    Random2DRotation,
    RandomFixedSizeCrop,
    Rename,
    ScaleAndShift,
    SortMapping,
    Unpack,
    Window,
)
from fuel.transformers.defaults import ToBytes, uint8_pixels_to_floatX


def _batches(n=10, batch_size=4, scheme=None):
    ds = IndexableDataset(
        {"features": np.arange(n * 6, dtype="uint8").reshape(n, 2, 3), "targets": np.arange(n)},
        axis_labels={"features": ("batch", "height", "width"), "targets": ("batch",)},
    )
    return DataStream(ds, iteration_scheme=scheme or SequentialScheme(n, batch_size))


def _examples(values):
    return DataStream(IndexableDataset({"x": values}))


def _resume_check(build, stop_after):
    """Run a full epoch; then rebuild, stop mid-epoch, save, restore into a fresh pipeline; compare."""
    reference = build()
    full = [tuple(np.asarray(d).tolist() if not isinstance(d, list) else d for d in b)
            for b in reference.get_epoch_iterator()]
    stream = build()
    it = stream.get_epoch_iterator()
    head = [next(it) for _ in range(stop_after)]
    state = {"stream": stream.state_dict(), "iterator": it.state_dict()}
    fresh = build()
    fresh.load_state_dict(state["stream"])
    it2 = fresh.get_epoch_iterator()
    it2.load_state_dict(state["iterator"])
    got = head + list(it2)
    got = [tuple(np.asarray(d).tolist() if not isinstance(d, list) else d for d in b) for b in got]
    assert got == full
    return state


def test_mapping_tuple_dict_and_add_sources():
    s = Mapping(_batches(), lambda d: (d[0] * 0, d[1] + 100))
    f, t = next(s.get_epoch_iterator())
    assert f.sum() == 0 and t.tolist() == [100, 101, 102, 103]
    added = Mapping(_batches(), lambda d: {"double": d["targets"] * 2}, add_sources=("double",), mapping_accepts=dict)
    assert added.sources == ("features", "targets", "double")
    assert next(added.get_epoch_iterator(as_dict=True))["double"].tolist() == [0, 2, 4, 6]
    with pytest.raises(ValueError, match="already exist"):
        Mapping(_batches(), abs, add_sources=("targets",))


def test_sort_mapping_matches_python_sorted():
    batch = ([[1, 2, 3], [1], [4, 5]], np.array([10, 11, 12]))
    xs, ys = SortMapping(lambda ex: len(ex[0]))(batch)
    assert xs == [[1], [4, 5], [1, 2, 3]] and ys.tolist() == [11, 12, 10]
    xs, ys = SortMapping(lambda ex: len(ex[0]), reverse=True)(batch)
    assert ys.tolist() == [10, 12, 11]


def test_flatten_scale_cast_forcefloatx():
    f = Flatten(_batches(), which_sources=("features",))
    assert next(f.get_epoch_iterator())[0].shape == (4, 6)
    assert f.axis_labels["features"] == ("batch", "feature")
    scaled = ScaleAndShift(_batches(), 1 / 255.0, 0.5, which_sources=("features",))
    ref = np.arange(24, dtype="uint8").reshape(4, 2, 3) / 255.0 + 0.5
    np.testing.assert_allclose(next(scaled.get_epoch_iterator())[0], ref)
    with fuel.config.override(floatX="float32"):
        cast = Cast(scaled, "floatX", which_sources=("features",))
        assert next(cast.get_epoch_iterator())[0].dtype == np.float32
        forced = ForceFloatX(scaled)
        f, t = next(forced.get_epoch_iterator())
        assert f.dtype == np.float32 and t.dtype == np.arange(1).dtype
    with pytest.raises(ValueError, match="not a numpy dtype"):
        Cast(_batches(), "nonsense")


def test_default_transformer_preset_uint8_to_floatx():
    stream = _batches()
    for cls, args, kwargs in uint8_pixels_to_floatX(("features",)):
        stream = cls(stream, *args, **kwargs)
    with fuel.config.override(floatX="float64"):
        f = next(stream.get_epoch_iterator())[0]
    np.testing.assert_allclose(f, np.arange(24).reshape(4, 2, 3) / 255.0)


def test_filter_rename_filtersources():
    s = Filter(_examples(list(range(10))), lambda d: d[0] % 3 == 0)
    assert [d for d, in s.get_epoch_iterator()] == [0, 3, 6, 9]
    _resume_check(lambda: Filter(_examples(list(range(10))), lambda d: d[0] % 3 == 0), 2)
    r = Rename(_batches(), {"features": "x"})
    assert r.sources == ("x", "targets") and r.axis_labels["x"] == ("batch", "height", "width")
    with pytest.raises(ValueError, match="not sources"):
        Rename(_batches(), {"nope": "x"})
    assert Rename(_batches(), {"nope": "x"}, on_non_existent="ignore").sources == ("features", "targets")
    with pytest.raises(ValueError, match="duplicate"):
        Rename(_batches(), {"features": "targets"})
    fs = FilterSources(_batches(), ("targets",))
    assert fs.sources == ("targets",) and next(fs.get_epoch_iterator())[0].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="available"):
        FilterSources(_batches(), ("nope",))


@pytest.mark.parametrize("strictness,expected", [(0, [[0, 1, 2], [3, 4, 5], [6]]), (1, [[0, 1, 2], [3, 4, 5]])])
def test_batch_strictness(strictness, expected):
    s = Batch(_examples(np.arange(7)), ConstantScheme(3), strictness=strictness)
    assert [b[0].tolist() for b in s.get_epoch_iterator()] == expected
    assert s.num_requests == len(expected)


def test_batch_strictness_2_raises_and_ragged_batches():
    s = Batch(_examples(np.arange(7)), ConstantScheme(3), strictness=2)
    it = s.get_epoch_iterator()
    next(it), next(it)
    with pytest.raises(ValueError, match="strictness=2"):
        next(it)
    ragged = Batch(_examples([[1], [1, 2]]), ConstantScheme(2))
    batch = next(ragged.get_epoch_iterator())[0]
    assert batch.dtype == object and len(batch) == 2
    with pytest.raises(ValueError, match="BatchSizeScheme"):
        Batch(_examples([1]), SequentialScheme(1, 1))
    with pytest.raises(ValueError, match="already produces batches"):
        Batch(_batches(), ConstantScheme(2))


def test_unpack_and_resume_mid_batch():
    s = Unpack(_batches(10, 4))
    assert [int(t) for _, t in s.get_epoch_iterator()] == list(range(10))
    state = _resume_check(lambda: Unpack(_batches(10, 4, ShuffledScheme(10, 4, rng=1))), 5)
    json.dumps(state)


def test_cache_serves_requested_sizes_and_resumes():
    s = Cache(_batches(10, 4), ConstantScheme(3))
    assert [b[1].tolist() for b in s.get_epoch_iterator()] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    _resume_check(lambda: Cache(_batches(10, 4), ConstantScheme(3)), 2)


def test_padding_against_manual():
    seqs = [np.ones((3, 2)), np.ones((1, 2)) * 2, np.ones((2, 2)) * 3]
    stream = Batch(DataStream(IndexableDataset({"x": seqs, "y": [0, 1, 2]})), ConstantScheme(3))
    with fuel.config.override(floatX="float32"):
        padded = Padding(stream, mask_sources=("x",))
        x, mask, y = next(padded.get_epoch_iterator())
    assert padded.sources == ("x", "x_mask", "y")
    expected = np.zeros((3, 3, 2))
    for i, s in enumerate(seqs):
        expected[i, : len(s)] = s
    np.testing.assert_array_equal(x, expected)
    assert mask.dtype == np.float32 and mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    with pytest.raises(ValueError, match="Batch first"):
        Padding(_examples([[1]]))


def test_merge_and_resume():
    def build():
        a = DataStream(IndexableDataset({"a": np.arange(6)}), iteration_scheme=SequentialScheme(6, 2))
        b = DataStream(IndexableDataset({"b": np.arange(6) * 10}), iteration_scheme=ShuffledScheme(6, 2, rng=3))
        return Merge((a, b), ("x", "y"))

    assert build().sources == ("x", "y") and build().num_requests == 3
    _resume_check(build, 1)
    with pytest.raises(ValueError, match="distinct source names"):
        Merge((_batches(), _batches()), ("a",))


def test_window_and_ngrams_match_fuel_and_resume():
    sentences = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]
    win = Window(1, 2, 2, True, _examples(sentences))
    assert list(win.get_epoch_iterator()) == [
        ([1, 2], [2, 3]), ([2, 3], [3, 4]), ([3, 4], [4, 5]), ([8, 9], [9, 10])
    ]
    ngrams = NGrams(2, _examples(sentences))
    assert list(ngrams.get_epoch_iterator()) == [([1, 2], 3), ([2, 3], 4), ([3, 4], 5), ([8, 9], 10)]
    _resume_check(lambda: NGrams(2, _examples(sentences)), 2)
    with pytest.raises(ValueError, match="one source"):
        Window(0, 1, 1, False, DataStream(IndexableDataset({"a": [[1]], "b": [[2]]})))


def test_two_iterators_over_one_transformer_stream_do_not_interfere():
    stream = Unpack(_batches(10, 4))
    a, b = stream.get_epoch_iterator(), stream.get_epoch_iterator()
    out_a, out_b = [], []
    for _ in range(10):
        out_a.append(int(next(a)[1]))
        out_b.append(int(next(b)[1]))
    assert out_a == out_b == list(range(10))


def _png(width, height, color=(255, 0, 0)):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def test_images_from_bytes_and_minimum_dimensions():
    raw = [_png(4, 3), _png(2, 5, (0, 255, 0))]
    stream = ImagesFromBytes(ToBytes(_examples(raw)))
    images = [img for img, in stream.get_epoch_iterator()]
    assert images[0].shape == (3, 3, 4) and images[0][0].max() == 255 and images[1][1].max() == 255
    assert stream.axis_labels["x"] == ("channel", "height", "width")
    grown = MinimumImageDimensions(ImagesFromBytes(ToBytes(_examples(raw))), (6, 6))
    shapes = [img.shape for img, in grown.get_epoch_iterator()]
    assert shapes == [(3, 6, 8), (3, 15, 6)]
    with pytest.raises(ValueError, match="not an image"):
        next(ImagesFromBytes(_examples([b"garbage"])).get_epoch_iterator())


def test_random_crop_matches_reference_slices_and_is_resume_stable():
    images = np.arange(6 * 2 * 8 * 8, dtype="float32").reshape(6, 2, 8, 8)

    def build():
        ds = IndexableDataset({"x": images})
        return RandomFixedSizeCrop(DataStream(ds, iteration_scheme=SequentialScheme(6, 2)), (3, 4), rng=5)

    batches = [b[0] for b in build().get_epoch_iterator()]
    for batch, start in zip(batches, (0, 2, 4)):
        assert batch.shape == (2, 2, 3, 4)
        for i, crop in enumerate(batch):
            y, x = np.argwhere(images[start + i, 0] == crop[0, 0, 0])[0]
            np.testing.assert_array_equal(crop, images[start + i, :, y : y + 3, x : x + 4])
    _resume_check(build, 1)
    again = [b[0] for b in build().get_epoch_iterator()]
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    stream = build()
    e0 = [b[0] for b in stream.get_epoch_iterator()]
    e1 = [b[0] for b in stream.get_epoch_iterator()]
    assert not all(np.array_equal(a, b) for a, b in zip(e0, e1))
    with pytest.raises(ValueError, match="smaller than the crop window"):
        next(RandomFixedSizeCrop(_examples([np.zeros((1, 2, 2))]), (3, 3)).get_epoch_iterator())


def test_random_rotation_keeps_shape_and_tiny_rotation_is_identity():
    images = np.random.default_rng(0).integers(0, 255, size=(3, 1, 6, 6)).astype("uint8")
    ds = IndexableDataset({"x": images})
    rot = Random2DRotation(DataStream(ds, iteration_scheme=SequentialScheme(3, 3)), maximum_rotation=1e-6, rng=0)
    np.testing.assert_array_equal(next(rot.get_epoch_iterator())[0], images)
    with pytest.raises(ValueError, match="maximum_rotation"):  # Fuel's range is (0, pi]
        Random2DRotation(DataStream(ds), maximum_rotation=0.0)
    rot = Random2DRotation(DataStream(ds, iteration_scheme=SequentialScheme(3, 3)), rng=0)
    out = next(rot.get_epoch_iterator())[0]
    assert out.shape == images.shape and not np.array_equal(out, images)
    with pytest.raises(ValueError, match="maximum_rotation"):
        Random2DRotation(DataStream(ds), maximum_rotation=7)


def test_state_dicts_are_json_with_seeds():
    stream = RandomFixedSizeCrop(Flatten(_batches(), which_sources=("targets",)), (1, 1), which_sources=("features",),
                                 rng=9)
    state = json.loads(json.dumps(stream.state_dict()))
    assert state["seed"] == 9 and state["child"]["child"]["scheme"]["epoch"] == 0


def test_iterable_dataset_through_batch_resume():
    def build():
        return Batch(DataStream(IterableDataset({"x": list(range(9))})), ConstantScheme(4))

    _resume_check(build, 1)


def test_example_scheme_stream_batching_keeps_labels():
    ds = IndexableDataset({"x": np.zeros((4, 2))}, axis_labels={"x": ("batch", "feature")})
    stream = Batch(DataStream(ds, iteration_scheme=SequentialExampleScheme(4)), ConstantScheme(2))
    assert stream.axis_labels == {"x": ("batch", "feature")}
    assert Unpack(stream).axis_labels == {"x": ("feature",)}
