"""Momentum and Nesterov momentum (Blocks' and blocks-extras' formulations).

:class:`Momentum` and :class:`NesterovMomentum` are plain step rules with their
own fused update and their own state (``learning_rate``, ``momentum``,
``velocity``). Blocks wrote them as ``CompositeRule([Scale, BasicMomentum])``;
that composition still works and computes the same steps, for users who chain
other rules in between. Checkpoints written when they were composites resume:
:meth:`Momentum.load_state_dict` reads the old nested layout too.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from blocks.algorithms import StepRule

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
        velocity = self.buffer_list("velocity")
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_copy_(previous_steps, velocity)
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        velocity = self.buffer_list("velocity")
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_sub_(list(parameters), velocity)


class _FusedMomentum(StepRule):
    """``learning_rate`` and ``momentum`` hyper-parameters, one ``velocity`` buffer; reads the composite layout."""

    buffer_names = ("velocity",)
    _basic = "BasicMomentum"

    def __init__(self, learning_rate: float | Tensor = 1.0, momentum: float | Tensor = 0.0) -> None:
        super().__init__()
        _check_momentum(type(self).__name__, momentum)
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)
        self.momentum = self.add_hyperparameter("momentum", momentum)

    def _velocity_step(self, velocity: list[Tensor], steps: list[Tensor]) -> None:
        """``steps *= learning_rate`` then ``velocity = momentum * velocity + steps``, as Scale then the basic rule."""
        learning_rate = self.learning_rate.item()
        if learning_rate != 1.0:
            torch._foreach_mul_(steps, learning_rate)
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, steps)

    @abc.abstractmethod
    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        """Momentum's or Nesterov's steps."""

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state; also the layout of checkpoints written when this rule was ``[Scale, Basic*]``."""
        if "components" in state:
            state = _from_composite_layout(type(self).__name__, self._basic, state)
        super().load_state_dict(state)


def _from_composite_layout(owner: str, basic: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The state of ``CompositeRule([Scale(lr), <basic>(m)])`` in this rule's flat layout.

    That composite is what :class:`Momentum` and :class:`NesterovMomentum` were
    before they had their own update: its checkpoints carry ``components``
    (Scale's ``learning_rate``, then the basic rule's ``momentum`` and
    ``velocity``) and nothing of their own.
    """
    components = state["components"]
    expected = [({"learning_rate"}, set()), ({"momentum"}, {"velocity"})]
    shapes = [
        (set(c.get("hyperparameters", {})), set(c.get("buffers", {}))) if isinstance(c, Mapping) else None
        for c in components
    ] if isinstance(components, list) else None
    if shapes != expected or state.get("hyperparameters") or state.get("buffers"):
        raise ValueError(
            f"{owner}: the state has components but is not the layout of CompositeRule([Scale, {basic}]) "
            "(learning_rate, then momentum and velocity) that earlier versions of this rule saved"
        )
    scale, rule = components
    return {
        "hyperparameters": {**scale["hyperparameters"], **rule["hyperparameters"]},
        "buffers": dict(rule["buffers"]),
        "parameter_names": state.get("parameter_names", rule.get("parameter_names", [])),
    }


class Momentum(_FusedMomentum):
    """Momentum: ``v = momentum * v + learning_rate * step``; the step is ``v``.

    The same steps as Blocks' ``CompositeRule([Scale(learning_rate),
    BasicMomentum(momentum)])`` (which still works, for chains that put other
    rules in between), in one rule with a fused update: three passes over the
    parameters, as ``torch.optim.SGD``. For a constant learning rate this is
    exactly ``torch.optim.SGD(lr=learning_rate, momentum=momentum)`` (whose
    buffer is ``v / learning_rate``); when the learning rate is annealed,
    Blocks' form scales only the new gradients.

    Parameters
    ----------
    learning_rate : float, optional
        Default 1.0.
    momentum : float, optional
        The discount of the velocity, in ``(-1, 1)`` (default 0).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = Momentum(learning_rate=0.1, momentum=0.5)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> [round(rule.compute_steps([torch.zeros(1)], [torch.ones(1)])[0].item(), 6) for _ in range(3)]
    [0.1, 0.15, 0.175]
    >>> sorted(rule.state_dict()["hyperparameters"]), sorted(rule.state_dict()["buffers"])
    (['learning_rate', 'momentum'], ['velocity'])
    """

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        velocity = self.buffer_list("velocity")
        self._velocity_step(velocity, previous_steps)
        torch._foreach_copy_(previous_steps, velocity)
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        velocity = self.buffer_list("velocity")
        torch._foreach_mul_(velocity, self.momentum.item())
        torch._foreach_add_(velocity, previous_steps, alpha=self.learning_rate.item())
        torch._foreach_sub_(list(parameters), velocity)


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
        velocity = self.buffer_list("velocity")
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, previous_steps)
        torch._foreach_add_(previous_steps, velocity, alpha=momentum)
        return previous_steps


class NesterovMomentum(_FusedMomentum):
    """Nesterov momentum: ``v = momentum * v + learning_rate * step``; step ``learning_rate * step + momentum * v``.

    The same steps as ``CompositeRule([Scale(learning_rate),
    BasicNesterovMomentum(momentum)])``, in one rule with a fused update (four
    passes over the parameters, as ``torch.optim.SGD(nesterov=True)``). Equal
    to ``torch.optim.SGD(lr=learning_rate, momentum=momentum, nesterov=True)``
    for a constant learning rate.

    Parameters
    ----------
    learning_rate : float, optional
        Default 1.0.
    momentum : float, optional
        In ``(-1, 1)`` (default 0).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = NesterovMomentum(learning_rate=0.1, momentum=0.5)
    >>> rule.initialize(OrderedDict(w=torch.zeros(1)))
    >>> [round(rule.compute_steps([torch.zeros(1)], [torch.ones(1)])[0].item(), 6) for _ in range(2)]
    [0.15, 0.175]
    """

    _basic = "BasicNesterovMomentum"

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        velocity = self.buffer_list("velocity")
        self._velocity_step(velocity, previous_steps)
        torch._foreach_add_(previous_steps, velocity, alpha=self.momentum.item())
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        learning_rate, momentum = self.learning_rate.item(), self.momentum.item()
        velocity = self.buffer_list("velocity")
        parameters = list(parameters)
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, previous_steps, alpha=learning_rate)
        torch._foreach_add_(parameters, previous_steps, alpha=-learning_rate)
        torch._foreach_add_(parameters, velocity, alpha=-momentum)
