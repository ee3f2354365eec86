"""CUDA backend: device selection, mixed precision, cuDNN/TF32 switches, pinned memory and overlapped host-to-device copies."""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("blocks-gpu-cuda")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
