"""Apply a step rule to a subset of the parameters."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping, Sequence

from torch import Tensor

from blocks.algorithms import StepRule

__all__ = ["Restrict"]


class Restrict(StepRule):
    """Apply ``step_rule`` to some parameters only; the other steps pass through unchanged.

    Parameters
    ----------
    step_rule : StepRule
        The rule for the chosen parameters.
    variables : VariableFilter, callable or iterable
        Which parameters: a :class:`blocks.filter.VariableFilter` (or any
        callable taking the list of parameters and returning the chosen
        ones), or an iterable of parameter tensors and/or parameter names.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> from blocks.algorithms import Scale
    >>> rule = Restrict(Scale(0.5), ["w"])
    >>> rule.initialize(OrderedDict(w=torch.zeros(1), b=torch.zeros(1)))
    >>> rule.compute_steps([torch.zeros(1)] * 2, [torch.ones(1), torch.ones(1)])
    [tensor([0.5000]), tensor([1.])]
    """

    def __init__(self, step_rule: StepRule, variables: Callable[[list[Tensor]], Any] | Iterable[Any]) -> None:
        super().__init__()
        if not isinstance(step_rule, StepRule):
            raise ValueError(f"Restrict needs a StepRule, got {type(step_rule).__name__}")
        self.step_rule = step_rule
        self.variables = variables if callable(variables) else list(variables)
        self._indices: list[int] = []

    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        super().initialize(parameters)
        names = list(parameters)
        tensors = list(parameters.values())
        if callable(self.variables):
            chosen = list(self.variables(tensors))
        else:
            chosen = self.variables
        position = {id(p): i for i, p in enumerate(tensors)}
        indices = set()
        unknown = []
        for item in chosen:
            if isinstance(item, str):
                if item in parameters:
                    indices.add(names.index(item))
                else:
                    unknown.append(item)
            elif id(item) in position:
                indices.add(position[id(item)])
            else:
                unknown.append(getattr(item, "name", None) or f"<{type(item).__name__} of shape "
                               f"{tuple(getattr(item, 'shape', ()))}>")
        if unknown:
            raise ValueError(f"Restrict: {unknown} are not among the trained parameters {names}")
        if not indices:
            raise ValueError(f"Restrict selected none of the parameters {names}")
        self._indices = sorted(indices)
        self.step_rule.initialize(OrderedDict((names[i], tensors[i]) for i in self._indices))

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        indices = self._indices
        steps = self.step_rule.compute_steps(
            [parameters[i] for i in indices], [previous_steps[i] for i in indices]
        )
        result = list(previous_steps)
        for i, step in zip(indices, steps):
            result[i] = step
        return result

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["step_rule"] = self.step_rule.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict({key: value for key, value in state.items() if key != "step_rule"})
        self.step_rule.load_state_dict(state["step_rule"])
