"""Image transformers: decoding, minimum size, random crops and rotations.

Images are ``(channel, height, width)`` arrays (``MinimumImageDimensions``
also takes ``(height, width)``). A batch is a 4-D array or a list / object
array of 3-D images of any size; other layouts raise :class:`ImageFormatError`
(a ``ValueError``). Transformers that expect image axes check the stream's
axis labels once (a mismatch raises, missing labels are logged).
Random transformers draw from a generator derived from ``(seed, epoch,
position in the epoch)``, so resuming or prefetching never changes the data.
Pillow is imported when an image is first decoded, resized or rotated.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> images = IndexableDataset({"x": np.zeros((4, 3, 10, 10), "uint8")})
>>> crop = RandomFixedSizeCrop(DataStream(images, iteration_scheme=SequentialScheme(4, 2)), (5, 6), rng=0)
>>> next(crop.get_epoch_iterator())[0].shape
(2, 3, 5, 6)
"""

from __future__ import annotations

import copy
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fuel.streams import AbstractDataStream
from fuel.transformers.base import ExpectsAxisLabels, SourcewiseTransformer, TransformerCursor
from fuel.utils.random import PositionRNG, resolve_seed

__all__ = ["ImageFormatError", "ImagesFromBytes", "MinimumImageDimensions", "Random2DRotation", "RandomFixedSizeCrop"]

_RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
_EXAMPLE_AXES = ("channel", "height", "width")
_BATCH_AXES = ("batch", "channel", "height", "width")


class ImageFormatError(ValueError, NotImplementedError):
    """Data that is not an image of a layout the transformer handles.

    A ``ValueError``; also a ``NotImplementedError``, which Fuel's
    ``MinimumImageDimensions`` raised for images of other dimensions.

    Examples
    --------
    >>> issubclass(ImageFormatError, ValueError)
    True
    """


def _check_example(example: Any, name: str, what: str) -> np.ndarray:
    if not isinstance(example, np.ndarray) or example.ndim != 3:
        shape = getattr(example, "shape", None)
        raise ImageFormatError(
            f"source {name!r}: {what} takes images as (channel, height, width) arrays, got "
            f"{type(example).__name__}{'' if shape is None else ' of shape ' + str(shape)}"
        )
    return example


def _check_batch(batch: Any, name: str, what: str) -> None:
    if isinstance(batch, np.ndarray) and batch.dtype != object:
        if batch.ndim != 4:
            raise ImageFormatError(
                f"source {name!r}: {what} takes batches as (batch, channel, height, width) arrays or lists of "
                f"(channel, height, width) arrays, got an array of shape {batch.shape}"
            )
        return
    for example in batch:
        _check_example(example, name, what)


def _resample_filter(name: str) -> Any:
    from PIL import Image

    if name not in _RESAMPLE:
        raise ValueError(f"resample must be one of {list(_RESAMPLE)}, got {name!r}")
    return getattr(Image.Resampling, name.upper())


def _check_resample(name: str) -> str:
    if name not in _RESAMPLE:
        raise ValueError(f"resample must be one of {list(_RESAMPLE)}, got {name!r}")
    return name


