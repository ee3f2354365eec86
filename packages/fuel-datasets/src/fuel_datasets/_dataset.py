"""Kept for code that imported the base class from here: it is :class:`fuel.datasets.DataPathDataset` now."""

from __future__ import annotations

from fuel.datasets.data_path import DataPathDataset
from fuel.transformers.defaults import pixels_to_floatX

__all__ = ["DataPathDataset", "pixels_to_floatX"]
