"""Monitoring extensions: values of graph variables on training batches and on other streams."""

from __future__ import annotations

import logging
import operator
from typing import Any, Iterable, Sequence

import numpy
import torch

from blocks.extensions import CallbackName, SimpleExtension, TrainingExtension
from blocks.filter import get_name
from blocks.graph import as_variable
from blocks_extensions.aggregation import Aggregator, MonitoredQuantity, get_aggregation_scheme

__all__ = ["DataStreamMonitoring", "MonitoringExtension", "TrainingDataMonitoring"]

logger = logging.getLogger(__name__)


def _key(obj: Any) -> int:
    return id(getattr(obj, "node", obj))


def _name(obj: Any) -> str | None:
    name = obj.name if isinstance(obj, MonitoredQuantity) else get_name(obj)
    if name is None and not isinstance(obj, torch.Tensor):
        name = getattr(obj, "name", None)  # algorithm quantities (total_gradient_norm)
    return name if isinstance(name, str) and name else None


def _batch_size(batch: Any) -> int:
    for value in batch.values():
        shape = getattr(value, "shape", None)
        if shape is not None:
            return int(shape[0]) if len(shape) else 1
        return len(value)
    return 1


def _examples(batch: Any) -> int:
    """Examples in a batch under data parallelism: the rule the gradients are weighted by."""
    from blocks import distributed

    return distributed.count_examples(batch)


def _log_value(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.numel() == 1:
            return value.item()
        return value.cpu().numpy()
    if isinstance(value, numpy.ndarray) and value.size == 1:
        return value.item()
    return value


class _Monitored:
    """The monitored items of an extension: their schemes, aggregators and required variables."""

    def __init__(self, items: Iterable[Any]) -> None:
        # a named tensor (a parameter, a shared_floatx value) is monitored as the graph node standing for it
        self.items = [as_variable(item) if isinstance(item, torch.Tensor) else item for item in items]
        if not self.items:
            raise ValueError("nothing to monitor: give a non-empty list of variables or MonitoredQuantity objects")
        names = []
        self.required: list[Any] = []
        self._positions: dict[int, int] = {}
        self.schemes: list[tuple[str, Any, list[int]]] = []
        self.quantities: list[tuple[MonitoredQuantity, list[int]]] = []
        for item in self.items:
            name = _name(item)
            if name is None:
                raise ValueError(
                    f"monitored variables must have names; {item!r} has no name: set variable.name = '...'"
                )
            names.append(name)
            if isinstance(item, MonitoredQuantity):
                self.quantities.append((item, [self._require(v) for v in item.requires]))
            else:
                scheme = get_aggregation_scheme(item)
                self.schemes.append((name, scheme, [self._require(v) for v in scheme.requires]))
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"monitored names must be unique, repeated: {duplicates}")
        self.aggregators: list[Aggregator] = [scheme.get_aggregator() for _, scheme, _ in self.schemes]
        # the per-batch path: one call per aggregator; its values picked by index or by one itemgetter call
        self._calls = [
            (aggregator.aggregate, positions[0], None) if len(positions) == 1
            else (aggregator.aggregate, 0, operator.itemgetter(*positions) if positions else (lambda values: ()))
            for aggregator, (_, _, positions) in zip(self.aggregators, self.schemes)
        ]
        for quantity, _ in self.quantities:  # ready for the first batch, as the aggregators are
            quantity.initialize()
        self.count = 0
        self.examples = 0  # examples aggregated by the MonitoredQuantity objects (their data-parallel weight)

    def _require(self, variable: Any) -> int:
        key = _key(variable)
        if key not in self._positions:
            self._positions[key] = len(self.required)
            self.required.append(variable)
        return self._positions[key]

    def initialize(self) -> None:
        for aggregator in self.aggregators:
            aggregator.initialize()
        for quantity, _ in self.quantities:
            quantity.initialize()
        self.count = 0
        self.examples = 0

    def aggregate(self, values: Sequence[Any], batch_size: int) -> None:
        for aggregate, position, getter in self._calls:
            aggregate((values[position],) if getter is None else getter(values), batch_size)
        if self.quantities:
            for quantity, positions in self.quantities:
                quantity.aggregate(*(_to_numpy(values[i]) for i in positions))
            self.examples += batch_size
        self.count += 1

    def check_across_ranks(self) -> None:
        """Raise unless every item says how the ranks of a data-parallel run combine."""
        for aggregator, (name, scheme, _) in zip(self.aggregators, self.schemes):
            if not aggregator.can_merge():
                raise ValueError(
                    f"cannot monitor {name!r} under torch.distributed: its aggregation scheme "
                    f"{type(scheme).__name__} does not say how the ranks combine (implement its aggregator's "
                    "merge_states)"
                )
        for quantity, _ in self.quantities:
            if quantity.rank_reduction not in _RANK_REDUCTIONS:
                raise ValueError(
                    f"cannot monitor the MonitoredQuantity {quantity.name!r} under torch.distributed: set its "
                    f"rank_reduction to one of {sorted(_RANK_REDUCTIONS)} (how the ranks' values combine; got "
                    f"{quantity.rank_reduction!r})"
                )

    def merged_states(self) -> list[dict[str, Any]]:
        """Every aggregator's state merged over the ranks (a collective: every rank calls it)."""
        from blocks import distributed

        gathered = distributed.all_gather_state([aggregator.state_dict() for aggregator in self.aggregators])
        return [aggregator.merge_states([states[i] for states in gathered])
                for i, aggregator in enumerate(self.aggregators)]

    def readout(self, across_ranks: bool = False) -> dict[str, Any]:
        """The aggregated values; ``across_ranks``: of every rank together (a collective)."""
        if across_ranks:
            return self._readout_across_ranks()
        result = {}
        for aggregator, (name, _, _) in zip(self.aggregators, self.schemes):
            value = aggregator.readout()
            if value is not None:
                result[name] = _log_value(value)
        for quantity, _ in self.quantities:
            result[quantity.name] = _log_value(quantity.get_aggregated_value())
        return result

    def _readout_across_ranks(self) -> dict[str, Any]:
        from blocks import distributed

        self.check_across_ranks()
        local = {
            "aggregators": [aggregator.state_dict() for aggregator in self.aggregators],
            "quantities": [_quantity_value(quantity) for quantity, _ in self.quantities],
            "examples": self.examples,
        }
        gathered = distributed.all_gather_state(local)
        result = {}
        for i, (aggregator, (name, scheme, _)) in enumerate(zip(self.aggregators, self.schemes)):
            merged = scheme.get_aggregator()
            merged.load_state_dict(aggregator.merge_states([states["aggregators"][i] for states in gathered]))
            value = merged.readout()
            if value is not None:
                result[name] = _log_value(value)
        for i, (quantity, _) in enumerate(self.quantities):
            values = [states["quantities"][i] for states in gathered]
            result[quantity.name] = _log_value(
                _combine_quantity(quantity, values, [states["examples"] for states in gathered]))
        return result


