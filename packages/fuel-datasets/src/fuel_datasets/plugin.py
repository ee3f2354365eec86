"""Hook implementations of fuel-datasets (entry point ``fuel-datasets`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings, and ``fuel-download --help`` lists the datasets
from the descriptions here without importing any dataset module.
"""

from __future__ import annotations

from typing import Any, Callable

from blocks import hookimpl

__all__ = ["DATASETS", "register_datasets"]

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


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register every dataset with its download and convert commands (lazy references)."""
    for name, cls, description in DATASETS:
        module = f"fuel_datasets.{name}"
        register(name, f"{module}:{cls}", download=f"{module}:fill_download_subparser",
                 convert=f"{module}:fill_convert_subparser", description=description)
