"""AdaDelta (Zeiler, 2012)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["AdaDelta"]


class AdaDelta(StepRule):
    """AdaDelta: steps scaled by the ratio of running RMS of updates and of gradients.

    ``E[g²] = ρ E[g²] + (1-ρ) g²``; ``Δ = sqrt(E[Δ²] + ε) / sqrt(E[g²] + ε) · g``;
    ``E[Δ²] = ρ E[Δ²] + (1-ρ) Δ²``; the step is ``Δ``. Identical to
    ``torch.optim.Adadelta(lr=1.0, rho=decay_rate, eps=epsilon)``.

    Parameters
    ----------
    decay_rate : float, optional
        ρ, the weight of the old averages, in ``[0, 1)`` (default 0.95; Blocks'
        and ``torch.optim.Adadelta``'s ``rho`` alike). With 1 the averages
        would never leave 0 and the step would be the gradient itself.
    epsilon : float, optional
        Default 1e-6.

    Examples
    --------
    >>> rule = AdaDelta()
    >>> float(rule.decay_rate)
    0.95
    """

    buffer_names = ("mean_square_step_tm1", "mean_square_delta_x_tm1")

    def __init__(self, decay_rate: float | Tensor = 0.95, epsilon: float | Tensor = 1e-6) -> None:
        super().__init__()
        if not 0.0 <= float(decay_rate) < 1.0:
            raise ValueError(
                f"AdaDelta decay_rate must be in [0, 1) (the weight of the old averages, e.g. 0.95), got "
                f"{float(decay_rate)}; with 1 the averages never leave 0 and the step is the raw gradient"
            )
        self.decay_rate = self.add_hyperparameter("decay_rate", decay_rate)
        self.epsilon = self.add_hyperparameter("epsilon", epsilon)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        rho = self.decay_rate.item()
        epsilon = self.epsilon.item()
        mean_square_step = self.buffer_list("mean_square_step_tm1")
        mean_square_delta = self.buffer_list("mean_square_delta_x_tm1")
        torch._foreach_mul_(mean_square_step, rho)
        torch._foreach_addcmul_(mean_square_step, previous_steps, previous_steps, value=1.0 - rho)
        rms_step = torch._foreach_add(mean_square_step, epsilon)
        torch._foreach_sqrt_(rms_step)
        delta = torch._foreach_add(mean_square_delta, epsilon)
        torch._foreach_sqrt_(delta)
        torch._foreach_div_(delta, rms_step)
        torch._foreach_mul_(delta, previous_steps)
        torch._foreach_mul_(mean_square_delta, rho)
        torch._foreach_addcmul_(mean_square_delta, delta, delta, value=1.0 - rho)
        return list(delta)
