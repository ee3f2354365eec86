"""Datasets: the protocol, in-memory, HDF5, text and toy datasets.

Heavy modules (``h5py``; ``tables``, an optional dependency) are imported only when their class is first used.

Examples
--------
>>> from fuel.datasets import IndexableDataset
>>> IndexableDataset([1, 2, 3]).num_examples
3
"""

from __future__ import annotations

import importlib
from typing import Any

from fuel.datasets.base import Dataset, IndexableDataset, IterableDataset

__all__ = [
    "DataPathDataset",
    "Dataset",
    "H5PYDataset",
    "IndexableDataset",
    "IterableDataset",
    "PytablesDataset",
    "Spiral",
    "SwissRoll",
    "TextFile",
]

_LAZY = {
    "DataPathDataset": "fuel.datasets.data_path",
    "H5PYDataset": "fuel.datasets.hdf5",
    "PytablesDataset": "fuel.datasets.pytables",
    "TextFile": "fuel.datasets.text",
    "Spiral": "fuel.datasets.toy",
    "SwissRoll": "fuel.datasets.toy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # Fuel's named datasets (MNIST, ...) come from the packages that provide them
        from fuel.datasets.provided import provided_dataset

        return provided_dataset(name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
