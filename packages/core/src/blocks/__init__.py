"""Blocks on PyTorch: bricks, the annotated graph, training and checkpoints.

Importing :mod:`blocks` is cheap: it imports neither torch nor h5py. Plugin
authors write::

    from blocks import hookimpl
"""

from __future__ import annotations

from importlib import metadata as _metadata

from blocks.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]

try:
    __version__ = _metadata.version("blocks-core")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
