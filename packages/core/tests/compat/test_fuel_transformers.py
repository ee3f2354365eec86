"""Fuel's transformer behaviour: error types, Cache.cache, Rename's rules, axis-label checks, image formats."""

from __future__ import annotations

import io
import logging
import math
from collections import OrderedDict

import numpy as np
import pytest

from fuel.datasets import IndexableDataset, IterableDataset, SwissRoll
from fuel.schemes import ConstantScheme, SequentialExampleScheme, SequentialScheme
from fuel.streams import DataStream
from fuel.transformers import (
    AgnosticSourcewiseTransformer,
    AgnosticTransformer,
    AxisLabelsMismatchError,
    Batch,
    Cache,
    ExpectsAxisLabels,
    ImagesFromBytes,
    MinimumImageDimensions,
    Random2DRotation,
    RandomFixedSizeCrop,
    Rename,
    SourcewiseTransformer,
    Transformer,
)
from fuel.transformers.image import ImageFormatError


def _examples(data=(1, 2, 3)):
    return DataStream(IterableDataset(list(data)))


def test_base_transforms_raise_not_implemented_and_bare_transformer_is_identity():
    bare = Transformer(_examples())
    with pytest.raises(NotImplementedError, match="examples"):
        bare.transform_example((1,))
    with pytest.raises(NotImplementedError, match="batches"):
        bare.transform_batch((1,))
    assert list(bare.get_epoch_iterator()) == [(1,), (2,), (3,)]  # nothing overridden: passes data through
    sourcewise = SourcewiseTransformer(_examples(), True)
    with pytest.raises(NotImplementedError):
        sourcewise.transform_source_example(1, "data")
    with pytest.raises(NotImplementedError):
        sourcewise.transform_source_batch([1], "data")
    with pytest.raises(NotImplementedError):
        AgnosticTransformer(_examples()).transform_any((1,))
    with pytest.raises(NotImplementedError):
        AgnosticSourcewiseTransformer(_examples()).transform_any_source(1, "data")


def test_a_transformer_for_batches_only_is_not_silently_skipped_on_examples():
    class BatchesOnly(Transformer):
        def transform_batch(self, batch):
            return tuple(b * 0 for b in batch)

    with pytest.raises(NotImplementedError, match="does not support examples"):
        next(BatchesOnly(_examples()).get_epoch_iterator())
    assert [b[0].tolist() for b in BatchesOnly(Batch(_examples(), ConstantScheme(2))).get_epoch_iterator()] == [
        [0, 0], [0]]


def test_switching_examples_to_batches_needs_get_data_from():
    transformer = Transformer(_examples(), produces_examples=True)
    transformer.produces_examples = False
    iterator = transformer.get_epoch_iterator()
    with pytest.raises(NotImplementedError, match="produces examples while this Transformer produces batches"):
        next(iterator)
    with pytest.raises(NotImplementedError, match="produces examples"):
        transformer.get_data()


def test_rename_raises_key_error_like_fuel():
    stream = DataStream(IndexableDataset(OrderedDict([("X", np.ones((4, 2))), ("y", np.arange(4))])),
                        iteration_scheme=SequentialScheme(4, 2))
    for names in ({"Z": "features"}, {"X": "y"}, {"X": "f", "y": "f"}):
        with pytest.raises(KeyError):
            Rename(stream, names)
        with pytest.raises(ValueError):  # and still a ValueError, as our argument errors are
            Rename(stream, names)
    with pytest.raises(ValueError, match="on_non_existent"):
        Rename(stream, {"X": "f"}, on_non_existent="foo")
    renamed = Rename(stream, {"X": "f", "y": "t"})
    assert renamed.sources == ("f", "t")
    for got, want in zip(renamed.get_epoch_iterator(), stream.get_epoch_iterator()):  # the data is unchanged
        assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert Rename(stream, {"X": "y", "y": "X"}).sources == ("y", "X")
    assert Rename(stream, {"X": "f", "y": "t", "Z": "t"}, on_non_existent="ignore").sources == ("f", "t")
    assert Rename(stream, {"foobar": "y"}, on_non_existent="ignore").sources == ("X", "y")


def test_cache_exposes_the_current_epochs_cache():
    cached = Cache(Batch(DataStream(IterableDataset(range(20))), ConstantScheme(6)), ConstantScheme(4))
    assert cached.cache == [[]]
    sizes = []
    for (batch,) in cached.get_epoch_iterator():
        sizes.append(len(cached.cache[0]))
    assert sizes == [2, 4, 0, 2, 0] and cached.cache == [[]]
    iterator = cached.get_epoch_iterator()
    next(iterator)
    assert cached.cache[0] == [4, 5]
    with pytest.raises(ValueError, match="request"):
        cached.get_data(None)


def test_expects_axis_labels_warns_once_per_source_and_raises_on_mismatch(caplog):
    checker = ExpectsAxisLabels()
    with caplog.at_level(logging.WARNING):
        checker.verify_axis_labels(("a", "b"), None, "foo")
        checker.verify_axis_labels(("a", "b"), None, "foo")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    with pytest.raises(AxisLabelsMismatchError, match="expects axis labels"):
        checker.verify_axis_labels(("a", "b"), ("b", "a"), "bar")
    assert issubclass(AxisLabelsMismatchError, ValueError)


def _png(mode, shape, fmt="PNG"):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, size=shape).astype("uint8"), mode=mode).save(
        buffer, format=fmt)
    return buffer.getvalue()


