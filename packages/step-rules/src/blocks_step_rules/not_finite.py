"""Skip steps that contain NaN or infinity (GroundHog's trick)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["RemoveNotFinite"]


class RemoveNotFinite(StepRule):
    """Replace a parameter's step by ``(1 - scaler) · parameter`` when it has a non-finite element.

    The check is per parameter (as in Blocks) and happens on the device (no
    host synchronisation). The parameter then becomes ``scaler · parameter``:
    the default ``scaler=1`` leaves it unchanged. Apply this rule last.

    The main loop stops a run whose cost becomes non-finite by default (its
    non-finite guard): to train on through non-finite batches with this rule,
    pass ``MainLoop(..., stop_on_nonfinite=False)`` or set
    ``BLOCKS_STOP_ON_NONFINITE=false``.

    Parameters
    ----------
    scaler : float, optional
        Default 1.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = RemoveNotFinite(scaler=0.5)
    >>> w = torch.full((2,), 4.0)
    >>> rule.initialize(OrderedDict(w=w))
    >>> rule.compute_steps([w], [torch.tensor([1.0, float("nan")])])
    [tensor([2., 2.])]
    """

    def __init__(self, scaler: float | Tensor = 1.0) -> None:
        super().__init__()
        self.scaler = self.add_hyperparameter("scaler", scaler)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        if not previous_steps:
            return previous_steps
        largest = torch._foreach_norm(previous_steps, ord=float("inf"))
        finite = torch.isfinite(torch.stack(largest)).unbind()
        factor = 1.0 - self.scaler.item()
        return [
            torch.where(ok, step, parameter * factor) for ok, step, parameter in zip(finite, previous_steps, parameters)
        ]
