"""CUDA backend for Blocks: device selection, mixed precision, cuDNN/TF32 switches,
pinned memory and overlapped host-to-device copies.

The backend is registered through ``register_backends`` as ``"cuda"`` and chosen
by ``select_backend`` for ``device="auto"`` or ``"cuda[:N]"`` when CUDA exists.
Import :mod:`blocks_cuda.backend` for :class:`~blocks_cuda.backend.CUDABackend`
and :class:`~blocks_cuda.backend.CUDAPrefetcher`.
"""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("blocks-gpu-cuda")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
