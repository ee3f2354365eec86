"""RMSProp (Tieleman and Hinton, 2012) in Blocks' formulation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import CompositeRule, Scale, StepRule

__all__ = ["BasicRMSProp", "RMSProp"]


class BasicRMSProp(StepRule):
    """Divide the step by a running RMS of past steps: ``step / max(sqrt(E[g²]), 1 / max_scaling)``.

    ``E[g²] = decay_rate · E[g²] + (1 - decay_rate) · g²``. Put it before
    :class:`~blocks.algorithms.Scale` (:class:`RMSProp`).

    Parameters
    ----------
    decay_rate : float, optional
        The weight of the old average, in ``[0, 1)`` (default 0.9; Blocks'
        ``decay_rate`` and ``torch.optim.RMSprop``'s ``alpha`` alike). With 1
        the average would stay 0 and every step be multiplied by
        ``max_scaling``.
    max_scaling : float, optional
        The largest factor a step can be multiplied by (default 1e5); Blocks'
        ``epsilon = 1 / max_scaling`` is a floor of the RMS, where
        ``torch.optim.RMSprop`` *adds* its ``eps``.

    Examples
    --------
    >>> rule = BasicRMSProp(decay_rate=0.9, max_scaling=1e5)
    >>> round(float(rule.epsilon), 8)
    1e-05
    """

    buffer_names = ("mean_square_step_tm1",)

    def __init__(self, decay_rate: float | Tensor = 0.9, max_scaling: float | Tensor = 1e5) -> None:
        super().__init__()
        if not 0.0 <= float(decay_rate) < 1.0:
            raise ValueError(
                f"RMSProp decay_rate must be in [0, 1) (the weight of the old average, e.g. 0.9), got "
                f"{float(decay_rate)}; with 1 the average stays 0 and every step is multiplied by max_scaling"
            )
        if not float(max_scaling) > 0:
            raise ValueError(f"max_scaling must be positive, got {float(max_scaling)}")
        self.decay_rate = self.add_hyperparameter("decay_rate", decay_rate)
        self.max_scaling = self.add_hyperparameter("max_scaling", max_scaling)

    @property
    def epsilon(self) -> Tensor:
        """``1 / max_scaling``: the floor of the running RMS."""
        return 1.0 / self.max_scaling

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        rho = self.decay_rate.item()
        floor = 1.0 / self.max_scaling.item()
        mean_square = self.buffer_list("mean_square_step_tm1")
        torch._foreach_mul_(mean_square, rho)
        torch._foreach_addcmul_(mean_square, previous_steps, previous_steps, value=1.0 - rho)
        rms = torch._foreach_sqrt(mean_square)
        torch._foreach_clamp_min_(rms, floor)
        torch._foreach_div_(previous_steps, rms)
        return previous_steps


class RMSProp(CompositeRule):
    """RMSProp: ``CompositeRule([BasicRMSProp(decay_rate, max_scaling), Scale(learning_rate)])``.

    Equal to ``torch.optim.RMSprop(lr=learning_rate, alpha=decay_rate,
    eps=0)`` wherever ``sqrt(E[g²]) >= 1 / max_scaling`` (torch adds its
    epsilon to the RMS, Blocks floors the RMS with it).

    Parameters
    ----------
    learning_rate : float, optional
        Default 1.0.
    decay_rate : float, optional
        Default 0.9.
    max_scaling : float, optional
        Default 1e5.

    Examples
    --------
    >>> rule = RMSProp(learning_rate=0.01)
    >>> float(rule.learning_rate), float(rule.decay_rate)
    (0.01, 0.9)
    """

    def __init__(
        self,
        learning_rate: float | Tensor = 1.0,
        decay_rate: float | Tensor = 0.9,
        max_scaling: float | Tensor = 1e5,
    ) -> None:
        basic = BasicRMSProp(decay_rate=decay_rate, max_scaling=max_scaling)
        scale = Scale(learning_rate=learning_rate)
        super().__init__([basic, scale])
        self.learning_rate = scale.learning_rate
        self.decay_rate = basic.decay_rate
        self.max_scaling = basic.max_scaling
