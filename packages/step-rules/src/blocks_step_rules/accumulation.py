"""Gradient accumulation: one update every ``num_batches`` batches."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from blocks.algorithms import Scale, StepRule

__all__ = ["GradientAccumulation"]


class GradientAccumulation(StepRule):
    """Accumulate the incoming steps over ``num_batches`` calls and run ``step_rule`` on the k-th.

    How it interacts with the parameter update (``p -= step``):

    * calls 1 .. k-1 of each cycle add the incoming steps (gradients when this
      rule comes first) to an accumulator and return **zero steps**, so the
      parameters do not change; ``step_rule`` is not called and its state
      (momentum, Adam's moments and time) does not move;
    * call k adds the last steps, divides the sum by ``k`` when ``average``
      (the mean gradient of ``k`` batches = the gradient of a ``k`` times
      larger batch for a mean cost), runs ``step_rule`` on it once, returns
      its steps and clears the accumulator.

    Put it first in a chain: ``GradientAccumulation(4, CompositeRule([
    StepClipping(1.0), Adam()]))``. Rules placed *before* it run every batch.
    Graph updates (batch-norm statistics) and monitoring still happen every
    batch; ``total_step_norm`` is 0 on the accumulation-only batches.

    Parameters
    ----------
    num_batches : int, optional
        k, the number of batches per update (default 2).
    step_rule : StepRule, optional
        The rule applied to the accumulated steps (default ``Scale()``).
    average : bool, optional
        Divide the sum by ``k`` (default ``True``).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> from blocks.algorithms import Scale
    >>> rule = GradientAccumulation(2, Scale(0.1))
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> [rule.compute_steps([torch.zeros(1)], [torch.full((1,), g)])[0] for g in (1.0, 3.0)]
    [tensor([0.]), tensor([0.2000])]
    """

    buffer_names = ("accumulated",)

    def __init__(self, num_batches: int = 2, step_rule: StepRule | None = None, average: bool = True) -> None:
        super().__init__()
        if isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(f"num_batches must be an int >= 1, got {num_batches!r}")
        if step_rule is not None and not isinstance(step_rule, StepRule):
            raise ValueError(f"step_rule must be a StepRule, got {type(step_rule).__name__}")
        self.num_batches = num_batches
        self.step_rule = step_rule if step_rule is not None else Scale()
        self.average = bool(average)
        self.count = 0

    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        super().initialize(parameters)
        self.step_rule.initialize(OrderedDict(parameters))
        self.count = 0

    def _accumulate(self, previous_steps: list[Tensor]) -> bool:
        """Add the steps; on the k-th call, leave their total (or mean) in ``previous_steps`` and return True."""
        accumulated = self.buffer_list("accumulated")
        self.count += 1
        if self.count < self.num_batches:
            torch._foreach_add_(accumulated, previous_steps)
            return False
        self.count = 0
        if self.num_batches > 1:
            torch._foreach_add_(previous_steps, accumulated)
            torch._foreach_zero_(accumulated)
            if self.average:
                torch._foreach_mul_(previous_steps, 1.0 / self.num_batches)
        return True

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        if not self._accumulate(previous_steps):
            torch._foreach_zero_(previous_steps)
            return previous_steps
        return self.step_rule.compute_steps(parameters, previous_steps)

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        if self._accumulate(previous_steps):  # accumulation-only batches do not touch the parameters at all
            self.step_rule.update_parameters(parameters, previous_steps)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["count"] = self.count
        state["step_rule"] = self.step_rule.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict({key: value for key, value in state.items() if key not in ("count", "step_rule")})
        count = int(state.get("count", 0))
        if not 0 <= count < self.num_batches:
            raise ValueError(f"GradientAccumulation count {count} is outside [0, {self.num_batches})")
        self.count = count
        self.step_rule.load_state_dict(state["step_rule"])
