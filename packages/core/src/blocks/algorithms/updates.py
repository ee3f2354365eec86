"""``UpdatesAlgorithm``: assign the values of graph variables to tensors after every batch (Blocks' algorithm)."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Sequence

import torch

from blocks.algorithms.base import TrainingAlgorithm
from blocks.graph import ComputationGraph, Variable, as_variable

__all__ = ["UpdatesAlgorithm", "check_sources", "check_updates"]

_ON_UNUSED_SOURCES = ("raise", "warn", "ignore")


def check_updates(updates: Iterable[tuple[Any, Any]] | Mapping[Any, Any] | None) -> list[tuple[torch.Tensor, Variable]]:
    """``[(tensor, variable), ...]`` from Blocks' list of pairs or ``OrderedDict`` of updates.

    Each target must be a tensor (a parameter or a buffer, e.g. from
    :func:`blocks.utils.shared_floatx`); each value a graph variable, a tensor
    or a number (made constant nodes).

    Raises
    ------
    ValueError
        For a plain ``dict`` (its order would decide the order of the
        updates), a malformed pair, or a target that is not a tensor.

    Examples
    --------
    >>> from blocks.graph import as_variable
    >>> from blocks.utils import shared_floatx
    >>> n = shared_floatx(1.0)
    >>> [(target is n, value.name) for target, value in check_updates([(n, as_variable(n) + 1)])]
    [(True, None)]
    """
    if updates is None:
        return []
    if isinstance(updates, Mapping):
        if not isinstance(updates, OrderedDict):
            raise ValueError("updates must be a list of (tensor, value) pairs or an OrderedDict, not a dict")
        updates = list(updates.items())
    result = []
    for pair in updates:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"an update must be a (tensor, value) pair, got {pair!r}")
        target, value = pair
        if isinstance(target, Variable) and target.tensor is not None:
            target = target.tensor
        if not isinstance(target, torch.Tensor):
            raise ValueError(f"an update's target must be a tensor (e.g. blocks.utils.shared_floatx), got {target!r}")
        if not isinstance(value, (Variable, torch.Tensor)):
            value = torch.as_tensor(value, dtype=target.dtype)
        result.append((target, as_variable(value)))
    return result


def check_sources(batch: Mapping[str, Any], inputs: set[str], on_unused_sources: str, what: str) -> None:
    """Missing sources are an error; unused ones are one too, a warning or ignored (``on_unused_sources``)."""
    if not isinstance(batch, Mapping):
        raise ValueError(f"a batch must be a mapping from source names to arrays, got {type(batch).__name__}")
    sources = set(batch)
    missing = inputs - sources
    if missing:
        raise ValueError(f"the batch lacks the source(s) {sorted(missing)} that {what} needs (inputs "
                         f"{sorted(inputs)}); it has {sorted(sources)}")
    unused = sources - inputs
    if unused and on_unused_sources != "ignore":
        message = (f"the batch sources {sorted(unused)} are not inputs of the graph (inputs {sorted(inputs)}); "
                   "pass on_unused_sources='warn' or 'ignore' to allow them")
        if on_unused_sources == "raise":
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)


class UpdatesAlgorithm(TrainingAlgorithm):
    """After every batch, set tensors to the values of graph variables (Blocks' ``UpdatesAlgorithm``).

    Every value is computed from the tensors as they were before the batch,
    then all are assigned (Theano's simultaneous updates), without gradients.

    Parameters
    ----------
    updates : list of (tensor, value) pairs or OrderedDict, optional
        Targets (parameters or buffers) and their new values: graph
        variables (``as_variable(n) + 1``, ``m + 1`` for an input ``m``),
        tensors or numbers.
    on_unused_sources : {"raise", "warn", "ignore"}
        What to do with batch sources the updates do not read.

    Attributes
    ----------
    updates : list of (torch.Tensor, Variable)
    inputs : list of Variable
        The symbolic inputs the updates read (after :meth:`initialize`).

    Notes
    -----
    The targets are not part of the algorithm's checkpointed state: save them
    with the model (``Model`` or ``Checkpoint``'s parameters).

    Examples
    --------
    >>> from blocks.graph import as_variable, scalar
    >>> from blocks.utils import shared_floatx
    >>> n = shared_floatx(1.0)
    >>> m = scalar("m")
    >>> algorithm = UpdatesAlgorithm(updates=[(n, as_variable(n) + m)])
    >>> algorithm.initialize()
    >>> algorithm.process_batch({"m": 2.0})
    >>> n.item()
    3.0
    """

    def __init__(self, updates: Sequence[tuple[Any, Any]] | Mapping[Any, Any] | None = None,
                 on_unused_sources: str = "raise") -> None:
        if on_unused_sources not in _ON_UNUSED_SOURCES:
            raise ValueError(f"on_unused_sources must be one of {_ON_UNUSED_SOURCES}, got {on_unused_sources!r}")
        self.updates = check_updates(updates)
        self.on_unused_sources = on_unused_sources
        self.inputs: list[Variable] = []
        self._function: Any = None

    def add_updates(self, updates: Sequence[tuple[Any, Any]] | Mapping[Any, Any]) -> None:
        """Add updates (a list of pairs or an ``OrderedDict``); before :meth:`initialize`, as in Blocks."""
        if not isinstance(updates, (list, tuple, OrderedDict)):
            raise ValueError(f"updates must be a list of (tensor, value) pairs or an OrderedDict, got "
                             f"{type(updates).__name__}")
        self.updates.extend(check_updates(updates))
        if self._function is not None:
            self.initialize()

    def initialize(self) -> None:
        """Compile the update values into one function."""
        values = [value for _, value in self.updates]
        graph = ComputationGraph(values) if values else None
        self.inputs = list(graph.inputs) if graph is not None else []
        self._input_names = {v.name for v in self.inputs}
        self._function = graph.compile(values) if graph is not None else (lambda batch: [])

    def process_batch(self, batch: Mapping[str, Any]) -> None:
        """Compute every update value from ``batch`` and assign them."""
        if self._function is None:
            raise ValueError("UpdatesAlgorithm.initialize() must be called before process_batch")
        check_sources(batch, self._input_names, self.on_unused_sources, "the updates")
        with torch.no_grad():
            values = self._function(batch)
            for (target, _), value in zip(self.updates, values):
                target.copy_(value)