def test_images_from_bytes_which_sources_string_and_type_errors():
    dataset = IndexableDataset(OrderedDict([("rgb", [_png("RGB", (4, 5, 3))]), ("gray", [_png("L", (3, 2))])]),
                               axis_labels={"rgb": ("batch", "bytes"), "gray": ("batch", "bytes")})
    stream = ImagesFromBytes(DataStream(dataset, iteration_scheme=SequentialExampleScheme(1)), which_sources="gray",
                             color_mode=None)
    raw, gray = next(stream.get_epoch_iterator())
    assert isinstance(raw, bytes) and gray.shape == (1, 3, 2)
    assert stream.axis_labels == {"rgb": ("bytes",), "gray": ("channel", "height", "width")}
    with pytest.raises(TypeError, match="bytes of an image"):
        stream.transform_source_example(54321, "gray")
    with pytest.raises(ValueError, match="not an image"):
        stream.transform_source_example(b"not a png", "gray")


def _image_stream(images, labels=("batch", "channel", "height", "width"), batch=None):
    dataset = IndexableDataset({"x": images}, axis_labels={"x": labels} if labels else None)
    scheme = SequentialScheme(len(images), batch) if batch else SequentialExampleScheme(len(images))
    return DataStream(dataset, iteration_scheme=scheme)


def test_image_transformers_refuse_other_layouts_with_fuels_error_types():
    images = np.zeros((4, 3, 6, 6), "uint8")
    crop, crop_batches = RandomFixedSizeCrop(_image_stream(images), (4, 4)), RandomFixedSizeCrop(
        _image_stream(images, batch=2), (4, 4))
    rotate, rotate_batches = Random2DRotation(_image_stream(images), math.pi / 4), Random2DRotation(
        _image_stream(images, batch=2), math.pi / 4)
    for call in (lambda: crop.transform_source_example(np.zeros((6, 6)), "x"),
                 lambda: crop_batches.transform_source_batch([np.zeros((6, 6))], "x"),
                 lambda: rotate.transform_source_example(np.zeros((6, 6)), "x"),
                 lambda: rotate_batches.transform_source_batch(np.zeros((2, 6, 6)), "x")):
        with pytest.raises(ValueError, match=r"\(channel, height, width\)"):
            call()
    with pytest.raises(ValueError, match="smaller than the crop window"):
        crop.transform_source_example(np.zeros((3, 2, 6)), "x")
    grow = MinimumImageDimensions(_image_stream(images), (8, 8))
    with pytest.raises(NotImplementedError):
        grow.transform_source_example(np.zeros((2, 3, 4, 2)), "x")
    with pytest.raises(ImageFormatError):
        grow.transform_source_example(np.zeros(3), "x")
    with pytest.raises(ValueError, match=r"\(0, pi\]"):
        Random2DRotation(_image_stream(images), maximum_rotation=0.0)
    with pytest.raises(ValueError, match="resample"):
        MinimumImageDimensions(_image_stream(images), (4, 5), resample="notarealresamplingmode")


def test_image_transformers_check_axis_labels_once_per_epoch():
    channels_last = _image_stream(np.zeros((2, 6, 6, 3), "uint8"), labels=("batch", "height", "width", "channel"),
                                  batch=2)
    with pytest.raises(AxisLabelsMismatchError, match="channel"):
        next(RandomFixedSizeCrop(channels_last, (4, 4)).get_epoch_iterator())
    with pytest.raises(AxisLabelsMismatchError):
        next(MinimumImageDimensions(channels_last, (8, 8)).get_epoch_iterator())
    unlabelled = _image_stream(np.zeros((2, 3, 6, 6), "uint8"), labels=None, batch=2)
    assert next(RandomFixedSizeCrop(unlabelled, (4, 4)).get_epoch_iterator())[0].shape == (2, 3, 4, 4)


def test_direct_calls_draw_from_the_given_generator_like_fuel():
    from PIL import Image

    image = np.arange(3 * 4 * 6, dtype="uint8").reshape(3, 4, 6)
    rotate = Random2DRotation(_image_stream(image[None]), maximum_rotation=0.5, rng=np.random.RandomState(123))
    angle = np.random.RandomState(123).uniform(-0.5, 0.5)
    reference = np.array(Image.fromarray(image.transpose(1, 2, 0)).rotate(math.degrees(angle), resample=0))
    np.testing.assert_array_equal(rotate.transform_source_example(image, "x"), reference.transpose(2, 0, 1))
    crop = RandomFixedSizeCrop(_image_stream(image[None]), (2, 3), rng=np.random.RandomState(7))
    draws = np.random.RandomState(7)
    top, left = draws.randint(0, 3), draws.randint(0, 4)
    np.testing.assert_array_equal(crop.transform_source_example(image, "x"), image[:, top:top + 2, left:left + 3])


def test_a_subclass_overriding_transform_source_example_is_used_in_the_stream():
    class Flip(RandomFixedSizeCrop):
        def transform_source_example(self, example, source_name):
            return example[:, ::-1]

    images = np.arange(2 * 1 * 3 * 3, dtype="uint8").reshape(2, 1, 3, 3)
    flipped = [x for x, in Flip(_image_stream(images), (2, 2)).get_epoch_iterator()]
    np.testing.assert_array_equal(flipped[1], images[1][:, ::-1])


def test_swiss_roll_position_is_radial_position_and_height():
    roll = SwissRoll(num_examples=50, seed=1)
    features, position = roll.get_data(None, slice(0, 50))
    assert position.shape == (50, 2) and features.shape == (50, 3)
    assert 0 <= position[:, 0].min() and position[:, 0].max() <= 1
    np.testing.assert_allclose(features[:, 2], position[:, 1], rtol=1e-5)
