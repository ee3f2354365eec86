"""Momentum and Nesterov momentum (Blocks' and blocks-extras' formulations)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from blocks.algorithms import CompositeRule, Scale, StepRule

__all__ = ["BasicMomentum", "BasicNesterovMomentum", "Momentum", "NesterovMomentum"]


def _check_momentum(rule: str, momentum: float | Tensor) -> None:
    value = float(momentum)
    if not -1.0 < value < 1.0:
        raise ValueError(
            f"{rule}(momentum={value:g}): the velocity is multiplied by momentum every step, so |momentum| >= 1 "
            "makes it grow without bound; momentum is the coefficient itself (as in Blocks and torch.optim.SGD, "
            "e.g. 0.9), not its complement"
        )


class BasicMomentum(StepRule):
    """Accumulate steps with exponential discount: ``v = momentum * v + step``; the step is ``v``.

    Combine with :class:`~blocks.algorithms.Scale` to get the usual momentum
    (:class:`Momentum`).

    Parameters
    ----------
    momentum : float, optional
        The discount of the velocity, in ``(-1, 1)`` (default 0): the
        coefficient itself, as in Blocks and ``torch.optim.SGD``.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = BasicMomentum(momentum=0.5)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> [rule.compute_steps([torch.zeros(1)], [torch.ones(1)])[0].item() for _ in range(3)]
    [1.0, 1.5, 1.75]
    """

    buffer_names = ("velocity",)

    def __init__(self, momentum: float | Tensor = 0.0) -> None:
        super().__init__()
        _check_momentum(type(self).__name__, momentum)
        self.momentum = self.add_hyperparameter("momentum", momentum)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        velocity = self._buffer_lists["velocity"]
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_copy_(previous_steps, velocity)
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        velocity = self._buffer_lists["velocity"]
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_sub_(list(parameters), velocity)


class Momentum(CompositeRule):
    """Momentum: ``CompositeRule([Scale(learning_rate), BasicMomentum(momentum)])``.

    ``v = momentum * v + learning_rate * gradient``; ``p -= v``. For a constant
    learning rate this is exactly ``torch.optim.SGD(lr=learning_rate,
    momentum=momentum)`` (whose buffer is ``v / learning_rate``); when the
    learning rate is annealed, Blocks' form scales only the new gradients.

    Parameters
    ----------
    learning_rate : float, optional
        Default 1.0.
    momentum : float, optional
        Default 0.

    Examples
    --------
    >>> rule = Momentum(learning_rate=0.1, momentum=0.9)
    >>> float(rule.learning_rate), float(rule.momentum)
    (0.1, 0.9)
    """

    def __init__(self, learning_rate: float | Tensor = 1.0, momentum: float | Tensor = 0.0) -> None:
        scale = Scale(learning_rate=learning_rate)
        basic = BasicMomentum(momentum=momentum)
        super().__init__([scale, basic])
        self.learning_rate = scale.learning_rate
        self.momentum = basic.momentum

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        # Scale fused into the velocity update: three passes over the parameters, as torch.optim.SGD
        # (composed, the rule makes four: a 61M-parameter AlexNet step paid for the extra one)
        rules = _unchanged_components(self, BasicMomentum)
        if rules is None:
            super().update_parameters(parameters, previous_steps)
            return
        scale, basic = rules
        velocity = basic._buffer_lists["velocity"]
        torch._foreach_mul_(velocity, basic.momentum.item())
        torch._foreach_add_(velocity, previous_steps, alpha=scale.learning_rate.item())
        torch._foreach_sub_(list(parameters), velocity)


def _unchanged_components(rule: CompositeRule, second: type) -> tuple[Scale, StepRule] | None:
    """``(Scale, second)`` when ``rule`` still is exactly ``CompositeRule([Scale, second])``, else ``None``."""
    if type(rule).compute_steps is not CompositeRule.compute_steps or len(rule.components) != 2:
        return None
    scale, other = rule.components
    if type(scale) is not Scale or type(other) is not second:
        return None
    return scale, other


class BasicNesterovMomentum(StepRule):
    """Nesterov momentum, Sutskever's form: ``v = momentum * v + step``; the step is ``step + momentum * v``.

    This is blocks-extras' ``BasicNesterovMomentum`` (which keeps ``-v`` and
    writes the step as ``momentum * v_old - (1 + momentum) * v_new``, the same
    value). Combine with :class:`~blocks.algorithms.Scale`
    (:class:`NesterovMomentum`).

    Parameters
    ----------
    momentum : float, optional
        In ``(-1, 1)`` (default 0).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = BasicNesterovMomentum(momentum=0.5)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> [rule.compute_steps([torch.zeros(1)], [torch.ones(1)])[0].item() for _ in range(2)]
    [1.5, 1.75]
    """

    buffer_names = ("velocity",)

    def __init__(self, momentum: float | Tensor = 0.0) -> None:
        super().__init__()
        _check_momentum(type(self).__name__, momentum)
        self.momentum = self.add_hyperparameter("momentum", momentum)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        momentum = self.momentum.item()
        velocity = self._buffer_lists["velocity"]
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_add_(previous_steps, velocity, alpha=momentum)
        return previous_steps


class NesterovMomentum(CompositeRule):
    """Nesterov momentum: ``CompositeRule([Scale(learning_rate), BasicNesterovMomentum(momentum)])``.

    Equal to ``torch.optim.SGD(lr=learning_rate, momentum=momentum,
    nesterov=True)`` for a constant learning rate.

    Parameters
    ----------
    learning_rate : float, optional
        Default 1.0.
    momentum : float, optional
        Default 0.

    Examples
    --------
    >>> rule = NesterovMomentum(learning_rate=0.1, momentum=0.9)
    >>> float(rule.momentum)
    0.9
    """

    def __init__(self, learning_rate: float | Tensor = 1.0, momentum: float | Tensor = 0.0) -> None:
        scale = Scale(learning_rate=learning_rate)
        basic = BasicNesterovMomentum(momentum=momentum)
        super().__init__([scale, basic])
        self.learning_rate = scale.learning_rate
        self.momentum = basic.momentum

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        # Scale fused in: four passes over the parameters, as torch.optim.SGD(nesterov=True) (composed: five)
        rules = _unchanged_components(self, BasicNesterovMomentum)
        if rules is None:
            super().update_parameters(parameters, previous_steps)
            return
        scale, basic = rules
        learning_rate, momentum = scale.learning_rate.item(), basic.momentum.item()
        velocity = basic._buffer_lists["velocity"]
        parameters = list(parameters)
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, previous_steps, alpha=learning_rate)
        torch._foreach_add_(parameters, previous_steps, alpha=-learning_rate)
        torch._foreach_add_(parameters, velocity, alpha=-momentum)
