"""Aggregation of monitored values over batches, on the device (Blocks' ``blocks.monitoring.aggregation``).

A monitored variable carries its scheme in ``variable.meta["aggregation_scheme"]``
(Blocks kept it in ``variable.tag.aggregation_scheme``); the helpers
:func:`mean`, :func:`take_last`, :func:`minimum`, :func:`maximum` and
:func:`concatenate` attach one. A data-dependent variable without a scheme is
averaged over examples (each batch weighted by its size along axis 0 of its
first source), which fixes Blocks' unweighted mean of batch means.

Aggregators keep device tensors in lists and reduce them only when read out
(or every :data:`COMPACT_EVERY` batches), so monitoring adds no host sync and
almost no work per batch.
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
"""Pending per-batch tensors are reduced into one after this many batches."""


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


def _stack(values: list[Any]) -> torch.Tensor:
    return torch.stack([torch.as_tensor(v) for v in values])


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
        self.numerators: list[torch.Tensor] = []
        self.denominators: list[Any] = []

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        self.numerators.append(values[0])
        self.denominators.append(values[1] if self.constant_denominator is None else self.constant_denominator)
        if len(self.numerators) >= COMPACT_EVERY:
            self._compact()

    def _compact(self) -> None:
        self.numerators = [_stack(self.numerators).sum(0)]
        self.denominators = [_stack(self.denominators).sum(0)]

    def readout(self) -> torch.Tensor | None:
        if not self.numerators:
            return None
        self._compact()
        numerator = torch.as_tensor(self.numerators[0]).to(torch.float64)
        return numerator / torch.as_tensor(self.denominators[0]).to(numerator.device, torch.float64)

    def state_dict(self) -> dict[str, Any]:
        if not self.numerators:
            return {}
        self._compact()
        return {"numerator": self.numerators[0], "denominator": torch.as_tensor(self.denominators[0])}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            self.numerators, self.denominators = [state["numerator"]], [state["denominator"]]


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
        self.values: list[torch.Tensor] = []
        self.weights: list[float] = []
        self.total: torch.Tensor | None = None
        self.total_weight = 0.0

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        self.values.append(values[0])
        self.weights.append(batch_size)
        if len(self.values) >= COMPACT_EVERY:
            self._compact()

    def _compact(self) -> None:
        if not self.values:
            return
        stacked = _stack(self.values).to(torch.float64)
        weights = torch.tensor(self.weights, dtype=torch.float64, device=stacked.device)
        part = (stacked * weights.reshape(-1, *([1] * (stacked.ndim - 1)))).sum(0)
        self.total = part if self.total is None else self.total + part
        self.total_weight += float(sum(self.weights))
        self.values, self.weights = [], []

    def readout(self) -> torch.Tensor | None:
        self._compact()
        if self.total is None:
            return None
        return self.total / self.total_weight

    def state_dict(self) -> dict[str, Any]:
        self._compact()
        return {} if self.total is None else {"total": self.total, "total_weight": self.total_weight}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            self.total, self.total_weight = state["total"], float(state["total_weight"])


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
        self.values: list[torch.Tensor] = []

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        if self.reduce == "last":
            self.values = [values[0]]
            return
        self.values.append(values[0])
        if len(self.values) >= COMPACT_EVERY:
            self.values = [self.readout()]

    def readout(self) -> torch.Tensor | None:
        if not self.values:
            return None
        if self.reduce == "last":
            return torch.as_tensor(self.values[0])
        if self.reduce == "concatenate":
            return torch.cat([torch.as_tensor(v).reshape(-1, *torch.as_tensor(v).shape[1:]) for v in self.values])
        stacked = _stack(self.values)
        return stacked.amin(0) if self.reduce == "min" else stacked.amax(0)

    def state_dict(self) -> dict[str, Any]:
        value = self.readout()
        return {} if value is None else {"value": value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            self.values = [state["value"]]


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
