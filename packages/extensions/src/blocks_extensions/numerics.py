"""CheckNumerics: stop at the first non-finite gradient or parameter, naming its brick path."""

from __future__ import annotations

import logging
from typing import Any

import torch

from blocks.extensions import CallbackName, SimpleExtension
from blocks.numerics import NonFiniteError as CoreNonFiniteError

__all__ = ["CheckNumerics", "NonFiniteError"]

logger = logging.getLogger(__name__)


class NonFiniteError(CoreNonFiniteError):
    """A gradient or parameter became NaN or infinite (a :class:`blocks.numerics.NonFiniteError`)."""


class CheckNumerics(SimpleExtension):
    """Check gradients and parameters for NaN/inf; stop at the first bad one, naming it.

    Names are the model's hierarchical names (``Model.get_parameter_dict()``,
    e.g. ``/mlp/linear_0.W``). Gradients: when the algorithm offers
    ``total_gradient_norm`` (``GradientDescent``), it is monitored in the
    training forward/backward pass and checked (GradientDescent does not keep
    per-parameter gradients, so a non-finite gradient is reported with the
    first parameter it made non-finite); gradients left in ``parameter.grad``
    or given by ``algorithm.gradients`` (parameter → gradient) are checked by
    name. All tensors are reduced together with one host sync per check; only
    when that fails are they examined one by one.

    How it relates to the main loop's guard: ``MainLoop`` (core) stops a run
    that goes non-finite by default (``stop_on_nonfinite``), at no host
    synchronisation per batch, within one monitoring period, naming the
    cost, the gradient norm and the non-finite parameters.
    ``CheckNumerics`` is the detailed diagnosis: it checks on its own
    triggers (every batch by default, one host sync each), so it stops at the
    first bad batch and names the first non-finite gradient. Both raise a
    :class:`blocks.numerics.NonFiniteError`.

    Parameters
    ----------
    parameters : dict, optional
        Name → parameter; by default ``main_loop.model.get_parameter_dict()``.
    action : {"raise", "finish"}, optional
        ``raise`` (default) raises :class:`NonFiniteError` (``on_error``
        extensions run); ``finish`` requests the end of training, which then
        ends cleanly: it also turns the main loop's guard off
        (``main_loop.stop_on_nonfinite = False``), since the problem is
        handled (and logged as an error).
    **kwargs
        Triggers; ``after_batch`` when none is given.

    Examples
    --------
    >>> import torch
    >>> check = CheckNumerics(parameters={"/w": torch.nn.Parameter(torch.tensor([1.0, float("nan")]))})
    >>> check.find_problem()
    'non-finite parameter /w'
    """

    reads_device = True  # its checks synchronise: the main loop's guard reads its own record after them

    def __init__(self, parameters: dict[str, torch.Tensor] | None = None, action: str = "raise", **kwargs: Any):
        if action not in ("raise", "finish"):
            raise ValueError(f"action must be 'raise' or 'finish', got {action!r}")
        if not any(value for key, value in kwargs.items() if key != "name"):
            kwargs["after_batch"] = True
        super().__init__(**kwargs)
        self.parameters = parameters
        self.action = action
        self._gradient_norm_name: str | None = None

    def responds_to(self, callback_name: str) -> bool:
        return callback_name in ("before_training", "on_resumption") or super().responds_to(callback_name)

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if callback_invoked in ("before_training", "on_resumption") and self._gradient_norm_name is None:
            algorithm = self.main_loop.algorithm
            quantity = getattr(algorithm, "total_gradient_norm", None)
            if quantity is not None and hasattr(algorithm, "add_monitored"):
                algorithm.add_monitored([quantity])
                self._gradient_norm_name = quantity.name
        super().dispatch(callback_invoked, *from_main_loop)

    def _parameter_dict(self) -> dict[str, torch.Tensor]:
        if self.parameters is None:
            self.parameters = dict(self.main_loop.model.get_parameter_dict())
        return self.parameters

    def _gradients(self, parameters: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        algorithm = self.main_loop.algorithm if self.is_attached else None
        known = getattr(algorithm, "gradients", None)
        by_id = {}
        if isinstance(known, dict):
            by_id = {id(parameter): gradient for parameter, gradient in known.items()}
        gradients = {}
        for name, parameter in parameters.items():
            gradient = by_id.get(id(parameter), getattr(parameter, "grad", None))
            if isinstance(gradient, torch.Tensor):
                gradients[name] = gradient
        return gradients

    def find_problem(self) -> str | None:
        """A description of the first non-finite gradient or parameter, or ``None``."""
        parameters = self._parameter_dict()
        gradient_norm = None
        if self._gradient_norm_name is not None and self.is_attached:
            gradient_norm = self.main_loop.algorithm.monitored_values.get(self._gradient_norm_name)
        groups = [("gradient", self._gradients(parameters)), ("parameter", parameters)]
        tensors = [t.detach() for _, group in groups for t in group.values()]
        norms = [n.float().reshape(()) for n in torch._foreach_norm(tensors, 1)] if tensors else []
        if gradient_norm is not None:
            norms.append(gradient_norm.detach().float().reshape(()))
        if not norms or bool(torch.isfinite(torch.stack(norms).sum())):
            return None
        for kind, group in groups:
            for name, tensor in group.items():
                if not bool(torch.isfinite(tensor.detach()).all()):
                    if kind == "parameter" and gradient_norm is not None and not bool(torch.isfinite(gradient_norm)):
                        return f"non-finite gradient (total_gradient_norm {float(gradient_norm)}), first in {name}"
                    return f"non-finite {kind} {name}"
        if gradient_norm is not None and not bool(torch.isfinite(gradient_norm)):
            return f"non-finite gradient (total_gradient_norm {float(gradient_norm)})"
        return None

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        problem = self.find_problem()
        if problem is None:
            return
        iteration = self.main_loop.status["iterations_done"]
        message = f"{problem} at iteration {iteration}"
        self.main_loop.log.current_row["numerics_problem"] = message
        if self.action == "raise":
            raise NonFiniteError(message)
        logger.error("%s: finishing training", message)
        self.main_loop.log.current_row["training_finish_requested"] = True
        self.main_loop.stop_on_nonfinite = False  # handled here: the core guard must not turn the finish into an error