class ImagesFromBytes(SourcewiseTransformer):
    """Decode PNG/JPEG/... bytes into ``(channel, height, width)`` uint8 arrays.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    color_mode : str
        A Pillow mode (``'RGB'``, ``'L'``, ...); ``None`` keeps the file's.
    which_sources : sequence of str, optional
        Sources to decode.

    Examples
    --------
    >>> from PIL import Image
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 2)).save(buf, format="PNG")
    >>> s = ImagesFromBytes(DataStream(IndexableDataset({"img": [buf.getvalue()]})))
    >>> next(s.get_epoch_iterator())[0].shape
    (3, 2, 4)
    """

    def __init__(self, data_stream: AbstractDataStream, color_mode: str | None = "RGB", **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.color_mode = color_mode

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels or {}
        image = _EXAMPLE_AXES if self.produces_examples else _BATCH_AXES
        return {s: image if s in self.which_sources else labels.get(s) for s in self.data_stream.sources}

    def transform_source_example(self, example: Any, source_name: str) -> np.ndarray:
        """Decode one image (``bytes``, ``bytearray``, ``memoryview`` or a uint8 array)."""
        from PIL import Image, UnidentifiedImageError

        if isinstance(example, np.ndarray):
            data = example.tobytes()
        elif isinstance(example, bytes):
            data = example
        elif isinstance(example, (bytearray, memoryview)):
            data = bytes(example)
        else:
            raise TypeError(f"source {source_name!r}: expected the bytes of an image, got {type(example).__name__}")
        try:
            with Image.open(io.BytesIO(data)) as image:
                if self.color_mode is not None and image.mode != self.color_mode:
                    image = image.convert(self.color_mode)  # (to the same mode it would be a copy)
                array = np.array(image)
        except UnidentifiedImageError as err:
            raise ValueError(f"source {source_name!r}: bytes are not an image Pillow can decode: {err}") from err
        if array.ndim == 2:
            return array[np.newaxis]
        return array.transpose(2, 0, 1)

    def transform_source_batch(self, batch: Any, source_name: str) -> list[np.ndarray]:
        """Decode every image of a batch (a list, as sizes may differ)."""
        return [self.transform_source_example(example, source_name) for example in batch]


class MinimumImageDimensions(SourcewiseTransformer, ExpectsAxisLabels):
    """Upscale images smaller than ``minimum_shape`` (aspect ratio kept), as in Fuel.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    minimum_shape : (int, int)
        Minimum ``(height, width)``.
    resample : str
        Pillow filter name (``'nearest'``, ``'bilinear'``, ...).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = MinimumImageDimensions(DataStream(IndexableDataset({"x": [np.ones((1, 2, 4), "uint8")]})), (4, 4))
    >>> next(s.get_epoch_iterator())[0].shape
    (1, 4, 8)
    """

    def __init__(
        self, data_stream: AbstractDataStream, minimum_shape: Sequence[int], resample: str = "nearest", **kwargs: Any
    ):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        if len(minimum_shape) != 2 or min(minimum_shape) < 1:
            raise ValueError(f"minimum_shape must be (height, width) of positive ints, got {minimum_shape!r}")
        self.minimum_shape = tuple(int(x) for x in minimum_shape)
        self.resample = _check_resample(resample)

    def transform_source_example(self, example: Any, source_name: str) -> np.ndarray:
        """Upscale one image if needed."""
        self.verify_axis_labels(_EXAMPLE_AXES, _labels_of(self.data_stream, source_name), source_name)
        return self._upscale(example, source_name)

    def transform_source_batch(self, batch: Any, source_name: str) -> list[np.ndarray]:
        """Upscale every image of a batch."""
        self.verify_axis_labels(_BATCH_AXES, _labels_of(self.data_stream, source_name), source_name)
        return [self._upscale(example, source_name) for example in batch]

    def _upscale(self, example: Any, source_name: str) -> np.ndarray:
        from PIL import Image

        example = np.asarray(example)
        if example.ndim not in (2, 3):
            raise ImageFormatError(
                f"source {source_name!r}: images must be (channel, height, width) or (height, width) arrays, "
                f"got shape {example.shape}"
            )
        min_height, min_width = self.minimum_shape
        height, width = example.shape[-2:]
        if height >= min_height and width >= min_width:
            return example
        multiplier = max(1.0, min_width / width, min_height / height)
        new_size = (int(math.ceil(width * multiplier)), int(math.ceil(height * multiplier)))
        channels = example if example.ndim == 3 else example[np.newaxis]
        resized = [
            np.asarray(Image.fromarray(channel).resize(new_size, resample=_resample_filter(self.resample)))
            for channel in channels
        ]
        out = np.stack(resized).astype(example.dtype, copy=False)
        return out if example.ndim == 3 else out[0]


def _randint(rng: Any, high: int, size: int | None = None) -> Any:
    """Integers in ``[0, high)`` from a numpy ``Generator`` or ``RandomState``."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, high, size=size)
    return rng.randint(0, high, size=size)


def _labels_of(stream: AbstractDataStream, source: str) -> Any:
    labels = stream.axis_labels
    return labels.get(source) if labels else None


class _RandomImageTransformer(SourcewiseTransformer, ExpectsAxisLabels):
    """Random per-image transformations, resumable: the randomness of a stream is ``(seed, epoch, position)``.

    ``rng`` gives the seed (``resolve_seed``); ``self.rng`` is what direct
    calls of ``transform_source_example``/``transform_source_batch`` draw from,
    as in Fuel: a copy of the generator given, or a ``RandomState`` of the
    seed. A subclass that overrides those methods is used through them, and
    its draws then depend on the order of calls (not resumable exactly).
    """

    one_to_one = True  # the draws of output p depend only on (seed, epoch, p)

    def __init__(self, data_stream: AbstractDataStream, rng: Any = None, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        generator = rng if isinstance(rng, (np.random.RandomState, np.random.Generator)) else None
        self.rng = copy.deepcopy(generator) if generator is not None else None
        self.seed = resolve_seed(rng)
        if self.rng is None:
            self.rng = np.random.RandomState(self.seed % 2**32)
        cls = type(self)
        self._overridden = (
            cls.transform_source_example is not _RandomImageTransformer.transform_source_example
            or cls.transform_source_batch is not _RandomImageTransformer.transform_source_batch
        )

    @property
    def sequential(self) -> bool:
        """True when a subclass draws from ``self.rng`` in its own ``transform_source_*`` (order-dependent)."""
        return self._overridden or super().sequential

    def init_cursor(self, cursor: TransformerCursor) -> None:
        super().init_cursor(cursor)
        self._start_epoch(cursor)

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        super().restore_cursor(cursor, state)
        self._start_epoch(cursor)

    def _start_epoch(self, cursor: TransformerCursor) -> None:
        """Check the axis labels once per epoch (not per batch) and note what the stream produces."""
        batches = not self.produces_examples
        cursor.extra["is_batch"] = batches
        if not self._overridden:
            for source in self.which_sources:
                self.verify_axis_labels(_BATCH_AXES if batches else _EXAMPLE_AXES,
                                        _labels_of(self.data_stream, source), source)

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        if self._overridden:
            return cursor.transform(cursor.child.next())
        data = cursor.child.next()
        rngs = cursor.extra.get("rngs")
        if rngs is None:
            rngs = cursor.extra["rngs"] = PositionRNG(self.seed, cursor.epoch)
        rng = rngs.at(cursor.position)
        is_batch = cursor.extra["is_batch"]
        return tuple(
            self._transform(d, n, rng, is_batch) if m else d for d, n, m in zip(data, self._names, self._mask)
        )

    def transform_source_example(self, example: Any, source_name: str) -> Any:
        """Transform one image, drawing from ``self.rng`` (Fuel's API outside a stream)."""
        self.verify_axis_labels(_EXAMPLE_AXES, _labels_of(self.data_stream, source_name), source_name)
        return self._transform(example, source_name, self.rng, False)

    def transform_source_batch(self, batch: Any, source_name: str) -> Any:
        """Transform a batch of images, drawing from ``self.rng`` (Fuel's API outside a stream)."""
        self.verify_axis_labels(_BATCH_AXES, _labels_of(self.data_stream, source_name), source_name)
        return self._transform(batch, source_name, self.rng, True)

    def _transform(self, data: Any, name: str, rng: Any, is_batch: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not transform data")

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["seed"] = self.seed
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state.get("seed") is not None:
            self.seed = int(state["seed"])


class RandomFixedSizeCrop(_RandomImageTransformer):
    """Random ``window_shape`` crops of every image.

    Parameters
    ----------
    data_stream : AbstractDataStream
        Images ``(channel, height, width)``; batches are 4-D arrays or lists.
    window_shape : (int, int)
        Crop ``(height, width)``.
    rng : int, numpy generator or None
        The seed (default ``fuel.config.default_seed``).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = RandomFixedSizeCrop(DataStream(IndexableDataset({"x": [np.ones((1, 4, 4))]})), (2, 3), rng=1)
    >>> next(s.get_epoch_iterator())[0].shape
    (1, 2, 3)
    """

    def __init__(self, data_stream: AbstractDataStream, window_shape: Sequence[int], rng: Any = None, **kwargs: Any):
        super().__init__(data_stream, rng, **kwargs)
        if len(window_shape) != 2 or min(window_shape) < 1:
            raise ValueError(f"window_shape must be (height, width) of positive ints, got {window_shape!r}")
        self.window_shape = tuple(int(x) for x in window_shape)

    def _room(self, shape: tuple[int, ...], name: str) -> tuple[int, int]:
        """How far the window can move down and right in an image of ``shape``."""
        height, width = shape[-2:]
        window_height, window_width = self.window_shape
        if height < window_height or width < window_width:
            raise ValueError(
                f"source {name!r}: image of {height}x{width} is smaller than the crop window "
                f"{window_height}x{window_width}; use MinimumImageDimensions first"
            )
        return height - window_height, width - window_width

    def _crop(self, image: np.ndarray, name: str, rng: Any) -> np.ndarray:
        # Fuel's draws: a height offset, then a width offset, each only where the window can move
        room_height, room_width = self._room(image.shape, name)
        y = int(_randint(rng, room_height + 1)) if room_height else 0
        x = int(_randint(rng, room_width + 1)) if room_width else 0
        window_height, window_width = self.window_shape
        return np.array(image[..., y : y + window_height, x : x + window_width])

    def _transform(self, data: Any, name: str, rng: Any, is_batch: bool) -> Any:
        if not is_batch:
            return self._crop(_check_example(data, name, "RandomFixedSizeCrop"), name, rng)
        _check_batch(data, name, "RandomFixedSizeCrop")
        if not (isinstance(data, np.ndarray) and data.dtype != object):
            return [self._crop(image, name, rng) for image in data]
        # an array batch draws every width offset, then every height offset (Fuel's order)
        room_height, room_width = self._room(data.shape, name)
        if isinstance(rng, np.random.Generator):  # one call per batch: floor(u * (room + 1)) is uniform too
            uniform = rng.random((2, len(data)))
            lefts = (uniform[0] * (room_width + 1)).astype(np.intp).tolist()
            tops = (uniform[1] * (room_height + 1)).astype(np.intp).tolist()
        else:
            lefts = _randint(rng, room_width + 1, len(data)).tolist()
            tops = _randint(rng, room_height + 1, len(data)).tolist()
        window_height, window_width = self.window_shape
        out = np.empty(data.shape[:2] + self.window_shape, dtype=data.dtype)
        for i, (y, x) in enumerate(zip(tops, lefts)):
            out[i] = data[i, :, y : y + window_height, x : x + window_width]
        return out


class Random2DRotation(_RandomImageTransformer):
    """Rotate every image by a random angle in ``[-maximum_rotation, maximum_rotation]`` (radians).

    Parameters
    ----------
    data_stream : AbstractDataStream
        Images ``(channel, height, width)``; batches are 4-D arrays or lists.
    maximum_rotation : float
        Largest rotation, in radians (default pi).
    resample : str
        Pillow filter (``'nearest'``, ``'bilinear'``, ``'bicubic'``).
    rng : int, numpy generator or None
        The seed (default ``fuel.config.default_seed``).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = Random2DRotation(DataStream(IndexableDataset({"x": [np.ones((1, 5, 5), "uint8")]})), rng=0)
    >>> next(s.get_epoch_iterator())[0].shape
    (1, 5, 5)
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        maximum_rotation: float = math.pi,
        resample: str = "nearest",
        rng: Any = None,
        **kwargs: Any,
    ):
        super().__init__(data_stream, rng, **kwargs)
        if not 0 < maximum_rotation <= math.pi:
            raise ValueError(f"maximum_rotation must be in (0, pi] radians, got {maximum_rotation}")
        if resample not in ("nearest", "bilinear", "bicubic"):
            raise ValueError(f"resample must be 'nearest', 'bilinear' or 'bicubic', got {resample!r}")
        self.maximum_rotation = float(maximum_rotation)
        self.resample = resample

    def _rotate(self, image: np.ndarray, degrees: float) -> np.ndarray:
        from PIL import Image

        image = np.asarray(image)
        channels = image if image.ndim == 3 else image[np.newaxis]
        resample = _resample_filter(self.resample)
        rotated = []
        for channel in channels:
            mode_data = channel if channel.dtype == np.uint8 else channel.astype(np.float32)
            rotated.append(np.asarray(Image.fromarray(mode_data).rotate(degrees, resample=resample)))
        out = np.stack(rotated).astype(image.dtype, copy=False)
        return out if image.ndim == 3 else out[0]

    def _transform(self, data: Any, name: str, rng: np.random.Generator, is_batch: bool) -> Any:
        if not is_batch:
            image = _check_example(data, name, "Random2DRotation")
            angle = rng.uniform(-self.maximum_rotation, self.maximum_rotation)
            return self._rotate(image, math.degrees(angle))
        _check_batch(data, name, "Random2DRotation")
        angles = rng.uniform(-self.maximum_rotation, self.maximum_rotation, size=len(data))
        rotated = [self._rotate(image, math.degrees(a)) for image, a in zip(data, angles)]
        if not isinstance(data, np.ndarray):
            return rotated
        if data.dtype != object:
            return np.stack(rotated)
        out = np.empty(len(rotated), dtype=object)
        out[:] = rotated
        return out
