"""Epoch iterators and the cursors behind them.

A *cursor* is the live state of one epoch of one stream: it produces the next
tuple of data and can describe its position as a small ``state_dict``. Every
epoch iterator owns its own chain of cursors (one per stream in a pipeline),
so two iterators over the same stream never interfere (fuel#106).

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(5)}), iteration_scheme=SequentialScheme(5, 2))
>>> it = stream.get_epoch_iterator(as_dict=True)
>>> next(it)["x"].tolist()
[0, 1]
>>> saved = it.state_dict()
>>> it2 = stream.get_epoch_iterator(as_dict=True); it2.load_state_dict(saved)
>>> next(it2)["x"].tolist()
[2, 3]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fuel.streams import AbstractDataStream

__all__ = ["Cursor", "DataIterator"]


class Cursor(ABC):
    """The live state of one epoch of one stream.

    Attributes
    ----------
    epoch : int
        The epoch being iterated.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> cursor = DataStream(IndexableDataset([5, 6])).open_cursor(epoch=0)
    >>> cursor.next(), cursor.state_dict()
    ((5,), {'position': 1})
    """

    epoch: int = 0

    @abstractmethod
    def next(self) -> tuple[Any, ...]:
        """The next tuple of data; raises ``StopIteration`` at the end of the epoch."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The position inside the epoch (JSON-able values and arrays)."""

    def seek(self, position: int) -> None:
        """Make item ``position`` of this epoch the next one, without reading the items between (O(1)).

        Only cursors of *seekable* streams (``stream.seekable``) can seek:
        a pool of workers computes items ``k, k + N, ...`` of an epoch in
        worker ``k`` this way. A position past the end of the epoch makes
        the next :meth:`next` raise ``StopIteration``.
        """
        raise NotImplementedError(
            f"a {type(self).__name__} cannot seek: its stream computes items in order (stream.seekable is False)"
        )

    def close(self) -> None:
        """Release resources (files, processes, sockets)."""


class _RequestCursor(Cursor):
    """Fuel's ``DataIterator(data_stream, request_iterator)``: ``data_stream.get_data(request)`` per request.

    Building one starts an epoch of the stream, as Fuel's ``get_epoch_iterator`` did.
    """

    __slots__ = ("stream", "requests", "epoch", "position")

    def __init__(self, stream: Any, requests: Any):
        self.stream = stream
        self.requests = None if requests is None else iter(requests)
        self.position = 0
        self.epoch = 0
        state = getattr(stream, "__dict__", {})
        if state.get("_fuel_building") is not None:  # re-opened for a resume: the stream says which epoch
            self.epoch = int(state["_fuel_building"])
        elif isinstance(state.get("_epochs_started"), int):
            self.epoch = state["_epochs_started"]
            stream._epochs_started = self.epoch + 1

    def next(self) -> tuple[Any, ...]:
        stream = self.stream
        if stream is None:
            raise ValueError("this DataIterator was built without a data stream (DataIterator(None)); it has no data")
        data = stream.get_data() if self.requests is None else stream.get_data(next(self.requests))
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}


class DataIterator(Iterator[Any]):
    """An iterator over one epoch of a stream.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream.
    cursor : Cursor, iterator or None
        The epoch's live state (from ``data_stream.open_cursor``). Fuel's
        call ``DataIterator(data_stream, request_iterator=None)`` works too:
        an iterator of requests (or ``None``) makes an iterator that calls
        ``data_stream.get_data(request)`` (or ``get_data()``) for each one,
        starting a new epoch of the stream.
    as_dict : bool
        Yield ``{source: data}`` dicts instead of tuples in ``sources`` order.
    request_iterator : iterator, optional
        Fuel's name for the requests (instead of ``cursor``).

    Notes
    -----
    ``state_dict()`` is ``{"epoch": e, "cursor": {...}}``; ``load_state_dict``
    re-creates the cursors at that position of that epoch (O(1) index
    arithmetic for schemes) and sets the stream's epoch counter so that the
    next ``get_epoch_iterator()`` starts epoch ``e + 1``.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> list(DataStream(IndexableDataset({"a": [1, 2]})).get_epoch_iterator(as_dict=True))
    [{'a': 1}, {'a': 2}]
    >>> stream = DataStream(IndexableDataset({"a": [5, 6, 7]}))
    >>> list(DataIterator(stream, iter([2, 0])))               # Fuel's call: the requests themselves
    [(7,), (5,)]
    """

    def __init__(
        self, data_stream: "AbstractDataStream", cursor: Any = None, as_dict: bool = False, request_iterator: Any = None
    ):
        if not isinstance(cursor, Cursor):
            if cursor is not None and request_iterator is not None:
                raise ValueError("DataIterator takes a cursor or Fuel's request_iterator, not both")
            cursor = _RequestCursor(data_stream, cursor if cursor is not None else request_iterator)
        elif request_iterator is not None:
            raise ValueError("DataIterator takes a cursor or Fuel's request_iterator, not both")
        self.data_stream = data_stream
        self.cursor = cursor
        self.as_dict = bool(as_dict)
        self.sources = tuple(data_stream.sources) if data_stream is not None else ()
        self.position = 0
        self._finished = False

    @property
    def epoch(self) -> int:
        """The epoch this iterator walks through."""
        return self.cursor.epoch

    def __iter__(self) -> "DataIterator":
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        try:
            data = self.cursor.next()
        except StopIteration:
            self._finished = True
            self.cursor.close()
            raise
        self.position += 1
        if self.as_dict:
            return dict(zip(self.sources, data))
        return data

    def close(self) -> None:
        """Stop the epoch early and release the cursors' resources."""
        self._finished = True
        self.cursor.close()

    def __del__(self) -> None:
        cursor = self.__dict__.get("cursor")
        if cursor is not None:
            try:
                cursor.close()
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": e, "position": batches yielded, "finished": bool, "cursor": {...}}``."""
        return {
            "epoch": self.cursor.epoch,
            "position": self.position,
            "finished": self._finished,
            "cursor": self.cursor.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue at the saved position of the saved epoch (O(1))."""
        try:
            epoch = int(state["epoch"])
            cursor_state = state["cursor"]
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"not an epoch iterator state (expected keys 'epoch' and 'cursor'), got {state!r:.200}"
            ) from err
        self.cursor.close()
        self.cursor = self.data_stream.open_cursor(epoch, cursor_state)
        self.position = int(state.get("position", 0))
        self._finished = bool(state.get("finished", False))
        self.data_stream._epochs_started = epoch + 1
