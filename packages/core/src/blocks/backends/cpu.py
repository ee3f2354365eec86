"""The ``cpu`` backend, core's default."""

from __future__ import annotations

import os
from typing import Any

import torch

from blocks.backends.base import Backend

__all__ = ["CPUBackend"]


class CPUBackend(Backend):
    """Compute on the host CPU.

    ``precision="bf16"`` runs the forward pass under CPU autocast; ``fp16`` is
    refused (CPU float16 matmuls are slow and gain nothing).

    Examples
    --------
    >>> backend = CPUBackend()
    >>> backend.device
    device(type='cpu')
    """

    name = "cpu"

    def __init__(self, device: str | torch.device = "cpu", *, floatX: str | None = None, precision: str = "float32"):
        if torch.device(device).type != "cpu":
            raise ValueError(f"the cpu backend serves device 'cpu', not {str(device)!r}")
        if precision == "fp16":
            raise ValueError("precision 'fp16' is not supported on the cpu backend; use 'bf16' or 'float32'")
        super().__init__(device, floatX=floatX, precision=precision)

    @classmethod
    def is_available(cls) -> bool:
        return True

    @classmethod
    def devices(cls) -> list[str]:
        return ["cpu"]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(threads=torch.get_num_threads(), cores=os.cpu_count())
        return info
