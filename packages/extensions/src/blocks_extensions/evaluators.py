"""``DatasetEvaluator``: the values of variables over one epoch of a data stream (Blocks' evaluator)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy
import torch

from blocks_extensions.monitoring import _batch_size, _Monitored

__all__ = ["DatasetEvaluator"]


class DatasetEvaluator:
    """Evaluate graph variables and :class:`~blocks_extensions.aggregation.MonitoredQuantity` objects on a stream.

    Each variable is aggregated over the batches by its scheme (see
    :mod:`blocks_extensions.aggregation`; by default a mean over examples),
    without gradients. :class:`~blocks_extensions.monitoring.DataStreamMonitoring`
    does the same inside a main loop.

    Parameters
    ----------
    variables : list of Variable, named tensors or MonitoredQuantity
        What to evaluate; every one needs a unique name (the keys of the result).
    updates : list of (torch.Tensor, Variable), optional
        Tensors assigned the value of a variable after each batch.

    Raises
    ------
    ValueError
        When a variable has no name, or two share one.

    Examples
    --------
    >>> import numpy
    >>> from blocks.graph import vector
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> from fuel.schemes import SequentialScheme
    >>> x = vector("x")
    >>> total = x.sum()
    >>> total.name = "total"
    >>> stream = DataStream(IndexableDataset({"x": numpy.array([1.0, 2.0, 3.0])}),
    ...                     iteration_scheme=SequentialScheme(3, 2))
    >>> DatasetEvaluator([total]).evaluate(stream)
    {'total': 3.0}
    """

    def __init__(self, variables: Sequence[Any], updates: Sequence[tuple[torch.Tensor, Any]] | None = None) -> None:
        self._monitored = _Monitored(variables)
        self.variables = list(self._monitored.items)
        self.updates = list(updates or [])
        self._function: Any = None
        self._inputs: list[str] = []
        self._device: torch.device | None = None

    def _compile(self) -> None:
        if self._function is not None:
            return
        from blocks.graph import ComputationGraph

        outputs = self._monitored.required + [value for _, value in self.updates]
        graph = ComputationGraph(outputs)
        self._function = graph.compile(outputs)
        self._inputs = [variable.name for variable in graph.inputs]
        self._device = graph.parameters[0].device if graph.parameters else None

    def _inputs_of(self, batch: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in self._inputs if name not in batch]
        if missing:
            raise ValueError(
                f"Not all data sources required for monitoring were provided: missing {missing}; "
                f"the stream gives {sorted(batch)}; the list of required data sources: {self._inputs}"
            )
        device = self._device
        values = {name: batch[name] for name in self._inputs}
        if device is not None and device.type != "cpu":
            values = {k: torch.as_tensor(v if isinstance(v, torch.Tensor) else numpy.asarray(v)).to(device)
                      for k, v in values.items()}
        return values

    def initialize_aggregators(self) -> None:
        """Start a new aggregation (:meth:`evaluate` does it)."""
        self._compile()
        self._monitored.initialize()

    def process_batch(self, batch: dict[str, Any]) -> None:
        """Add one batch (a dict of sources; sources the variables do not read are ignored)."""
        self._compile()
        num_required = len(self._monitored.required)
        with torch.no_grad():
            values = self._function(self._inputs_of(batch))
            self._monitored.aggregate(values[:num_required], _batch_size(batch))
            for (tensor, _), value in zip(self.updates, values[num_required:]):
                tensor.copy_(value)

    def get_aggregated_values(self) -> dict[str, Any]:
        """``{name: value}`` of what was aggregated since :meth:`initialize_aggregators`."""
        return self._monitored.readout()

    def evaluate(self, data_stream: Any) -> dict[str, Any]:
        """One epoch of ``data_stream``: ``{name: aggregated value}``."""
        self.initialize_aggregators()
        for batch in data_stream.get_epoch_iterator(as_dict=True):
            self.process_batch(batch)
        if self._monitored.count == 0:
            raise ValueError("the data stream gave an epoch without batches: nothing to evaluate")
        return self.get_aggregated_values()
