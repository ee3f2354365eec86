"""Use any :class:`torch.optim.Optimizer` as a Blocks step rule."""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from blocks.algorithms.step_rules import StepRule, _check_parameters

__all__ = ["TorchOptim"]


def _resolve_class(optimizer: str | type) -> type:
    if isinstance(optimizer, str):
        candidate = getattr(torch.optim, optimizer, None)
        if not (isinstance(candidate, type) and issubclass(candidate, torch.optim.Optimizer)):
            available = sorted(
                name
                for name, obj in vars(torch.optim).items()
                if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
            )
            raise ValueError(f"unknown torch.optim optimizer {optimizer!r}; available: {', '.join(available)}")
        return candidate
    return optimizer


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class TorchOptim(StepRule):
    """A step rule computed by a :class:`torch.optim.Optimizer`, so trusted optimizers keep working.

    The optimizer is built over (or must hold) the trained parameters
    themselves. :meth:`update_parameters` (what
    :class:`~blocks.algorithms.GradientDescent` calls) hands it the incoming
    steps as ``.grad`` and runs ``optimizer.step()``: no copies, the speed of
    the optimizer itself. :meth:`compute_steps` (a rule in the middle of a
    chain, or monitored steps) saves the values, steps, takes the difference
    ``before - after`` as the step and restores the values, so subtracting it
    reproduces the optimizer's update up to rounding. It chains with other
    rules: ``CompositeRule([StepClipping(1.0), TorchOptim("AdamW", lr=1e-3)])``.

    Parameters
    ----------
    optimizer : type, str or torch.optim.Optimizer
        An optimizer class (or its name in :mod:`torch.optim`, ``"AdamW"``),
        built by :meth:`initialize` over the parameters; or an optimizer
        instance built over exactly the parameters the algorithm trains.
    **kwargs
        Arguments of the optimizer class (``lr=1e-3``); only with a class.

    Notes
    -----
    Every numeric hyper-parameter of the optimizer (``lr``, ``weight_decay``,
    ``momentum``, ``eps``, ...) is exposed as a 0-d tensor (``rule.lr``, also
    ``rule.learning_rate`` for ``lr``) with the role
    ``ALGORITHM_HYPERPARAMETER``; a changed value is copied into every
    parameter group before the next step. Optimizers that need a closure
    (``LBFGS``) are rejected. The optimizer's state is in
    ``state_dict()["buffers"]`` keyed by parameter name.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = TorchOptim(torch.optim.SGD, lr=0.1)
    >>> w = torch.zeros(2)
    >>> rule.initialize(OrderedDict(w=w))
    >>> rule.compute_steps([w], [torch.ones(2)])
    [tensor([0.1000, 0.1000])]
    """

    def __init__(self, optimizer: str | type | torch.optim.Optimizer, **kwargs: Any) -> None:
        super().__init__()
        self.optimizer: torch.optim.Optimizer | None = None
        self._given_instance = isinstance(optimizer, torch.optim.Optimizer)
        if isinstance(optimizer, torch.optim.Optimizer):
            if kwargs:
                raise ValueError(f"TorchOptim got an optimizer instance and keyword arguments {sorted(kwargs)}; "
                                 "pass a class with keyword arguments, or an instance alone")
            self.optimizer = optimizer
            self._optimizer_class: type = type(optimizer)
            values = dict(optimizer.param_groups[0])
        else:
            cls = _resolve_class(optimizer)
            if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
                raise ValueError(f"TorchOptim needs a torch.optim.Optimizer class, instance or name, got {optimizer!r}")
            self._optimizer_class = cls
            try:
                signature = inspect.signature(cls)
                signature.bind(None, **kwargs)
            except TypeError as error:
                raise ValueError(f"invalid arguments for {cls.__name__}: {error}") from None
            values = {
                name: parameter.default
                for name, parameter in signature.parameters.items()
                if parameter.default is not inspect.Parameter.empty
            }
            values.update(kwargs)
        if issubclass(self._optimizer_class, torch.optim.LBFGS):
            raise ValueError("TorchOptim cannot drive LBFGS: it needs a closure that re-evaluates the cost")
        self._kwargs = kwargs
        for name, value in values.items():
            if name != "params" and _is_number(value):
                self.add_hyperparameter(name, float(value))
        if "lr" in self._hyperparameters:
            self.learning_rate = self._hyperparameters["lr"]
        self._synced: dict[str, float] = {name: value.item() for name, value in self._hyperparameters.items()}
        self._saved: list[Tensor] = []
        self._optimizer_parameters: list[Tensor] = []

    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        parameters = _check_parameters(parameters, "TorchOptim")
        super().initialize(parameters)
        if not parameters:
            raise ValueError("TorchOptim.initialize needs at least one parameter")
        if not self._given_instance:
            self.optimizer = self._optimizer_class(list(parameters.values()), **self._kwargs)
        else:
            owned = [p for group in self.optimizer.param_groups for p in group["params"]]
            given = {id(p): name for name, p in parameters.items()}
            foreign = [index for index, p in enumerate(owned) if id(p) not in given]
            if foreign or len(owned) != len(given):
                missing = sorted(set(given.values()) - {given[id(p)] for p in owned if id(p) in given})
                raise ValueError(
                    "TorchOptim: the optimizer instance must be built over exactly the trained parameters; "
                    f"parameters it does not hold: {missing}; {len(foreign)} of its tensors are not trained"
                )
        self._optimizer_parameters = list(parameters.values())
        self._saved = []
        self._sync_hyperparameters(force=True)

    def _sync_hyperparameters(self, force: bool = False) -> None:
        for name, tensor in self._hyperparameters.items():
            value = tensor.item()
            if force or value != self._synced[name]:
                for group in self.optimizer.param_groups:
                    if name in group:
                        group[name] = value
                self._synced[name] = value

    def _step(self, parameters: list[Tensor], previous_steps: list[Tensor]) -> None:
        self._sync_hyperparameters()
        for parameter, step in zip(parameters, previous_steps):
            parameter.grad = step
        try:
            self.optimizer.step()
        finally:
            for parameter in parameters:
                parameter.grad = None

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        """Run ``optimizer.step()`` on the parameters directly (no copies)."""
        self._step(list(parameters), previous_steps)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        parameters = list(parameters)
        if not self._saved:
            self._saved = [p.detach().clone() for p in parameters]
        else:
            torch._foreach_copy_(self._saved, parameters)
        self._step(parameters, previous_steps)
        steps = list(torch._foreach_sub(self._saved, parameters))
        torch._foreach_copy_(parameters, self._saved)
        return steps

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        optimizer_state = self.optimizer.state_dict()
        names = self._index_names()
        buffers: dict[str, dict[str, Any]] = {}
        for index, values in optimizer_state["state"].items():
            for key, value in values.items():
                buffers.setdefault(key, {})[names[index]] = value
        state["buffers"] = buffers
        groups = []
        for group in optimizer_state["param_groups"]:
            entry = {key: (list(value) if isinstance(value, tuple) else value) for key, value in group.items()}
            entry["params"] = [names[index] for index in group["params"]]
            groups.append(entry)
        state["param_groups"] = groups
        return state

    def _index_names(self) -> list[str]:
        name_of = {id(p): name for name, p in zip(self.parameter_names, self._optimizer_parameters)}
        return [name_of[id(p)] for group in self.optimizer.param_groups for p in group["params"]]

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.optimizer is None or not self.parameter_names:
            raise ValueError("TorchOptim.initialize(parameters) must be called before load_state_dict")
        names = self._index_names()
        index_of = {name: index for index, name in enumerate(names)}
        per_index: dict[int, dict[str, Any]] = {}
        for key, values in state.get("buffers", {}).items():
            for name, value in values.items():
                if name not in index_of:
                    raise ValueError(f"TorchOptim: state has buffer {key!r} for unknown parameter {name!r}; "
                                     f"parameters: {names}")
                per_index.setdefault(index_of[name], {})[key] = value
        groups = []
        for saved, current in zip(state.get("param_groups", []), self.optimizer.param_groups):
            entry = dict(saved)
            for key, value in entry.items():
                if isinstance(current.get(key), tuple) and isinstance(value, list):
                    entry[key] = tuple(value)
            entry["params"] = [index_of[name] for name in saved["params"]]
            groups.append(entry)
        if len(groups) != len(self.optimizer.param_groups):
            raise ValueError(f"TorchOptim: state has {len(groups)} parameter groups, "
                             f"the optimizer has {len(self.optimizer.param_groups)}")
        self.optimizer.load_state_dict({"state": per_index, "param_groups": groups})
        super().load_state_dict({"hyperparameters": state.get("hyperparameters", {}),
                                 "buffers": {}, "parameter_names": state.get("parameter_names", self.parameter_names)})
        self._sync_hyperparameters(force=True)
