"""Data streams: a dataset paired with an iteration scheme.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import ShuffledScheme
>>> ds = IndexableDataset({"features": np.arange(8), "targets": np.arange(8) % 2})
>>> stream = DataStream(ds, iteration_scheme=ShuffledScheme(8, 4, rng=0))
>>> stream.num_requests, [len(b[0]) for b in stream.get_epoch_iterator()]
(2, [4, 4])

Exact resume (the protocol the main loop uses)::

    state = {"stream": stream.state_dict(), "iterator": it.state_dict()}
    stream.load_state_dict(state["stream"])
    it = stream.get_epoch_iterator(as_dict=True)
    it.load_state_dict(state["iterator"])
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fuel.iterator import Cursor, DataIterator

if TYPE_CHECKING:  # pragma: no cover
    from fuel.datasets.base import Dataset
    from fuel.schemes import IterationScheme, RequestIterator

__all__ = ["AbstractDataStream", "DataStream"]


class AbstractDataStream(ABC):
    """Base class of streams (datasets with schemes, transformers, remote streams).

    Parameters
    ----------
    iteration_scheme : IterationScheme, optional
        Which requests to make each epoch.
    axis_labels : dict, optional
        ``{source: tuple of axis names}``.
    produces_examples : bool, optional
        Whether the stream yields single examples; default from the scheme
        (``True`` without a scheme).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> s = DataStream(IndexableDataset({"x": [1, 2, 3]}))
    >>> s.produces_examples, s.sources, [d for d, in s.get_epoch_iterator()]
    (True, ('x',), [1, 2, 3])
    """

    def __init__(
        self,
        iteration_scheme: "IterationScheme | None" = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        produces_examples: bool | None = None,
    ):
        self.iteration_scheme = iteration_scheme
        self.axis_labels = dict(axis_labels) if axis_labels is not None else None
        if produces_examples is None:
            produces_examples = iteration_scheme.requests_examples if iteration_scheme is not None else True
        self.produces_examples = bool(produces_examples)
        self._epochs_started = 0

    @property
    @abstractmethod
    def sources(self) -> tuple[str, ...]:
        """Names of the data in every tuple this stream yields."""

    @property
    def num_requests(self) -> int | None:
        """Batches (or examples) per epoch, ``None`` when unknown."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        return None

    @property
    def epoch(self) -> int:
        """Number of epoch iterators started so far (the next epoch's index)."""
        return self._epochs_started

    @abstractmethod
    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """The live state of ``epoch``, at the position ``state`` describes (start if ``None``)."""

    def get_epoch_iterator(self, as_dict: bool = False) -> DataIterator:
        """An iterator over the next epoch."""
        epoch = self._epochs_started
        self._epochs_started += 1
        return DataIterator(self, self.open_cursor(epoch, None), as_dict=as_dict)

    def iterate_epochs(self, as_dict: bool = False) -> Iterator[DataIterator]:
        """Epoch iterators, forever."""
        while True:
            yield self.get_epoch_iterator(as_dict=as_dict)

    def reset(self) -> None:
        """Start over from epoch 0 (Fuel compatibility)."""
        self._epochs_started = 0

    def next_epoch(self) -> None:
        """Skip to the next epoch (Fuel compatibility)."""
        self._epochs_started += 1

    def close(self) -> None:
        """Release resources held by the stream itself."""

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": next epoch to start, "scheme": ...}`` (see the resume protocol)."""
        state: dict[str, Any] = {"epoch": self._epochs_started}
        if self.iteration_scheme is not None:
            state["scheme"] = self.iteration_scheme.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch counter (and the scheme's seed)."""
        if not isinstance(state, Mapping) or "epoch" not in state:
            raise ValueError(f"not a stream state (expected a dict with key 'epoch'), got {state!r:.200}")
        self._epochs_started = int(state["epoch"])
        if self.iteration_scheme is not None and "scheme" in state:
            self.iteration_scheme.load_state_dict(state["scheme"])


class _SchemeCursor(Cursor):
    __slots__ = ("dataset", "data_state", "requests", "epoch")

    def __init__(self, dataset: "Dataset", data_state: Any, requests: "RequestIterator"):
        self.dataset = dataset
        self.data_state = data_state
        self.requests = requests
        self.epoch = requests.epoch

    def next(self) -> tuple[Any, ...]:
        return self.dataset.get_data(self.data_state, next(self.requests))

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.requests.position}

    def close(self) -> None:
        if self.data_state is not None:
            state, self.data_state = self.data_state, None
            self.dataset.close(state)


