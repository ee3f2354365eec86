"""Fuel on PyTorch: datasets, iteration schemes, streams and transformers.

Fuel is usable from any framework: it never imports :mod:`blocks`. Importing
:mod:`fuel` is cheap (no torch, no h5py).

``fuel.config`` is the configuration object (``~/.fuelrc``, ``FUEL_*``)::

    import fuel
    fuel.config.data_path          # directories searched for dataset files
"""

from __future__ import annotations

from importlib import metadata as _metadata

from fuel.config_parser import config

__all__ = ["__version__", "config"]

try:
    __version__ = _metadata.version("blocks-core")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
