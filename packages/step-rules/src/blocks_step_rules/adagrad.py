"""AdaGrad (Duchi et al., 2011)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["AdaGrad"]


class AdaGrad(StepRule):
    """AdaGrad: ``s += g²``; the step is ``learning_rate · g / (sqrt(s) + epsilon)``.

    Identical to ``torch.optim.Adagrad(lr=learning_rate, eps=epsilon)``
    (``lr_decay=0``, ``initial_accumulator_value=0``).

    Parameters
    ----------
    learning_rate : float, optional
        Default 0.002 (Blocks' code; its docstring said 0.0002).
    epsilon : float, optional
        Default 1e-6.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = AdaGrad(learning_rate=1.0, epsilon=0.0)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> rule.compute_steps([torch.zeros(1)], [torch.full((1,), 2.0)])
    [tensor([1.])]
    """

    buffer_names = ("adagrad_sqs",)

    def __init__(self, learning_rate: float | Tensor = 0.002, epsilon: float | Tensor = 1e-6) -> None:
        super().__init__()
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)
        self.epsilon = self.add_hyperparameter("epsilon", epsilon)

    def _denominator(self, previous_steps: list[Tensor]) -> tuple[Tensor, ...]:
        squares = self.buffer_list("adagrad_sqs")
        torch._foreach_addcmul_(squares, previous_steps, previous_steps)
        denominator = torch._foreach_sqrt(squares)
        torch._foreach_add_(denominator, self.epsilon.item())
        return denominator

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        torch._foreach_div_(previous_steps, self._denominator(previous_steps))
        torch._foreach_mul_(previous_steps, self.learning_rate.item())
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        denominator = self._denominator(previous_steps)
        torch._foreach_addcdiv_(list(parameters), previous_steps, denominator, value=-self.learning_rate.item())
