"""Standard datasets for Fuel (MNIST, CIFAR-10/100, SVHN, digits, ...): downloaders, converters and dataset classes."""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("fuel-datasets")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
