"""Standard datasets for Fuel (MNIST, CIFAR-10/100, SVHN, digits, ...): downloaders, converters and dataset classes.

Every dataset class is importable from here (``from fuel_datasets import MNIST``) and, through the entry point
group ``fuel.datasets``, from ``fuel.datasets`` as in Fuel; the modules are imported on first use.

Examples
--------
>>> "MNIST" in __all__
True
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import Any

DATASETS: tuple[tuple[str, str, str], ...] = (
    ("adult", "Adult", "UCI census income: >50K/year from 14 attributes (train/test)"),
    ("binarized_mnist", "BinarizedMNIST", "MNIST with Larochelle's fixed binarization (train/valid/test)"),
    ("caltech101_silhouettes", "CalTech101Silhouettes", "CalTech 101 Silhouettes, 16x16 or 28x28 (train/valid/test)"),
    ("celeba", "CelebA", "CelebA aligned faces with 40 attributes (train/valid/test)"),
    ("cifar10", "CIFAR10", "CIFAR-10, 32x32 colour images, 10 classes (binary archive; train/test)"),
    ("cifar100", "CIFAR100", "CIFAR-100, 100 fine / 20 coarse classes (binary archive; train/test)"),
    ("digits", "Digits", "scikit-learn's 8x8 handwritten digits: offline, no network (train/test)"),
    ("dogs_vs_cats", "DogsVsCats", "Dogs vs. Cats photos, variable size (train/test)"),
    ("ilsvrc2010", "ILSVRC2010", "ImageNet ILSVRC2010: manual download, JPEG bytes (train/valid/test)"),
    ("ilsvrc2012", "ILSVRC2012", "ImageNet ILSVRC2012: manual download, JPEG bytes (train/valid)"),
    ("iris", "Iris", "Fisher's Iris flowers, 150 examples (all)"),
    ("mnist", "MNIST", "MNIST handwritten digits, 28x28 (train/test)"),
    ("one_billion_word", "OneBillionWord", "One Billion Word language-modelling benchmark (text)"),
    ("svhn", "SVHN", "Street View House Numbers, format 1 (boxes) or 2 (32x32) (train/test/extra)"),
)
"""``(name, class name, description)`` of every dataset; module ``fuel_datasets.<name>``."""

_MODULES = {cls: name for name, cls, _ in DATASETS}

__all__ = sorted([*_MODULES, "DATASETS", "__version__"])

try:
    __version__ = _metadata.version("fuel-datasets")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'fuel_datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fuel_datasets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
