"""Step clipping by global norm and per-variable max-norm constraints."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["StepClipping", "VariableClipping"]


class StepClipping(StepRule):
    """Rescale all steps together so that their global L2 norm is at most ``threshold``.

    The multiplier ``min(1, threshold / norm)`` stays on the device (no host
    synchronisation). ``torch.nn.utils.clip_grad_norm_`` is the same up to its
    ``1e-6`` added to the norm.

    Parameters
    ----------
    threshold : float, optional
        The largest global norm; ``None`` (default) leaves the steps alone.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = StepClipping(threshold=1.0)
    >>> rule.initialize(OrderedDict(a=torch.zeros(1), b=torch.zeros(1)))
    >>> rule.compute_steps([torch.zeros(1)] * 2, [torch.full((1,), 3.0), torch.full((1,), 4.0)])
    [tensor([0.6000]), tensor([0.8000])]
    """

    def __init__(self, threshold: float | Tensor | None = None) -> None:
        super().__init__()
        if threshold is not None:
            if not float(threshold) > 0:
                raise ValueError(f"StepClipping threshold must be positive or None, got {float(threshold)}")
            self.threshold = self.add_hyperparameter("threshold", threshold)
        else:
            self.threshold = None

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        if self.threshold is None or not previous_steps:
            return previous_steps
        norms = torch._foreach_norm(previous_steps)
        total = torch.linalg.vector_norm(torch.stack(norms))
        multiplier = torch.clamp(self.threshold.item() / total, max=1.0)
        torch._foreach_mul_(previous_steps, multiplier)
        return previous_steps


class VariableClipping(StepRule):
    """Max-norm constraint: shrink the *updated* value ``p - step`` to norm ``threshold``.

    With ``axis`` the norm is taken over those axes (per unit, e.g. ``axis=0``
    constrains each column of a weight matrix, Hinton et al.'s max-norm); by
    default over the whole tensor. Apply it last and restrict it to the
    weights with :class:`~blocks_step_rules.Restrict`.

    Parameters
    ----------
    threshold : float
        The largest norm.
    axis : int or tuple of int, optional
        Axes summed over in the norm (default: all).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = VariableClipping(threshold=1.0)
    >>> w = torch.zeros(2)
    >>> rule.initialize(OrderedDict(w=w))
    >>> step = rule.compute_steps([w], [torch.tensor([-3.0, -4.0])])[0]
    >>> w - step
    tensor([0.6000, 0.8000])
    """

    def __init__(self, threshold: float | Tensor, axis: int | Sequence[int] | None = None) -> None:
        super().__init__()
        if not float(threshold) > 0:
            raise ValueError(f"VariableClipping threshold must be positive, got {float(threshold)}")
        self.threshold = self.add_hyperparameter("threshold", threshold)
        if axis is None:
            self.axis: tuple[int, ...] | None = None
        elif isinstance(axis, int):
            self.axis = (axis,)
        else:
            self.axis = tuple(int(a) for a in axis)
            if len(set(self.axis)) != len(self.axis):
                raise ValueError(f"VariableClipping axis has duplicates: {self.axis}")

    def compute_step(self, parameter: Tensor, previous_step: Tensor) -> Tensor:
        if self.axis is not None and any(a >= previous_step.dim() or a < -previous_step.dim() for a in self.axis):
            raise ValueError(
                f"VariableClipping axis {self.axis} is out of range for a parameter with {previous_step.dim()} "
                f"dimensions (shape {tuple(previous_step.shape)})"
            )
        threshold = self.threshold.item()
        updated = parameter - previous_step
        if self.axis is None:
            norms = torch.linalg.vector_norm(updated)
        else:
            norms = torch.linalg.vector_norm(updated, dim=self.axis, keepdim=True)
        shrunk = parameter - (threshold / norms) * updated
        return torch.where(norms > threshold, shrunk, previous_step)
