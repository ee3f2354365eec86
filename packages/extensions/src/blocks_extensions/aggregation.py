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

Data parallelism (torch.distributed): each rank aggregates its own shard of
every batch, weighted by its own example counts; when a monitoring
extension reads out, the ranks' partial states (exact counts, float64 sums)
are gathered and merged by :meth:`Aggregator.merge_states`, in rank order,
into the state one process would have reached on the global batches.
:class:`WeightedMean` (the default) and :class:`Mean` are then exact for
per-example means and for sums over examples (numerators and denominators
are added over the ranks; a constant denominator counts global batches);
:class:`Minimum`/:class:`Maximum` take the extreme over the ranks (exact for
per-example extremes and values the same on every rank);
:class:`TakeLast` is the example-weighted mean of the ranks' parts of the
last batch (their common value when all are equal); :class:`Concatenate`
joins every batch's parts in rank order (the global batch's order under
:class:`fuel.schemes.ShardedScheme`). A :class:`MonitoredQuantity` states
how its per-rank values combine in ``rank_reduction``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy
import torch

from blocks.graph import Variable

__all__ = [
    "COMPACT_EVERY",
    "AggregatedQuantity",
    "AggregationScheme",
    "Aggregator",
    "Concatenate",
    "Maximum",
    "Mean",
    "Minimum",
    "MonitoredQuantity",
    "Perplexity",
    "TakeLast",
    "WeightedMean",
    "concatenate",
    "get_aggregation_scheme",
    "maximum",
    "mean",
    "minimum",
    "perplexity",
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

    def merge_states(self, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """One state holding what every one of ``states`` aggregated.

        ``states`` are :meth:`state_dict` results of the ranks of a
        data-parallel run, in rank order (empty ones left out): each rank
        aggregated its shard of the same batches. Aggregators that cannot
        be combined that way raise, so a data-parallel run never logs one
        rank's view as the whole.
        """
        raise ValueError(
            f"{type(self).__name__} does not say how the ranks of a data-parallel run combine: implement "
            "merge_states() to monitor it under torch.distributed"
        )

    @classmethod
    def can_merge(cls) -> bool:
        """Whether this aggregator implements :meth:`merge_states`."""
        return cls.merge_states is not Aggregator.merge_states


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


def _merged_sum(states: Sequence[Any]) -> dict[str, Any]:
    """The :class:`_RunningSum` state of the float64 sum of ``states``' values, in order (``{}`` if none)."""
    total: torch.Tensor | None = None
    for state in states:
        running = _RunningSum()
        running.load_state_dict(state)
        value = running.value()
        if value is not None:
            total = value.clone() if total is None else total + value.to(total.device)
    return {} if total is None else {"total": total}


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

    def merge_states(self, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        states = [state for state in states if state]
        if not states:
            return {}
        # numerators and denominators add up over the ranks' shards; the ranks saw the same (global) batches
        return {"numerator": _merged_sum([state["numerator"] for state in states]),
                "denominator": _merged_sum([state["denominator"] for state in states]),
                "batches": max(int(state.get("batches", 1)) for state in states)}


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
        if not batch_size:  # no examples (a rank's empty shard): nothing to weigh, and 0 * nan is nan
            return
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

    def merge_states(self, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        states = [state for state in states if state]
        if not states:
            return {}
        return {**_merged_sum(states), "total_weight": sum(float(state["total_weight"]) for state in states)}


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
        self.rows: list[int] = []  # concatenate: rows per batch (to interleave the ranks' parts)
        self.examples = 0  # last: the examples of the last batch (to weigh the ranks' parts)

    def aggregate(self, values: Sequence[torch.Tensor], batch_size: int) -> None:
        value = _tensor(values[0])
        if self.reduce == "concatenate":
            self.values.append(value)
            self.rows.append(value.shape[0] if value.dim() else 1)
            if len(self.values) >= COMPACT_EVERY:
                self.values = [self.readout()]
        elif self.reduce == "last":
            self.value = value
            self.examples = batch_size
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
        if value is None:
            return {}
        if self.reduce == "concatenate":
            return {"value": value, "rows": list(self.rows)}
        if self.reduce == "last":
            return {"value": value, "examples": self.examples}
        return {"value": value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.initialize()
        if state:
            value = _tensor(state["value"]).clone()
            if self.reduce == "concatenate":
                self.values = [value]
                self.rows = [int(r) for r in state.get("rows", [value.shape[0] if value.dim() else 1])]
            else:
                self.value = value
                self.examples = int(state.get("examples", 1))

    def merge_states(self, states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        states = [state for state in states if state]
        if len(states) <= 1:
            return dict(states[0]) if states else {}
        values = [_tensor(state["value"]) for state in states]
        if self.reduce == "min" or self.reduce == "max":
            combine = torch.minimum if self.reduce == "min" else torch.maximum
            result = values[0]
            for value in values[1:]:
                result = combine(result, value.to(result.device))
            return {"value": result}
        if self.reduce == "last":
            return _merge_last(values, [int(state.get("examples", 1)) for state in states])
        return _merge_concatenated(values, [state.get("rows") for state in states])


def _merge_last(values: list[torch.Tensor], examples: list[int]) -> dict[str, Any]:
    """The ranks' parts of the last batch: their common value, else their example-weighted mean (float64)."""
    first = values[0]
    if all(v.dtype == first.dtype and v.shape == first.shape and torch.equal(v, first.to(v.device)) for v in values):
        return {"value": first, "examples": sum(examples)}
    if not sum(examples):
        raise ValueError("TakeLast: the ranks' last values differ and none of them holds an example")
    total = sum(v.to(torch.float64) * n for v, n in zip(values, examples) if n)
    return {"value": total / sum(examples), "examples": sum(examples)}


def _merge_concatenated(values: list[torch.Tensor], rows: list[Any]) -> dict[str, Any]:
    """Every batch's rows, rank after rank: batches are aligned from the last (a resumed rank 0 has more)."""
    values = [v.reshape(-1, *v.shape[1:]) for v in values]
    rows = [list(r) if r is not None else [v.shape[0]] for r, v in zip(rows, values)]
    depth = max(len(r) for r in rows)
    pieces = []
    for rank_rows, value in zip(rows, values):
        if sum(rank_rows) != value.shape[0]:
            raise ValueError(f"Concatenate: a rank's state has {value.shape[0]} rows, its batches {sum(rank_rows)}")
        starts = [0]
        for count in rank_rows:
            starts.append(starts[-1] + count)
        offset = depth - len(rank_rows)
        pieces.append({offset + i: value[starts[i]:starts[i + 1]] for i in range(len(rank_rows))})
    ordered, merged_rows = [], []
    for batch in range(depth):
        parts = [piece[batch] for piece in pieces if batch in piece]
        ordered += parts
        merged_rows.append(sum(part.shape[0] for part in parts))
    device = values[0].device
    return {"value": torch.cat([part.to(device) for part in ordered]), "rows": merged_rows}


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

    Attributes
    ----------
    rank_reduction : {"mean", "sum", "min", "max"} or None
        How the values of the ranks of a data-parallel run combine into one:
        ``"mean"`` weighs each rank's value by the examples it aggregated
        (exact for a per-example mean such as an error rate), ``"sum"``
        adds them (counts), ``"min"``/``"max"`` take the extreme. ``None``
        (the default): the quantity cannot be monitored under
        torch.distributed (monitoring raises, naming it), since a value such
        as a corpus BLEU score is no function of the ranks' scores.

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

    rank_reduction: str | None = None

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


class AggregatedQuantity:
    """A quantity that is not a graph variable (``algorithm.total_gradient_norm``) with an aggregation scheme.

    What :func:`mean` returns for such a quantity; monitoring extensions take it like a variable.

    Parameters
    ----------
    quantity : object
        Has a ``name`` (e.g. :class:`blocks.algorithms.AlgorithmQuantity`).
    scheme : AggregationScheme
        How its per-batch values combine.
    name : str, optional
        The record name (default: the quantity's).

    Examples
    --------
    >>> from blocks.algorithms import AlgorithmQuantity
    >>> norm = mean(AlgorithmQuantity("total_gradient_norm"))
    >>> norm.name, type(norm.meta["aggregation_scheme"]).__name__
    ('total_gradient_norm', 'Mean')
    """

    def __init__(self, quantity: Any, scheme: AggregationScheme, name: str | None = None) -> None:
        self.quantity = quantity
        self.name = name or quantity.name
        self.meta = {"aggregation_scheme": scheme}

    def __repr__(self) -> str:
        return f"AggregatedQuantity({self.quantity!r}, {type(self.meta['aggregation_scheme']).__name__})"


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
    >>> mean(errors, 10).name
    'errors'
    """
    if not isinstance(numerator, (Variable, torch.Tensor)) and getattr(numerator, "name", None):
        # a quantity the algorithm computes (Blocks: ``mean(algorithm.total_gradient_norm)``)
        return AggregatedQuantity(numerator, Mean(numerator, denominator), name)
    variable = numerator / denominator
    variable.name = name or getattr(numerator, "name", None)  # Blocks: the numerator's name
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


class _PerplexityAggregator(_MeanAggregator):
    def readout(self) -> torch.Tensor | None:
        value = super().readout()
        return None if value is None else torch.exp(-value)


class Perplexity(Mean):
    """``exp(-mean)``: the perplexity of summed log-likelihoods over counts (Blocks' ``Perplexity``).

    Examples
    --------
    >>> import torch
    >>> aggregator = Perplexity("log_likelihood", "words").get_aggregator()
    >>> aggregator.aggregate([torch.tensor(-4.0), torch.tensor(2.0)], 2)
    >>> round(float(aggregator.readout()), 4)
    7.3891
    """

    def get_aggregator(self) -> Aggregator:
        return _PerplexityAggregator(self._constant)


def perplexity(log_likelihood: Any, n_examples: Any, name: str | None = None) -> Any:
    """``exp(-log_likelihood / n_examples)`` aggregated by :class:`Perplexity`, named ``perplexity``.

    Examples
    --------
    >>> from blocks.graph import vector
    >>> log_likelihood = vector("log_likelihood").sum()
    >>> perplexity(log_likelihood, 10).name
    'perplexity'
    """
    variable = torch.exp(-log_likelihood / n_examples)
    variable.name = name or "perplexity"
    variable.meta["aggregation_scheme"] = Perplexity(log_likelihood, n_examples)
    return variable