_RANK_REDUCTIONS = {"mean", "sum", "min", "max"}


def _quantity_value(quantity: MonitoredQuantity) -> torch.Tensor:
    value = quantity.get_aggregated_value()
    array = numpy.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"the MonitoredQuantity {quantity.name!r} gives a {array.dtype} value: only numbers combine "
                         "across the ranks of a data-parallel run")
    return torch.from_numpy(numpy.ascontiguousarray(array))


def _combine_quantity(quantity: MonitoredQuantity, values: list[torch.Tensor], examples: list[int]) -> torch.Tensor:
    reduction = quantity.rank_reduction
    if reduction == "mean":
        if not sum(examples):
            raise ValueError(f"the MonitoredQuantity {quantity.name!r} aggregated no example on any rank")
        total = sum(v.to(torch.float64) * n for v, n in zip(values, examples) if n)
        return total / sum(examples)  # type: ignore[operator]
    result = values[0]
    for value in values[1:]:
        if reduction == "sum":
            result = result + value
        else:
            result = torch.minimum(result, value) if reduction == "min" else torch.maximum(result, value)
    return result


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return numpy.asarray(value)


class MonitoringExtension(TrainingExtension):
    """Base (a mixin, as in Blocks) of monitoring extensions: record names are ``prefix_name_suffix``.

    Parameters
    ----------
    prefix, suffix : str, optional
        Joined to each monitored name with :attr:`SEPARATOR` (``_``).
    **kwargs
        Passed on (a ``name``; triggers when mixed with
        :class:`~blocks.extensions.SimpleExtension`).

    Examples
    --------
    >>> class Constant(MonitoringExtension, SimpleExtension):
    ...     def do(self, which_callback, *args):
    ...         self.add_records(self.main_loop.log, {"one": 1.0}.items())
    >>> Constant(prefix="valid", after_epoch=True).record_name("one")
    'valid_one'
    """

    SEPARATOR = "_"
    reads_device = True  # monitored values are read from the device: the main loop's non-finite guard checks then

    def __init__(self, prefix: str | None = None, suffix: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.suffix = suffix

    def _record_name(self, name: str) -> str:
        """The record of a monitored name (Blocks' spelling)."""
        if not isinstance(name, str):
            raise ValueError("record name must be a string")
        return self.SEPARATOR.join(part for part in (self.prefix, name, self.suffix) if part)

    def record_name(self, variable: Any) -> str:
        """The log record of a variable (or of a name)."""
        return self._record_name(variable if isinstance(variable, str) else _name(variable))

    def add_records(self, log: Any, record_tuples: Iterable[tuple[str, Any]]) -> None:
        """Write ``(name, value)`` pairs to the current row under their record names.

        In a multi-process (torch.distributed) run, numeric values are
        averaged across ranks first, unweighted, in one collective, so every
        rank logs the same figures: give values that are the same on every
        rank, or that stand for the same number of examples on each.
        :class:`TrainingDataMonitoring` and :class:`DataStreamMonitoring` do
        not go through this average: they merge the ranks' exact counts and
        float64 sums (see :mod:`blocks_extensions.aggregation`).
        """
        record_tuples = list(record_tuples)
        for name, _ in record_tuples:
            if not name:
                raise ValueError("a monitored value without a name: name every monitored variable")
        from blocks import distributed

        if distributed.is_distributed():
            record_tuples = _averaged_across_ranks(record_tuples)
        self._write_records(log, record_tuples)

    def _write_records(self, log: Any, record_tuples: Iterable[tuple[str, Any]]) -> None:
        row = log.current_row
        for name, value in record_tuples:
            row[self._record_name(name)] = value


def _averaged_across_ranks(record_tuples: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    from blocks import distributed

    numeric = {}
    for index, (_, value) in enumerate(record_tuples):
        array = numpy.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
        if array.dtype.kind in "biuf":
            numeric[str(index)] = torch.as_tensor(array, dtype=torch.float64)
    averaged = distributed.all_reduce_mean(numeric)
    out = []
    for index, (name, value) in enumerate(record_tuples):
        if str(index) in averaged:
            mean = averaged[str(index)]
            value = mean.item() if mean.dim() == 0 else mean.numpy()
        out.append((name, value))
    return out


def _is_sharded(stream: Any) -> bool:
    """Whether a :class:`fuel.schemes.ShardedScheme` cuts ``stream``'s batches (looking through transformers)."""
    from fuel.schemes import ShardedScheme

    seen: set[int] = set()
    while stream is not None and id(stream) not in seen:
        seen.add(id(stream))
        scheme = getattr(stream, "iteration_scheme", None)
        while scheme is not None:
            if isinstance(scheme, ShardedScheme):
                return True
            scheme = getattr(scheme, "scheme", None)
        stream = getattr(stream, "data_stream", None)
    return False


class DataStreamMonitoring(MonitoringExtension, SimpleExtension):
    """Evaluate variables over one epoch of a data stream (e.g. validation).

    The variables are compiled with ``ComputationGraph(...).compile()`` in
    ``before_training`` (or ``on_resumption``), never in the constructor, and
    evaluated without gradients. Each variable is aggregated by its scheme
    (see :mod:`blocks_extensions.aggregation`); :class:`MonitoredQuantity`
    objects get NumPy values.

    Under torch.distributed, a stream cut by a
    :class:`fuel.schemes.ShardedScheme` (``blocks.distributed.shard_scheme``)
    is evaluated a shard per rank and the ranks' aggregates are merged
    exactly (weighted by examples); any other stream is evaluated whole by
    every rank, which then logs its own (the same) values.

    Parameters
    ----------
    variables : list of Variable or MonitoredQuantity
        What to evaluate; names must be unique.
    data_stream : fuel.streams.AbstractDataStream
        The stream to evaluate on (one epoch per evaluation).
    updates : list of (torch.Tensor, Variable), optional
        Buffers to assign after each batch (e.g. population statistics).
    prefix, suffix : str, optional
        Record-name parts.
    **kwargs
        Triggers; by default ``before_first_epoch`` and ``after_epoch``.

    Examples
    --------
    >>> import numpy
    >>> from blocks.graph import vector
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> from fuel.schemes import SequentialScheme
    >>> x = vector("x")
    >>> square = (x ** 2).mean()
    >>> square.name = "square"
    >>> stream = DataStream(IndexableDataset({"x": numpy.array([1.0, 2.0, 3.0])}),
    ...                     iteration_scheme=SequentialScheme(3, 2))
    >>> monitor = DataStreamMonitoring([square], stream, prefix="valid")
    >>> monitor.evaluate()
    {'square': 4.666666666666667}
    """

    def __init__(
        self,
        variables: Sequence[Any],
        data_stream: Any,
        updates: Sequence[tuple[torch.Tensor, Any]] | None = None,
        prefix: str | None = None,
        suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("before_first_epoch", True)
        kwargs.setdefault("after_epoch", True)
        super().__init__(prefix=prefix, suffix=suffix, **kwargs)
        self.variables = list(variables)
        self.data_stream = data_stream
        self.updates = list(updates or [])
        self._monitored = _Monitored(self.variables)
        self._function: Any = None
        self._device: torch.device | None = None
        self._across_ranks = False

    def compile(self) -> None:
        """Compile the evaluation function (done once, before training)."""
        if self._function is not None:
            return
        from blocks.graph import ComputationGraph

        required = self._monitored.required
        update_values = [value for _, value in self.updates]
        outputs = required + update_values
        try:
            graph = ComputationGraph(outputs)
        except (TypeError, AttributeError) as err:
            raise ValueError(f"DataStreamMonitoring can only monitor graph variables: {err}") from None
        self._function = graph.compile(outputs)
        self._device = graph.parameters[0].device if graph.parameters else None
        from blocks import distributed

        self._across_ranks = distributed.is_distributed() and _is_sharded(self.data_stream)
        if self._across_ranks:
            self._monitored.check_across_ranks()

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if callback_invoked in ("before_training", "on_resumption"):
            self.compile()
        super().dispatch(callback_invoked, *from_main_loop)

    def responds_to(self, callback_name: str) -> bool:
        return callback_name in ("before_training", "on_resumption") or super().responds_to(callback_name)

    def evaluate(self) -> dict[str, Any]:
        """One epoch of the stream: ``{name: aggregated value}``."""
        self.compile()
        monitored = self._monitored
        monitored.initialize()
        num_required = len(monitored.required)
        device = self._device
        count = _examples if self._across_ranks else _batch_size
        with torch.no_grad():
            for batch in self.data_stream.get_epoch_iterator(as_dict=True):
                if device is not None and device.type != "cpu":
                    batch = {
                        k: torch.as_tensor(numpy.asarray(v) if not isinstance(v, torch.Tensor) else v).to(device)
                        for k, v in batch.items()
                    }
                values = self._function(batch)
                monitored.aggregate(values[:num_required], count(batch))
                for (buffer, _), value in zip(self.updates, values[num_required:]):
                    buffer.copy_(value)
        if monitored.count == 0:
            raise ValueError("DataStreamMonitoring's stream gave an epoch without batches")
        return monitored.readout(across_ranks=self._across_ranks)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        values = self.evaluate()
        logger.debug("monitoring on %s: %s", self.prefix or "data stream", values)
        self._write_records(self.main_loop.log, values.items())

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if hasattr(self.data_stream, "state_dict"):
            state["data_stream"] = self.data_stream.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if "data_stream" in state and hasattr(self.data_stream, "load_state_dict"):
            self.data_stream.load_state_dict(state["data_stream"])


class TrainingDataMonitoring(MonitoringExtension, SimpleExtension):
    """Monitor variables on the training batches, computed in the training forward pass.

    Before training (or on resumption) the required variables are given to
    ``algorithm.add_monitored``; after every batch their values (computed
    before the update) are taken from ``algorithm.monitored_values`` and
    aggregated on the device, with no host sync. Aggregates are written to
    the log when a trigger fires, then reset. Besides graph variables, the
    algorithm's ``total_gradient_norm`` / ``total_step_norm`` objects work.

    Under torch.distributed every rank aggregates its shard of each batch,
    weighted by its examples (:func:`blocks.distributed.count_examples`), and
    the ranks' aggregates are merged exactly when records are written, so
    the log holds what one process would on the global batches. A
    checkpoint stores the merged aggregates of an unfinished period (on rank
    0 once resumed), so resuming under any number of ranks continues them.

    Parameters
    ----------
    variables : list
        Named variables (or MonitoredQuantity, which costs a host sync per batch).
    prefix, suffix : str, optional
        Record-name parts.
    **kwargs
        Triggers for writing records; ``after_epoch`` when none is given.

    Examples
    --------
    >>> from blocks.graph import vector
    >>> x = vector("x")
    >>> cost = x.mean()
    >>> cost.name = "cost"
    >>> monitor = TrainingDataMonitoring([cost], prefix="train", every_n_batches=100)
    >>> monitor.responds_to("after_batch"), monitor.record_name("cost")
    (True, 'train_cost')
    """

    def __init__(
        self, variables: Sequence[Any], prefix: str | None = None, suffix: str | None = None, **kwargs: Any
    ) -> None:
        if not any(value for key, value in kwargs.items() if key != "name"):
            kwargs["after_epoch"] = True
        super().__init__(prefix=prefix, suffix=suffix, **kwargs)
        self.variables = list(variables)
        self._monitored = _Monitored(self.variables)
        required_names = [_name(v) for v in self._monitored.required]
        if None in required_names:
            unnamed = [v for v in self._monitored.required if _name(v) is None]
            raise ValueError(f"TrainingDataMonitoring needs every required variable named; unnamed: {unnamed}")
        repeated = sorted({n for n in required_names if required_names.count(n) > 1})
        if repeated:
            raise ValueError(f"different monitored variables share the name(s) {repeated}: rename them")
        self._required_names: list[str] = required_names  # type: ignore[assignment]
        # monitored_values -> the required values in order, in one C call
        getter = operator.itemgetter(*required_names)
        self._get_required = getter if len(required_names) > 1 else (lambda values: (getter(values),))
        self._algorithm: Any = None
        self._across_ranks = False
        self._count = _batch_size

    def _setup(self) -> None:
        algorithm = self.main_loop.algorithm
        if self._algorithm is algorithm:
            return
        if not hasattr(algorithm, "add_monitored"):
            raise ValueError(
                f"TrainingDataMonitoring needs an algorithm with add_monitored/monitored_values (e.g. "
                f"GradientDescent), got {type(algorithm).__name__}"
            )
        algorithm.add_monitored(self._monitored.required)
        self._algorithm = algorithm
        from blocks import distributed

        self._across_ranks = distributed.is_distributed()
        if self._across_ranks:
            self._monitored.check_across_ranks()
            self._count = _examples

    def responds_to(self, callback_name: str) -> bool:
        return callback_name in ("before_training", "on_resumption", "after_batch") or super().responds_to(
            callback_name
        )

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if callback_invoked == "after_batch":
            values = self._get_required(self._algorithm.monitored_values)
            self._monitored.aggregate(values, self._count(from_main_loop[0]))
            if not super().responds_to("after_batch"):  # no trigger of its own on batches: nothing more to do
                return
        elif callback_invoked in ("before_training", "on_resumption"):
            self._setup()
        super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        if self._monitored.count == 0:
            return
        values = self._monitored.readout(across_ranks=self._across_ranks)
        self._monitored.initialize()
        self._write_records(self.main_loop.log, values.items())

    def state_dict(self) -> dict[str, Any]:
        """Trigger state, batches counted and the partial aggregates of the period in progress.

        In a checkpoint every rank takes part in (see
        :func:`blocks.distributed.collective_state_dict`), the aggregates of
        all ranks, merged; otherwise this process's own.
        """
        from blocks import distributed

        state = super().state_dict()
        state["count"] = self._monitored.count
        if distributed.is_state_dict_collective():
            state["aggregators"] = self._monitored.merged_states()
        else:
            state["aggregators"] = [aggregator.state_dict() for aggregator in self._monitored.aggregators]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        saved = state.get("aggregators", [])
        if len(saved) != len(self._monitored.aggregators):
            raise ValueError(
                f"saved TrainingDataMonitoring state has {len(saved)} aggregators, this one monitors "
                f"{len(self._monitored.aggregators)}: monitor the same variables to resume"
            )
        from blocks import distributed

        # saved aggregates stand for every rank's batches: one rank holds them, the others start empty
        keep = distributed.rank() == 0
        for aggregator, aggregator_state in zip(self._monitored.aggregators, saved):
            aggregator.load_state_dict(aggregator_state if keep else {})
        self._monitored.count = int(state.get("count", 0))
