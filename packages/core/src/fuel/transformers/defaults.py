"""Presets used as datasets' ``default_transformers`` (Fuel's ``fuel.transformers.defaults``).

Examples
--------
>>> [t.__name__ for t, _, _ in uint8_pixels_to_floatX(("features",))]
['ScaleAndShift', 'Cast']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fuel.transformers.base import SourcewiseTransformer
from fuel.transformers.image import ImagesFromBytes
from fuel.transformers.simple import Cast, ScaleAndShift

__all__ = ["ToBytes", "pixels_to_floatX", "rgb_images_from_encoded_bytes", "uint8_pixels_to_floatX"]


class ToBytes(SourcewiseTransformer):
    """Turn uint8 arrays (e.g. encoded images stored as vlen data) into ``bytes``.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = ToBytes(DataStream(IndexableDataset({"x": [np.array([104, 105], "uint8")]})))
    >>> next(s.get_epoch_iterator())
    (b'hi',)
    """

    def __init__(self, data_stream: Any, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)

    def transform_source_example(self, example: Any, source_name: str) -> bytes:
        """One array to bytes."""
        return np.asarray(example, dtype=np.uint8).tobytes()

    def transform_source_batch(self, batch: Any, source_name: str) -> list[bytes]:
        """Every array of the batch to bytes."""
        return [np.asarray(example, dtype=np.uint8).tobytes() for example in batch]


def uint8_pixels_to_floatX(which_sources: Sequence[str]) -> tuple[tuple[Any, list[Any], dict[str, Any]], ...]:
    """Scale uint8 pixels by 1/255 and cast them to floatX."""
    return (
        (ScaleAndShift, [1 / 255.0, 0], {"which_sources": which_sources}),
        (Cast, ["floatX"], {"which_sources": which_sources}),
    )


def pixels_to_floatX(
    which_sources: Sequence[str], maximum: float = 255.0
) -> tuple[tuple[Any, list[Any], dict[str, Any]], ...]:
    """Scale pixels by ``1 / maximum`` and cast them to floatX (:func:`uint8_pixels_to_floatX` for any maximum).

    Parameters
    ----------
    which_sources : sequence of str
        The sources holding pixels.
    maximum : float
        The largest pixel value (255 for uint8 images, 1 for binary ones).

    Examples
    --------
    >>> [(t.__name__, args) for t, args, _ in pixels_to_floatX(("features",), maximum=15.0)]
    [('ScaleAndShift', [0.06666666666666667, 0.0]), ('Cast', ['floatX'])]
    """
    sources = tuple(which_sources)
    return (
        (ScaleAndShift, [1.0 / maximum, 0.0], {"which_sources": sources}),
        (Cast, ["floatX"], {"which_sources": sources}),
    )


def rgb_images_from_encoded_bytes(which_sources: Sequence[str]) -> tuple[tuple[Any, list[Any], dict[str, Any]], ...]:
    """Decode PNG/JPEG bytes into (channel, height, width) RGB arrays.

    Examples
    --------
    >>> rgb_images_from_encoded_bytes(("image_features",))[-1][0].__name__
    'ImagesFromBytes'
    """
    return (
        (ToBytes, [], {"which_sources": which_sources}),
        (ImagesFromBytes, [], {"which_sources": which_sources, "color_mode": "RGB"}),
    )
