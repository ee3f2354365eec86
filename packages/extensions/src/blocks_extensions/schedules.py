"""SharedVariableModifier: hyper-parameter schedules applied in place."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy
import torch

from blocks.extensions import CallbackName, SimpleExtension

__all__ = ["SharedVariableModifier"]


class SharedVariableModifier(SimpleExtension):
    """Set a hyper-parameter tensor from a function of the iteration count.

    ``function(iterations_done)`` or ``function(iterations_done, old_value)``
    returns the new value, written in place with ``fill_`` so step rules see
    it at once. A one-argument function adds no host sync; the two-argument
    form reads the old value (``.item()``).

    Parameters
    ----------
    parameter : torch.Tensor
        A 0-d hyper-parameter tensor (e.g. ``step_rule.learning_rate``).
    function : callable
        The schedule.
    num_args : int, optional
        1 or 2; inferred from the signature by default.
    **kwargs
        Triggers; ``after_batch`` when none is given.

    Examples
    --------
    >>> import torch
    >>> learning_rate = torch.tensor(0.1)
    >>> decay = SharedVariableModifier(learning_rate, lambda n, old: old * 0.5)
    >>> decay.num_args
    2
    """

    def __init__(
        self, parameter: torch.Tensor, function: Callable[..., Any], num_args: int | None = None, **kwargs: Any
    ) -> None:
        if not any(value for key, value in kwargs.items() if key != "name"):
            kwargs["after_batch"] = True
        super().__init__(**kwargs)
        if not isinstance(parameter, torch.Tensor):
            raise ValueError(
                f"SharedVariableModifier needs a tensor hyper-parameter (e.g. step_rule.learning_rate), "
                f"got {type(parameter).__name__}"
            )
        if not callable(function):
            raise ValueError(f"function must be callable, got {function!r}")
        if num_args is None:
            try:
                parameters = inspect.signature(function).parameters.values()
                num_args = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
            except (TypeError, ValueError):
                num_args = 1
        if num_args not in (1, 2):
            raise ValueError(
                f"function must take 1 (iterations) or 2 (iterations, old value) arguments, not {num_args}"
            )
        self.parameter = parameter
        self.function = function
        self.num_args = num_args

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        iterations_done = self.main_loop.status["iterations_done"]
        if self.num_args == 1:
            new_value = self.function(iterations_done)
        else:
            new_value = self.function(iterations_done, self.parameter.item())
        with torch.no_grad():
            if isinstance(new_value, torch.Tensor):
                self.parameter.copy_(new_value)
            elif isinstance(new_value, numpy.ndarray):  # e.g. numpy.float32(...) arrays, as Blocks' schedules return
                self.parameter.copy_(torch.as_tensor(new_value))
            else:
                self.parameter.fill_(new_value)
