"""Aggregation of monitored values over batches, on the device (Blocks' ``blocks.monitoring.aggregation``).

A monitored variable carries its scheme in ``variable.meta["aggregation_scheme"]``
(Blocks kept it in ``variable.tag.aggregation_scheme``); the helpers
:func:`mean`, :func:`take_last`, :func:`minimum`, :func:`maximum` and
:func:`concatenate` attach one. A data-dependent variable without a scheme is
averaged over examples (each batch weighted by its size along axis 0 of its
first source), which fixes Blocks' unweighted mean of batch means.

Aggregators accumulate on the device, in place: one small in-place operation
per batch and monitored variable, no host sync, and no per-batch tensor kept
alive (a list of thousands of live scalar tensors fragments the allocator's
heap, which slowed the whole training step by several percent). Sums run in
the values' dtype (at least float32) for up to :data:`COMPACT_EVERY` batches
and are then folded into a float64 total, so a long epoch loses no precision
while a batch pays for one same-dtype addition. Minima and maxima stay in the
values' dtype; only :class:`Concatenate` keeps every batch's value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy
import torch

__all__ = [
    "COMPACT_EVERY",
    "AggregationScheme",
    "Aggregator",
    "Concatenate",
    "Maximum",
    "Mean",
    "Minimum",
    "MonitoredQuantity",
    "TakeLast",
    "WeightedMean",
    "concatenate",
    "get_aggregation_scheme",
    "maximum",
    "mean",
    "minimum",
    "take_last",
]

COMPACT_EVERY = 256
"""Running sums are folded into their float64 totals (and :class:`Concatenate`'s pending tensors joined)
after this many batches."""


class Aggregator(ABC):
    """Accumulates the values of a scheme's ``requires`` over batches.

    ``aggregate(values, batch_size)`` receives one tensor per required
    variable; ``readout()`` returns the aggregated tensor (``None`` when no
    batch was aggregated) and does not reset; ``initialize()`` resets.
    """

    def __init__(self) -> None:
        self.initialize()

    @abstractmethod
    def initialize(self) -> None:
        """Forget everything aggregated."""

    @abstractmethod
    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        """Add one batch's values."""

    @abstractmethod
    def readout(self) -> torch.Tensor | None:
        """The aggregated value so far."""

    def state_dict(self) -> dict[str, Any]:
        """Partial aggregation as tensors (so a mid-period checkpoint loses nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result."""


def _tensor(value: Any) -> torch.Tensor:
    """``value`` as a tensor outside any autograd graph (no copy for a detached tensor)."""
    if isinstance(value, torch.Tensor):
        return value.detach() if value.requires_grad else value
    return torch.as_tensor(value)


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _start_sum(value: Any, weight: float = 1.0, dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    """A new running sum holding ``value * weight`` (never a view of ``value``).

    In ``dtype``; with ``dtype=None``, in the value's own dtype, but at least
    float32 (a sum of a few hundred float16 values would lose digits).
    """
    value = _tensor(value)
    if dtype is None:
        dtype = torch.float32 if value.dtype in _LOW_PRECISION else value.dtype
    total = value.to(dtype, copy=True)
    if weight != 1.0:
        total.mul_(weight)
    return total


class _RunningSum:
    """``sum(value * weight)``: a partial sum in the values' dtype, folded into float64 every COMPACT_EVERY adds.

    Reading it (:meth:`value`, :meth:`state_dict`) changes nothing, so a run
    that saves a checkpoint mid-epoch sums exactly as one that does not.
    """

    __slots__ = ("partial", "pending", "total")

    def __init__(self) -> None:
        self.partial: torch.Tensor | None = None
        self.pending = 0
        self.total: torch.Tensor | None = None

    def add(self, value: Any, weight: float = 1.0) -> None:
        if self.partial is None:
            self.partial = _start_sum(value, weight, dtype=None)
        elif weight == 1:
            self.partial.add_(_tensor(value))
        else:
            self.partial.add_(_tensor(value), alpha=weight)
        self.pending += 1
        if self.pending >= COMPACT_EVERY:
            partial, self.partial, self.pending = self.partial, None, 0
            if self.total is None:
                self.total = partial.to(torch.float64)
            else:
                self.total.add_(partial)

    def value(self) -> torch.Tensor | None:
        """The float64 sum so far (``None`` before the first add)."""
        if self.partial is None:
            return self.total
        partial = self.partial.to(torch.float64)
        return partial if self.total is None else self.total + partial

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.total is not None:
            state["total"] = self.total
        if self.partial is not None:
            state["partial"], state["pending"] = self.partial, self.pending
        return state

    def load_state_dict(self, state: Any) -> None:
        """Restore :meth:`state_dict`'s result (or a bare float64 total, as older checkpoints stored it)."""
        if not isinstance(state, dict):
            state = {"total": state}
        total, partial = state.get("total"), state.get("partial")
        self.total = None if total is None else _start_sum(total)
        self.partial = None if partial is None else _tensor(partial).clone()
        self.pending = int(state.get("pending", 0))


class AggregationScheme(ABC):
    """How the values of ``requires`` over batches combine into one value.

    Attributes
    ----------
    requires : list
        Variables (or other named objects) whose per-batch values are needed.
    """

    requires: list[Any]

    @abstractmethod
    def get_aggregator(self) -> Aggregator:
        """A fresh aggregator."""


class _MeanAggregator(Aggregator):
    def __init__(self, constant_denominator: float | None) -> None:
        self.constant_denominator = constant_denominator
        super().__init__()

    def initialize(self) -> None:
        self.numerator = _RunningSum()
        self.denominator = _RunningSum()
        self.batches = 0

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        self.numerator.add(values[0])
        if self.constant_denominator is None:
            self.denominator.add(values[1])
        self.batches += 1

    def readout(self) -> torch.Tensor | None:
        numerator = self.numerator.value()
        if numerator is None:
            return None
        if self.constant_denominator is not None:
            return numerator / (self.constant_denominator * self.batches)
        return numerator / self.denominator.value().to(numerator.device)  # type: ignore[union-attr]

    def state_dict(self) -> dict[str, Any]:
        if not self.batches:
            return {}
        return {"numerator": self.numerator.state_dict(), "denominator": self.denominator.state_dict(),
                "batches": self.batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            self.numerator.load_state_dict(state["numerator"])
            self.denominator.load_state_dict(state["denominator"])
            self.batches = int(state.get("batches", 1))


class Mean(AggregationScheme):
    """Sum of numerators over sum of denominators (Blocks' ``Mean``).

    Parameters
    ----------
    numerator : Variable
        Per-batch numerator (e.g. the number of errors in the batch).
    denominator : Variable or float
        Per-batch denominator (e.g. the batch size), or a constant.

    Examples
    --------
    >>> import torch
    >>> aggregator = Mean("errors", "examples").get_aggregator()
    >>> aggregator.aggregate([torch.tensor(3.0), torch.tensor(10.0)], 10)
    >>> aggregator.aggregate([torch.tensor(1.0), torch.tensor(2.0)], 2)
    >>> float(aggregator.readout())
    0.3333333333333333
    """

    def __init__(self, numerator: Any, denominator: Any = 1.0) -> None:
        self.numerator = numerator
        self.denominator = denominator
        self._constant = float(denominator) if isinstance(denominator, (int, float)) else None
        self.requires = [numerator] if self._constant is not None else [numerator, denominator]

    def get_aggregator(self) -> Aggregator:
        return _MeanAggregator(self._constant)


class _WeightedMeanAggregator(Aggregator):
    def initialize(self) -> None:
        self.total = _RunningSum()
        self.total_weight = 0.0

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        self.total_weight += batch_size
        self.total.add(values[0], batch_size)

    def readout(self) -> torch.Tensor | None:
        total = self.total.value()
        return None if total is None else total / self.total_weight

    def state_dict(self) -> dict[str, Any]:
        if not self.total_weight:
            return {}
        return {**self.total.state_dict(), "total_weight": self.total_weight}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            self.total.load_state_dict(state)
            self.total_weight = float(state["total_weight"])


class WeightedMean(AggregationScheme):
    """Mean over examples: each batch's value weighted by the batch size (the default scheme).

    Exact for per-batch averages such as a mean cost, whatever the size of
    the last batch.

    Examples
    --------
    >>> import torch
    >>> aggregator = WeightedMean("cost").get_aggregator()
    >>> aggregator.aggregate([torch.tensor(1.0)], 3)
    >>> aggregator.aggregate([torch.tensor(4.0)], 1)
    >>> float(aggregator.readout())
    1.75
    """

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.requires = [variable]

    def get_aggregator(self) -> Aggregator:
        return _WeightedMeanAggregator()


class _ReduceAggregator(Aggregator):
    def __init__(self, reduce: str) -> None:
        self.reduce = reduce
        super().__init__()

    def initialize(self) -> None:
        self.value: torch.Tensor | None = None  # last, min, max: the running result
        self.values: list[torch.Tensor] = []  # concatenate: the pending batches

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        value = _tensor(values[0])
        if self.reduce == "concatenate":
            self.values.append(value)
            if len(self.values) >= COMPACT_EVERY:
                self.values = [self.readout()]
        elif self.reduce == "last":
            self.value = value
        elif self.value is None:
            self.value = value.clone()  # the running minimum/maximum is updated in place: never the batch's own
        elif self.reduce == "min":
            torch.minimum(self.value, value, out=self.value)
        else:
            torch.maximum(self.value, value, out=self.value)

    def readout(self) -> torch.Tensor | None:
        if self.reduce != "concatenate":
            return self.value
        if not self.values:
            return None
        return torch.cat([v.reshape(-1, *v.shape[1:]) for v in self.values])

    def state_dict(self) -> dict[str, Any]:
        value = self.readout()
        return {} if value is None else {"value": value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            value = _tensor(state["value"]).clone()
            if self.reduce == "concatenate":
                self.values = [value]
            else:
                self.value = value


class TakeLast(AggregationScheme):
    """The value of the last batch (Blocks' ``TakeLast``).

    Examples
    --------
    >>> import torch
    >>> aggregator = TakeLast("x").get_aggregator()
    >>> for value in (1.0, 5.0, 2.0):
    ...     aggregator.aggregate([torch.tensor(value)], 1)
    >>> float(aggregator.readout())
    2.0
    """

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.requires = [variable]

    def get_aggregator(self) -> Aggregator:
        return _ReduceAggregator("last")


class Minimum(AggregationScheme):
    """Element-wise minimum over batches (Blocks' ``Minimum``).

    Examples
    --------
    >>> import torch
    >>> aggregator = Minimum("x").get_aggregator()
    >>> aggregator.aggregate([torch.tensor([1.0, 5.0])], 1)
    >>> aggregator.aggregate([torch.tensor([3.0, 2.0])], 1)
    >>> aggregator.readout().tolist()
    [1.0, 2.0]
    """

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.requires = [variable]

    def get_aggregator(self) -> Aggregator:
        return _ReduceAggregator("min")


class Maximum(AggregationScheme):
    """Element-wise maximum over batches (Blocks' ``Maximum``).

    Examples
    --------
    >>> import torch
    >>> aggregator = Maximum("x").get_aggregator()
    >>> aggregator.aggregate([torch.tensor([1.0, 5.0])], 1)
    >>> aggregator.aggregate([torch.tensor([3.0, 2.0])], 1)
    >>> aggregator.readout().tolist()
    [3.0, 5.0]
    """

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.requires = [variable]

    def get_aggregator(self) -> Aggregator:
        return _ReduceAggregator("max")


class Concatenate(AggregationScheme):
    """Every batch's value concatenated along axis 0 (Blocks' ``Concatenate``).

    Examples
    --------
    >>> import torch
    >>> aggregator = Concatenate("x").get_aggregator()
    >>> aggregator.aggregate([torch.tensor([1.0, 2.0])], 2)
    >>> aggregator.aggregate([torch.tensor([3.0])], 1)
    >>> aggregator.readout().tolist()
    [1.0, 2.0, 3.0]
    """

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.requires = [variable]

    def get_aggregator(self) -> Aggregator:
        return _ReduceAggregator("concatenate")


class MonitoredQuantity(ABC):
    """A quantity computed outside the graph from the values of ``requires`` (BLEU, WER, ...).

    Values reach :meth:`aggregate` as NumPy arrays, so a monitored quantity
    costs a host sync per batch (graph variables do not).

    Parameters
    ----------
    requires : list of Variable
        The variables whose per-batch values :meth:`aggregate` receives.
    name : str
        The record name.

    Examples
    --------
    >>> class ErrorRate(MonitoredQuantity):
    ...     def initialize(self):
    ...         self.errors, self.total = 0, 0
    ...     def aggregate(self, predictions, targets):
    ...         self.errors += int((predictions != targets).sum())
    ...         self.total += len(targets)
    ...     def get_aggregated_value(self):
    ...         return self.errors / self.total
    >>> import numpy
    >>> rate = ErrorRate(requires=["predictions", "targets"], name="error_rate")
    >>> rate.initialize()
    >>> rate.aggregate(numpy.array([1, 0, 1]), numpy.array([1, 1, 1]))
    >>> rate.get_aggregated_value()
    0.3333333333333333
    """

    def __init__(self, requires: Sequence[Any] | None = None, name: str | None = None) -> None:
        self.requires = list(requires or [])
        if not name:
            raise ValueError(f"{type(self).__name__} needs a name (the log record)")
        self.name = name

    @abstractmethod
    def initialize(self) -> None:
        """Reset before an aggregation period."""

    @abstractmethod
    def aggregate(self, *values: numpy.ndarray) -> None:
        """Add one batch (one array per required variable)."""

    @abstractmethod
    def get_aggregated_value(self) -> Any:
        """The aggregated value."""


def get_aggregation_scheme(variable: Any) -> AggregationScheme:
    """The scheme attached to ``variable`` (``meta["aggregation_scheme"]``), else :class:`WeightedMean`.

    Examples
    --------
    >>> type(get_aggregation_scheme("cost")).__name__
    'WeightedMean'
    """
    meta = getattr(variable, "meta", None)
    scheme = meta.get("aggregation_scheme") if isinstance(meta, dict) else None
    return scheme if scheme is not None else WeightedMean(variable)


def _with_scheme(variable: Any, scheme_class: type, name: str | None) -> Any:
    copy = variable + 0  # a new node, so the original variable keeps its own scheme
    copy.name = name or variable.name
    copy.meta["aggregation_scheme"] = scheme_class(variable)
    return copy


def mean(numerator: Any, denominator: Any = 1.0, name: str | None = None) -> Any:
    """``numerator / denominator`` aggregated as sum(numerators) / sum(denominators).

    Examples
    --------
    >>> from blocks.graph import vector
    >>> errors = vector("errors").sum()
    >>> errors.name = "errors"
    >>> rate = mean(errors, 10, name="error_rate")
    >>> type(rate.meta["aggregation_scheme"]).__name__, rate.name
    ('Mean', 'error_rate')
    """
    variable = numerator / denominator
    variable.name = name or (f"{numerator.name}_mean" if getattr(numerator, "name", None) else None)
    variable.meta["aggregation_scheme"] = Mean(numerator, denominator)
    return variable


def take_last(variable: Any, name: str | None = None) -> Any:
    """A copy of ``variable`` aggregated by :class:`TakeLast`."""
    return _with_scheme(variable, TakeLast, name)


def minimum(variable: Any, name: str | None = None) -> Any:
    """A copy of ``variable`` aggregated by :class:`Minimum`."""
    return _with_scheme(variable, Minimum, name)


def maximum(variable: Any, name: str | None = None) -> Any:
    """A copy of ``variable`` aggregated by :class:`Maximum`."""
    return _with_scheme(variable, Maximum, name)


def concatenate(variable: Any, name: str | None = None) -> Any:
    """A copy of ``variable`` aggregated by :class:`Concatenate`."""
    return _with_scheme(variable, Concatenate, name)
