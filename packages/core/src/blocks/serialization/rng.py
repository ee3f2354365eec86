"""Capture and restore the process-wide random states: torch (and CUDA), numpy's global RNG, Python's ``random``.

Blocks' own code never draws from these global generators (it uses explicit
seeds), but user code and third-party libraries do, so a checkpoint records
them and an exact resume puts them back.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state"]

logger = logging.getLogger(__name__)


def capture_rng_state() -> dict[str, Any]:
    """The global random states (a state dict: JSON-able values and arrays).

    Keys: ``torch`` (CPU generator state, uint8 tensor), ``cuda`` (one state
    per device, only when CUDA has been initialized), ``numpy`` (the legacy
    global ``numpy.random`` state) and ``python`` (``random.getstate()``).

    Examples
    --------
    >>> import random
    >>> state = capture_rng_state()
    >>> a = random.random()
    >>> restore_rng_state(state)
    >>> random.random() == a
    True
    """
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(legacy=False),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back what :func:`capture_rng_state` returned.

    CUDA states are restored when this process has as many CUDA devices as the
    saving one had; otherwise a warning is logged and they are skipped.

    Raises
    ------
    ValueError
        For a state that is not of the form :func:`capture_rng_state` returns.
    """
    try:
        if "torch" in state:
            torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).clone())
        if "numpy" in state:
            numpy_state = dict(state["numpy"])
            numpy_state["state"] = dict(numpy_state["state"])
            numpy_state["state"]["key"] = np.array(numpy_state["state"]["key"], dtype=np.uint32)
            np.random.set_state(numpy_state)
        if "python" in state:
            version, internal, gauss = state["python"]
            random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    except (TypeError, KeyError, ValueError, RuntimeError) as err:
        raise ValueError(f"malformed random state in the checkpoint ({type(err).__name__}: {err})") from None
    cuda = state.get("cuda")
    if cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8).cpu() for s in cuda])
        else:
            available = torch.cuda.device_count() if torch.cuda.is_available() else 0
            logger.warning(
                "the checkpoint holds CUDA random states for %d device(s) but this process has %d; "
                "CUDA random states are not restored", len(cuda), available,
            )
