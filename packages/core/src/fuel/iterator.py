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


class DataIterator(Iterator[Any]):
    """An iterator over one epoch of a stream.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream.
    cursor : Cursor
        The epoch's live state (from ``data_stream.open_cursor``).
    as_dict : bool
        Yield ``{source: data}`` dicts instead of tuples in ``sources`` order.

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
    """

    def __init__(self, data_stream: "AbstractDataStream", cursor: Cursor, as_dict: bool = False):
        self.data_stream = data_stream
        self.cursor = cursor
        self.as_dict = bool(as_dict)
        self.sources = tuple(data_stream.sources)
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
