"""Hook implementations of blocks-gpu-cuda (entry point ``blocks-gpu-cuda`` in group ``blocks``).

This module imports neither torch nor CUDA: the backend is registered as a lazy
string, and :func:`select_backend` asks torch whether CUDA exists only when a
backend is being chosen. On a machine without CUDA it declines, and core's
``cpu`` backend serves ``auto``.
"""

from __future__ import annotations

from blocks import hookimpl

__all__ = ["register_backends", "select_backend"]


@hookimpl
def register_backends(register) -> None:
    register("cuda", "blocks_cuda.backend:CUDABackend")


@hookimpl
def select_backend(requested: str, available: list[str]) -> str | None:
    """Take ``auto`` and ``cuda[:N]`` when CUDA is available; decline otherwise."""
    if "cuda" not in available or not (requested == "auto" or requested == "cuda" or requested.startswith("cuda:")):
        return None
    import torch

    return "cuda" if torch.cuda.is_available() else None
