"""Decoupled weight decay (Loshchilov and Hutter's AdamW decay) as a step rule."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["DecoupledWeightDecay"]


class DecoupledWeightDecay(StepRule):
    """Add ``learning_rate · weight_decay · parameter`` to the step, whatever the gradient.

    Put it *after* the adaptive rule so the decay is not rescaled by it:
    ``CompositeRule([Adam(lr), DecoupledWeightDecay(wd, learning_rate=lr)])``
    is ``torch.optim.AdamW(lr=lr, weight_decay=wd)`` (for a constant ``lr``;
    share one tensor between both rules to anneal them together:
    ``DecoupledWeightDecay(wd, learning_rate=adam.learning_rate)``).

    Parameters
    ----------
    weight_decay : float, optional
        Default 0.01 (AdamW's).
    learning_rate : float or 0-d tensor, optional
        Multiplies the decay (default 1.0).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = DecoupledWeightDecay(weight_decay=0.1)
    >>> w = torch.full((1,), 2.0)
    >>> rule.initialize(OrderedDict(w=w))
    >>> rule.compute_steps([w], [torch.zeros(1)])
    [tensor([0.2000])]
    """

    def __init__(self, weight_decay: float | Tensor = 0.01, learning_rate: float | Tensor = 1.0) -> None:
        super().__init__()
        if float(weight_decay) < 0:
            raise ValueError(f"weight_decay must be non-negative, got {float(weight_decay)}")
        self.weight_decay = self.add_hyperparameter("weight_decay", weight_decay)
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        coefficient = self.weight_decay.item() * self.learning_rate.item()
        if coefficient != 0.0 and previous_steps:
            torch._foreach_add_(previous_steps, list(parameters), alpha=coefficient)
        return previous_steps
