"""Transformers: streams that wrap streams.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import ConstantScheme
>>> from fuel.streams import DataStream
>>> stream = Batch(DataStream(IndexableDataset({"x": [[1, 2], [3]]})), ConstantScheme(2))
>>> Padding(stream).sources
('x', 'x_mask')
"""

from __future__ import annotations

from fuel.transformers.background import BackgroundProcess, MultiProcessing
from fuel.transformers.base import (
    AgnosticSourcewiseTransformer,
    AgnosticTransformer,
    AxisLabelsMismatchError,
    ExpectsAxisLabels,
    SourcewiseTransformer,
    Transformer,
    TransformerCursor,
)
from fuel.transformers.batching import Batch, Cache, Padding, Unpack
from fuel.transformers.image import ImagesFromBytes, MinimumImageDimensions, Random2DRotation, RandomFixedSizeCrop
from fuel.transformers.sequences import NGrams, Window
from fuel.transformers.simple import (
    Cast,
    Filter,
    FilterSources,
    Flatten,
    ForceFloatX,
    Mapping,
    Merge,
    Rename,
    ScaleAndShift,
    SortMapping,
)

__all__ = [
    "AgnosticSourcewiseTransformer",
    "AgnosticTransformer",
    "AxisLabelsMismatchError",
    "BackgroundProcess",
    "Batch",
    "Cache",
    "Cast",
    "ExpectsAxisLabels",
    "Filter",
    "FilterSources",
    "Flatten",
    "ForceFloatX",
    "ImagesFromBytes",
    "Mapping",
    "Merge",
    "MinimumImageDimensions",
    "MultiProcessing",
    "NGrams",
    "Padding",
    "Random2DRotation",
    "RandomFixedSizeCrop",
    "Rename",
    "ScaleAndShift",
    "SortMapping",
    "SourcewiseTransformer",
    "Transformer",
    "TransformerCursor",
    "Unpack",
    "Window",
]
