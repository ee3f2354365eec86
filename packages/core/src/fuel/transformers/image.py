"""Image transformers: decoding, minimum size, random crops and rotations.

Images are ``(channel, height, width)`` arrays (or ``(height, width)``). A
batch is a 4-D array or a list / object array of 3-D images of any size.
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

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fuel.streams import AbstractDataStream
from fuel.transformers.base import ExpectsAxisLabels, SourcewiseTransformer, TransformerCursor
from fuel.utils.random import PositionRNG, resolve_seed

__all__ = ["ImagesFromBytes", "MinimumImageDimensions", "Random2DRotation", "RandomFixedSizeCrop"]

_RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


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
        labels = ("channel", "height", "width") if self.produces_examples else ("batch", "channel", "height", "width")
        self.axis_labels = dict(self.axis_labels or {})
        for source in self.which_sources:
            self.axis_labels[source] = labels

    def transform_source_example(self, example: Any, source_name: str) -> np.ndarray:
        """Decode one image."""
        from PIL import Image, UnidentifiedImageError

        data = example.tobytes() if isinstance(example, np.ndarray) else bytes(example)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if self.color_mode is not None:
                    image = image.convert(self.color_mode)
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
        from PIL import Image

        example = np.asarray(example)
        if example.ndim not in (2, 3):
            raise ValueError(f"source {source_name!r}: images must be (channel, height, width) or (height, width)")
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

    def transform_source_batch(self, batch: Any, source_name: str) -> list[np.ndarray]:
        """Upscale every image of a batch."""
        return [self.transform_source_example(example, source_name) for example in batch]


class _RandomImageTransformer(SourcewiseTransformer):
    def __init__(self, data_stream: AbstractDataStream, rng: Any = None, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.seed = resolve_seed(rng)

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        data = cursor.child.next()
        rngs = cursor.extra.get("rngs")
        if rngs is None:
            rngs = cursor.extra["rngs"] = PositionRNG(self.seed, cursor.epoch)
        rng = rngs.at(cursor.position)
        names = self.data_stream.sources
        return tuple(
            self._transform(d, n, rng, not self.produces_examples) if m else d
            for d, n, m in zip(data, names, self._mask)
        )

    def _transform(self, data: Any, name: str, rng: np.random.Generator, is_batch: bool) -> Any:
        raise ValueError(f"{type(self).__name__} does not transform data")

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

    def _crop(self, image: np.ndarray, name: str, top: float, left: float) -> np.ndarray:
        height, width = image.shape[-2:]
        window_height, window_width = self.window_shape
        if height < window_height or width < window_width:
            raise ValueError(
                f"source {name!r}: image of {height}x{width} is smaller than the crop window "
                f"{window_height}x{window_width}; use MinimumImageDimensions first"
            )
        y = int(top * (height - window_height + 1))
        x = int(left * (width - window_width + 1))
        return image[..., y : y + window_height, x : x + window_width]

    def _transform(self, data: Any, name: str, rng: np.random.Generator, is_batch: bool) -> Any:
        if not is_batch:
            top, left = rng.random(2)
            return np.array(self._crop(np.asarray(data), name, top, left))
        offsets = rng.random((len(data), 2))
        if isinstance(data, np.ndarray) and data.dtype != object and data.ndim == 4:
            window_height, window_width = self.window_shape
            height, width = data.shape[-2:]
            if height < window_height or width < window_width:
                self._crop(data[0], name, 0.0, 0.0)  # raises the error naming the sizes
            tops = (offsets[:, 0] * (height - window_height + 1)).astype(np.intp).tolist()
            lefts = (offsets[:, 1] * (width - window_width + 1)).astype(np.intp).tolist()
            out = np.empty(data.shape[:2] + self.window_shape, dtype=data.dtype)
            for i, (y, x) in enumerate(zip(tops, lefts)):
                out[i] = data[i, :, y : y + window_height, x : x + window_width]
            return out
        return [np.array(self._crop(np.asarray(image), name, t, w)) for image, (t, w) in zip(data, offsets)]


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
        if not 0 <= maximum_rotation <= math.pi:
            raise ValueError(f"maximum_rotation must be in [0, pi] radians, got {maximum_rotation}")
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
            angle = rng.uniform(-self.maximum_rotation, self.maximum_rotation)
            return self._rotate(data, math.degrees(angle))
        angles = rng.uniform(-self.maximum_rotation, self.maximum_rotation, size=len(data))
        rotated = [self._rotate(image, math.degrees(a)) for image, a in zip(data, angles)]
        if isinstance(data, np.ndarray) and data.dtype != object:
            return np.stack(rotated)
        return rotated