class _IterableCursor(Cursor):
    __slots__ = ("dataset", "data_state", "position", "epoch")

    def __init__(self, dataset: "Dataset", data_state: Any, epoch: int, position: int):
        self.dataset = dataset
        self.data_state = data_state
        self.epoch = epoch
        self.position = 0
        if position:
            skip = getattr(dataset, "skip", None)
            if skip is not None:
                skip(data_state, position)
            else:
                for _ in range(position):
                    dataset.get_data(data_state)
            self.position = position

    def next(self) -> tuple[Any, ...]:
        data = self.dataset.get_data(self.data_state)
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def close(self) -> None:
        if self.data_state is not None:
            state, self.data_state = self.data_state, None
            self.dataset.close(state)


class DataStream(AbstractDataStream):
    """A dataset paired with an iteration scheme.

    Parameters
    ----------
    dataset : Dataset
        The data.
    iteration_scheme : IterationScheme, optional
        Requests made each epoch; default the dataset's
        ``example_iteration_scheme``; when that is ``None`` too the dataset is
        iterated without requests (``IterableDataset``).
    axis_labels : dict, optional
        Default: the dataset's, without the ``'batch'`` axis for example streams.

    Examples
    --------
    >>> import numpy as np
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> ds = IndexableDataset({"x": np.zeros((4, 2))}, axis_labels={"x": ("batch", "feature")})
    >>> DataStream(ds, iteration_scheme=SequentialScheme(4, 2)).axis_labels
    {'x': ('batch', 'feature')}
    >>> DataStream(ds, iteration_scheme=ds.example_iteration_scheme).axis_labels
    {'x': ('feature',)}
    """

    def __init__(
        self,
        dataset: "Dataset",
        iteration_scheme: "IterationScheme | None" = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        produces_examples: bool | None = None,
    ):
        if iteration_scheme is None:
            iteration_scheme = dataset.example_iteration_scheme
        super().__init__(iteration_scheme, axis_labels, produces_examples)
        self.dataset = dataset
        if self.axis_labels is None and getattr(dataset, "axis_labels", None):
            labels = dict(dataset.axis_labels)
            if self.produces_examples:
                labels = {
                    k: (tuple(v[1:]) if v and v[0] == "batch" else tuple(v)) if v is not None else v
                    for k, v in labels.items()
                }
            self.axis_labels = labels
        self._data_state: Any = None

    @classmethod
    def default_stream(cls, dataset: "Dataset", **kwargs: Any) -> AbstractDataStream:
        """A stream wrapped in the dataset's ``default_transformers``.

        Examples
        --------
        >>> from fuel.datasets import IndexableDataset
        >>> DataStream.default_stream(IndexableDataset([1])).sources
        ('data',)
        """
        return dataset.apply_default_transformers(cls(dataset, **kwargs))

    @property
    def sources(self) -> tuple[str, ...]:
        """The dataset's sources."""
        return tuple(self.dataset.sources)

    @property
    def num_requests(self) -> int | None:
        """Requests per epoch (examples when there is no scheme and the length is known)."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        num = self.dataset.num_examples
        return int(num) if num == num else None

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """Open the dataset and position the requests of ``epoch``."""
        position = int(state.get("position", 0)) if state else 0
        data_state = self.dataset.open()
        if self.iteration_scheme is None:
            return _IterableCursor(self.dataset, data_state, epoch, position)
        return _SchemeCursor(self.dataset, data_state, self.iteration_scheme.get_request_iterator(epoch, position))

    def get_data(self, request: Any = None) -> tuple[Any, ...]:
        """Fuel compatibility: data of one request from a stream-level dataset state."""
        if self._data_state is None:
            self._data_state = self.dataset.open()
        return self.dataset.get_data(self._data_state, request)

    def close(self) -> None:
        """Close the stream-level dataset state, if any."""
        if self._data_state is not None:
            state, self._data_state = self._data_state, None
            self.dataset.close(state)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_data_state"] = None
        return state


def __getattr__(name: str) -> Any:
    if name == "ServerDataStream":
        return importlib.import_module("fuel.server").ServerDataStream
    raise AttributeError(f"module 'fuel.streams' has no attribute {name!r}")
