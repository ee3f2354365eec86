"""Where a brick's freshly made tensors (zero states, initial outputs) belong: with its parameters."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["reference_tensor", "zeros_like_brick"]


def reference_tensor(brick: Any) -> torch.Tensor | None:
    """A floating-point parameter of ``brick``, else of its nearest ancestor (first parents) that has one.

    Parameterless bricks (an emitter, a feedback) follow the brick that owns
    them, so a model moved to a GPU makes its initial states and outputs there.
    Looked up when the tensor is made, so a graph compiled before the model
    moved still makes them on the right device.
    """
    seen: set[int] = set()
    while brick is not None and id(brick) not in seen:
        seen.add(id(brick))
        for tensor in brick.parameters():
            if tensor.is_floating_point():
                return tensor
        parents = brick.parents
        brick = parents[0] if parents else None
    return None


def zeros_like_brick(brick: Any, batch_size: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros ``(batch_size, *shape)`` with the device and float dtype of ``brick``'s parameters."""
    reference = reference_tensor(brick)
    if reference is None:
        return torch.zeros(int(batch_size), *shape)
    return reference.new_zeros((int(batch_size), *shape))
