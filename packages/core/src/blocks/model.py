"""``Model``: a computation graph that knows its bricks and parameters by hierarchical name."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy
import torch

from blocks.bricks.base import Brick, get_brick
from blocks.graph.computation_graph import ComputationGraph
from blocks.graph.variables import Variable

__all__ = ["Model"]

logger = logging.getLogger(__name__)


class Model(ComputationGraph):
    """A :class:`ComputationGraph` with name-based access to parameters and persistent tensors.

    Parameters
    ----------
    outputs : Variable or list of Variable

    Attributes
    ----------
    top_bricks : list of Brick
        Bricks of the graph that have no parent (their names must differ).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.graph import matrix
    >>> from blocks.model import Model
    >>> from blocks.initialization import Constant
    >>> mlp = MLP([Tanh()], [2, 3], weights_init=Constant(1), biases_init=Constant(0))
    >>> model = Model(mlp.apply(matrix("features")))
    >>> list(model.get_parameter_dict())
    ['/mlp/linear_0.W', '/mlp/linear_0.b']
    >>> values = model.get_parameter_values()
    >>> values["/mlp/linear_0.W"][:] = 2
    >>> model.set_parameter_values(values)
    >>> mlp.linear_transformations[0].W.sum().item()
    12.0
    """

    def __init__(self, outputs: Variable | Sequence[Variable]) -> None:
        super().__init__(outputs)
        self.top_bricks = self.get_top_bricks()

    def get_top_bricks(self) -> list[Brick]:
        """Bricks of the graph without parents, in order of appearance."""
        bricks = list(self.bricks)
        for parameter in self.parameters:
            brick = get_brick(parameter)
            if brick is not None and not any(brick is b for b in bricks):
                bricks.append(brick)
        tops: list[Brick] = []
        for brick in bricks:
            seen = set()
            while brick.parents and id(brick) not in seen:
                seen.add(id(brick))
                brick = brick.parents[0]
            if not any(brick is t for t in tops):
                tops.append(brick)
        names = [t.name for t in tops]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"several top bricks are named {duplicates}; parameter names would collide. "
                             "Give them distinct names (name=...).")
        return tops

    def _add(self, result: OrderedDict[str, torch.Tensor], name: str, tensor: torch.Tensor) -> None:
        other = result.get(name)
        if other is not None and other is not tensor:
            raise ValueError(f"two different tensors are both named {name!r}; rename one of the bricks")
        result[name] = tensor

    def get_parameter_dict(self) -> OrderedDict[str, torch.nn.Parameter]:
        """``OrderedDict`` hierarchical name (``/mlp/linear_0.W``) → ``nn.Parameter`` of the graph."""
        result: OrderedDict[str, torch.Tensor] = OrderedDict()
        for index, parameter in enumerate(self.parameters):
            self._add(result, _name_of(parameter, index), parameter)
        return result  # type: ignore[return-value]

    def get_persistent_dict(self) -> OrderedDict[str, torch.Tensor]:
        """Every persistent tensor by name: the graph's parameters, and all parameters and buffers
        (e.g. ``/mlp/bn.population_mean``) of the top bricks' trees."""
        result = self.get_parameter_dict()
        for top in self.top_bricks:
            for module in top.modules():
                if not isinstance(module, Brick):
                    continue
                for store in (module._parameters, module._buffers):
                    for name, tensor in store.items():
                        if tensor is None or name in module._non_persistent_buffers_set:
                            continue
                        if getattr(tensor, "_blocks_brick", None) is module:
                            self._add(result, Brick.get_hierarchical_name(tensor), tensor)
                        else:
                            self._add(result, f"{module.get_unique_path()}.{name}", tensor)
        return result

    def get_parameter_values(self) -> OrderedDict[str, numpy.ndarray]:
        """Hierarchical name → ``numpy.ndarray`` copy of each parameter."""
        return OrderedDict((name, p.detach().cpu().numpy().copy()) for name, p in self.get_parameter_dict().items())

    def set_parameter_values(self, values: Mapping[str, Any]) -> None:
        """Set parameters (or other persistent tensors) from ``{name: array or tensor}``.

        Unknown names and shape mismatches are reported together in one
        ``ValueError`` (nothing is changed then); names left out keep their
        values (logged at INFO level).
        """
        targets = self.get_persistent_dict()
        unknown = [name for name in values if name not in targets]
        mismatched = []
        for name, value in values.items():
            if name in targets:
                shape = tuple(numpy.shape(value)) if not isinstance(value, torch.Tensor) else tuple(value.shape)
                if shape != tuple(targets[name].shape):
                    mismatched.append(f"{name}: expected shape {tuple(targets[name].shape)}, got {shape}")
        if unknown or mismatched:
            parts = []
            if unknown:
                parts.append(f"unknown names {unknown} (known: {list(targets)})")
            if mismatched:
                parts.append("shape mismatches: " + "; ".join(mismatched))
            raise ValueError("cannot set parameter values: " + " and ".join(parts))
        missing = [name for name in self.get_parameter_dict() if name not in values]
        if missing:
            logger.info("set_parameter_values: no values for %s; they keep their current values", missing)
        touched = []
        with torch.no_grad():
            for name, value in values.items():
                target = targets[name]
                target.copy_(torch.as_tensor(numpy.asarray(value) if not isinstance(value, torch.Tensor) else value))
                brick = get_brick(target)
                if brick is not None:
                    touched.append(brick)
        for brick in touched:
            brick.mark_initialized()


def _name_of(parameter: torch.Tensor, index: int) -> str:
    if getattr(parameter, "_blocks_brick", None) is not None and getattr(parameter, "_blocks_name", None):
        return Brick.get_hierarchical_name(parameter)
    name = getattr(parameter, "_blocks_name", None)
    return name if name else f"parameter_{index}"
