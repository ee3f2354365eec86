"""PyTorch interop: Fuel streams as torch datasets, torch datasets as Fuel datasets.

This is the only module of :mod:`fuel` that imports torch.

Examples
--------
>>> import numpy as np
>>> import torch
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(4.0)}), iteration_scheme=SequentialScheme(4, 2))
>>> [b["x"].tolist() for b in torch.utils.data.DataLoader(StreamDataset(stream), batch_size=None)]
[[0.0, 1.0], [2.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.utils.data

from fuel.datasets.base import Dataset
from fuel.schemes import SequentialExampleScheme, request_iterator
from fuel.streams import AbstractDataStream, DataStream
from fuel.transformers.background import check_worker_safe

__all__ = ["StreamDataset", "TorchMapDataset", "to_tensor"]


def to_tensor(value: Any) -> Any:
    """A numeric numpy array (or scalar) as a tensor sharing its memory; anything else unchanged.

    Examples
    --------
    >>> to_tensor(np.arange(3)).tolist(), to_tensor(["a"])
    ([0, 1, 2], ['a'])
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.dtype.isnative:
        if not value.flags.writeable:
            value = value.copy()
        return torch.from_numpy(value)
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return torch.as_tensor(value.item())
    return value


class StreamDataset(torch.utils.data.IterableDataset):
    """A Fuel stream as a ``torch.utils.data.IterableDataset`` (one epoch per ``iter``).

    Use it with ``DataLoader(..., batch_size=None)`` since the stream
    already batches. With ``num_workers > 0`` each worker takes every
    ``num_workers``-th request of a :class:`~fuel.streams.DataStream` (other
    streams need ``num_workers=0``; use
    :class:`~fuel.transformers.MultiProcessing` for background loading).
    Call :meth:`set_epoch` before each epoch when workers are used (their copy
    of the stream does not see the main process's epoch counter).

    Parameters
    ----------
    stream : AbstractDataStream
        The stream.
    as_dict : bool
        Yield ``{source: tensor}`` (default) or tuples.
    to_tensors : bool
        Convert numeric numpy arrays to tensors (zero-copy when possible).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> ds = StreamDataset(DataStream(IndexableDataset({"x": np.arange(3)})), as_dict=False)
    >>> [int(x) for x, in ds]
    [0, 1, 2]
    """

    def __init__(self, stream: AbstractDataStream, as_dict: bool = True, to_tensors: bool = True):
        super().__init__()
        if not isinstance(stream, AbstractDataStream):
            raise ValueError(f"StreamDataset wraps a Fuel stream, got {type(stream).__name__}")
        self.stream = stream
        self.as_dict = bool(as_dict)
        self.to_tensors = bool(to_tensors)
        self._epoch: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter`` produce ``epoch``."""
        self._epoch = int(epoch)

    def __len__(self) -> int:
        count = self.stream.num_requests
        if count is None:
            raise TypeError("the stream's number of requests per epoch is unknown")
        return int(count)

    def _convert(self, data: tuple[Any, ...]) -> Any:
        if self.to_tensors:
            data = tuple(to_tensor(d) for d in data)
        if self.as_dict:
            return dict(zip(self.stream.sources, data))
        return data

    def __iter__(self) -> Iterator[Any]:
        stream = self.stream
        if self._epoch is not None:
            stream._epochs_started = self._epoch
            self._epoch += 1
        info = torch.utils.data.get_worker_info()
        if info is not None:  # a copy of the stream in a worker process: it must not need the main process's state
            check_worker_safe(stream)
        if info is None or info.num_workers == 1:
            for data in stream.get_epoch_iterator():
                yield self._convert(data)
            return
        if not isinstance(stream, DataStream) or stream.iteration_scheme is None or stream.sequential:
            raise ValueError(
                "with DataLoader(num_workers > 1) StreamDataset needs a DataStream with an iteration scheme "
                "whose dataset and scheme keep no state between requests (requests are dealt round-robin to the "
                "workers); use num_workers=0, or MultiProcessing"
            )
        epoch = stream._epochs_started
        stream._epochs_started += 1
        dataset = stream.dataset
        state = dataset.open()
        try:
            requests = request_iterator(stream.iteration_scheme, epoch)
            for index, request in enumerate(requests):
                if index % info.num_workers == info.id:
                    yield self._convert(dataset.get_data(state, request))
        finally:
            dataset.close(state)


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def _stack(values: list[Any]) -> Any:
    values = [_to_numpy(v) for v in values]
    try:
        return np.stack([np.asarray(v) for v in values])
    except (ValueError, TypeError):
        out = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            out[i] = value
        return out


class TorchMapDataset(Dataset):
    """A map-style ``torch.utils.data.Dataset`` as a Fuel dataset.

    Items may be tuples (sources named ``sources`` or
    ``('features', 'targets')`` for pairs, else ``data_0, data_1, ...``), dicts
    (sources are the keys) or single values (source ``'data'``). Batches are
    stacked into numpy arrays (ragged items give object arrays).

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A map-style dataset with ``__len__``.
    sources : sequence of str, optional
        Names of the tuple elements of an item.

    Examples
    --------
    >>> tds = torch.utils.data.TensorDataset(torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 0]))
    >>> fds = TorchMapDataset(tds)
    >>> fds.sources, fds.get_data(None, [2, 0])[1].tolist()
    (('features', 'targets'), [0, 0])
    """

    def __init__(self, dataset: Any, sources: Sequence[str] | None = None, **kwargs: Any):
        try:
            length = len(dataset)
        except TypeError as err:
            raise ValueError("TorchMapDataset needs a map-style dataset with __len__") from err
        if length == 0:
            raise ValueError("TorchMapDataset needs a non-empty dataset")
        self.dataset = dataset
        self._length = length
        first = dataset[0]
        if isinstance(first, dict):
            self._keys: tuple[Any, ...] | None = tuple(first)
            names = tuple(str(k) for k in first)
        elif isinstance(first, (tuple, list)):
            self._keys = None
            if sources is not None:
                names = tuple(sources)
            elif len(first) == 2:
                names = ("features", "targets")
            else:
                names = tuple(f"data_{i}" for i in range(len(first)))
            if len(names) != len(first):
                raise ValueError(f"items have {len(first)} elements but {len(names)} source names were given")
        else:
            self._keys = ()
            names = tuple(sources) if sources is not None else ("data",)
        self._single = isinstance(self._keys, tuple) and self._keys == ()
        self.provides_sources = names
        super().__init__(**kwargs)
        self._take = tuple(i for i, s in enumerate(names) if s in self.sources)

    @property
    def num_examples(self) -> int:
        """``len(dataset)``."""
        return self._length

    @property
    def example_iteration_scheme(self) -> SequentialExampleScheme:
        """Sequential single examples."""
        return SequentialExampleScheme(self._length)

    def _item(self, index: int) -> tuple[Any, ...]:
        if not 0 <= index < self._length:
            raise ValueError(f"index {index} is out of range for {self._length} examples")
        item = self.dataset[index]
        if self._single:
            return (item,)
        if self._keys:
            return tuple(item[k] for k in self._keys)
        return tuple(item)

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """One item (int request) or a stacked batch (slice or indices)."""
        if request is None:
            raise ValueError("TorchMapDataset needs a request (int, slice or indices)")
        if isinstance(request, (int, np.integer)):
            item = self._item(int(request))
            return tuple(_to_numpy(item[i]) for i in self._take)
        indices = range(self._length)[request] if isinstance(request, slice) else np.asarray(request).tolist()
        items = [self._item(int(i)) for i in indices]
        return tuple(_stack([item[i] for item in items]) for i in self._take)
