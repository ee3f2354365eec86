"""Adam (Kingma and Ba, 2014) with Blocks' ``decay_factor``."""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["Adam"]


_OLD_CONVENTION = (
    "Blocks' releases (0.0.1 to 0.2) took the complements (1 - beta): if this comes from such a script, write "
    "Adam(beta1={beta1:g}, beta2={beta2:g})"
)


def _check_betas(beta1: float, beta2: float) -> None:
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"Adam {name} must be in [0, 1), got {value}")
    conversion = _OLD_CONVENTION.format(beta1=1.0 - beta1, beta2=1.0 - beta2)
    if beta2 < 0.5:
        raise ValueError(
            f"Adam(beta2={beta2:g}): beta2 is the decay rate of the average of squared gradients (torch.optim.Adam's "
            f"convention, default 0.999); below 0.5 it averages over fewer than two steps, which is never sensible. "
            + conversion
        )
    if 0.0 < beta1 < 0.5:
        warnings.warn(
            f"Adam(beta1={beta1:g}) keeps only {beta1:g} of the gradient average per step (beta1 is a decay rate, "
            f"default 0.9; 0 and 0.5 are common in GAN training). " + conversion,
            UserWarning,
            stacklevel=3,
        )


class Adam(StepRule):
    """Adam in Blocks' formulation.

    At step ``t`` (from 1): ``β1_t = beta1 · decay_factor^(t-1)``;
    ``m = β1_t · m + (1 - β1_t) · g``; ``v = beta2 · v + (1 - beta2) · g²``;
    ``lr_t = learning_rate · sqrt(1 - beta2^t) / (1 - β1_t^t)``; the step is
    ``lr_t · m / (sqrt(v) + epsilon)`` (Blocks' code since January 2017, the
    decayed ``β1_t`` in the bias correction too).

    ``beta1`` and ``beta2`` are decay rates, as in ``torch.optim.Adam`` and
    Blocks' master branch since January 2017. Blocks' releases (0.0.1 to
    0.2) took their complements (``beta1=0.1, beta2=0.001`` meant 0.9 and
    0.999): ``beta2 < 0.5`` is never sensible in this convention and is an
    error that says what to write; ``0 < beta1 < 0.5`` warns (``beta1=0``,
    common in GAN training, does not).

    Relation to ``torch.optim.Adam(lr, betas=(beta1, beta2), eps)``: with
    ``decay_factor=1`` the moments and the bias corrections are the same;
    torch divides by ``sqrt(v) / sqrt(1 - beta2^t) + eps``, i.e. its epsilon
    is Blocks' epsilon divided by ``sqrt(1 - beta2^t)``. With ``epsilon=0``
    (both) the two are identical; with the default 1e-8 they differ by less
    than ``1e-8 / sqrt(v)`` relatively.

    Parameters
    ----------
    learning_rate : float, optional
        Default 0.002.
    beta1 : float, optional
        Decay rate of the first moment, in ``[0, 1)`` (default 0.9).
    beta2 : float, optional
        Decay rate of the second moment, in ``[0.5, 1)`` (default 0.999).
    epsilon : float, optional
        Default 1e-8.
    decay_factor : float, optional
        Per-step decay of ``beta1``, in ``(0, 1]`` (default 1: none).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = Adam(learning_rate=0.1)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> rule.compute_steps([torch.zeros(1)], [torch.full((1,), 3.0)])  # first step: ±learning_rate
    [tensor([0.1000])]
    >>> rule.time
    1
    """

    buffer_names = ("mean", "variance")

    def __init__(
        self,
        learning_rate: float | Tensor = 0.002,
        beta1: float | Tensor = 0.9,
        beta2: float | Tensor = 0.999,
        epsilon: float | Tensor = 1e-8,
        decay_factor: float | Tensor = 1.0,
    ) -> None:
        super().__init__()
        _check_betas(float(beta1), float(beta2))
        if not 0.0 < float(decay_factor) <= 1.0:
            raise ValueError(f"Adam decay_factor must be in (0, 1], got {float(decay_factor)}")
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)
        self.beta1 = self.add_hyperparameter("beta1", beta1)
        self.beta2 = self.add_hyperparameter("beta2", beta2)
        self.epsilon = self.add_hyperparameter("epsilon", epsilon)
        self.decay_factor = self.add_hyperparameter("decay_factor", decay_factor)
        self.time = 0

    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        super().initialize(parameters)
        self.time = 0

    def _moments(self, previous_steps: list[Tensor]) -> tuple[float, tuple[Tensor, ...]]:
        """Advance the moments by one step; return the corrected rate and ``sqrt(v) + epsilon``."""
        self.time += 1
        t = self.time
        beta1 = self.beta1.item()
        beta2 = self.beta2.item()
        beta1_t = beta1 * self.decay_factor.item() ** (t - 1)
        learning_rate = self.learning_rate.item() * math.sqrt(1.0 - beta2**t) / (1.0 - beta1_t**t)
        mean = self.buffer_list("mean")
        variance = self.buffer_list("variance")
        torch._foreach_lerp_(mean, previous_steps, 1.0 - beta1_t)
        torch._foreach_mul_(variance, beta2)
        torch._foreach_addcmul_(variance, previous_steps, previous_steps, value=1.0 - beta2)
        denominator = torch._foreach_sqrt(variance)
        torch._foreach_add_(denominator, self.epsilon.item())
        return learning_rate, denominator

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        learning_rate, denominator = self._moments(previous_steps)
        torch._foreach_zero_(previous_steps)
        torch._foreach_addcdiv_(previous_steps, self.buffer_list("mean"), denominator, value=learning_rate)
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        learning_rate, denominator = self._moments(previous_steps)
        torch._foreach_addcdiv_(list(parameters), self.buffer_list("mean"), denominator, value=-learning_rate)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["time"] = self.time
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict({key: value for key, value in state.items() if key != "time"})
        self.time = int(state.get("time", 0))
