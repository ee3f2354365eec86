"""The layout of a checkpoint: its members' names and which member holds which array.

See :mod:`blocks.serialization.checkpoint` for what each member holds.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ALGORITHM_POINTER",
    "OBJECTS",
    "OPTIMIZER",
    "PARAMETERS",
    "STATE",
    "STATE_JSON",
    "dtype_name",
    "in_optimizer",
    "inline_scalar",
    "json_bytes",
]

PARAMETERS = "parameters.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "state.safetensors"
STATE_JSON = "state.json"
OBJECTS = "objects.pickle"
ALGORITHM_POINTER = "/main_loop/algorithm"
"""JSON Pointer of the algorithm's state: its arrays go to ``optimizer.safetensors``."""


def in_optimizer(pointer: str) -> bool:
    """Whether the array at ``pointer`` belongs in ``optimizer.safetensors`` (else ``state.safetensors``).

    Examples
    --------
    >>> in_optimizer("/main_loop/algorithm/step_rule/buffers/velocity/w"), in_optimizer("/rng/torch")
    (True, False)
    """
    return pointer.startswith(ALGORITHM_POINTER + "/")


def inline_scalar(pointer: str) -> bool:
    """0-d tensors go into state.json, except the algorithm's (hyper-parameters stay in optimizer.safetensors)."""
    return not in_optimizer(pointer)


def dtype_name(dtype: Any) -> str:
    """A torch dtype's name as checkpoints record it (``float32``).

    Examples
    --------
    >>> import torch
    >>> dtype_name(torch.bfloat16)
    'bfloat16'
    """
    return str(dtype).replace("torch.", "")


def json_bytes(document: Any) -> bytes:
    """``state.json``'s bytes: compact, UTF-8, no NaN or infinity (the format tags them)."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
