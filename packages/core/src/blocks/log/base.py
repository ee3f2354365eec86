"""The interface every training-log backend implements."""

from __future__ import annotations

import uuid as uuid_module
from abc import ABC, abstractmethod
from collections.abc import Iterator, MutableMapping
from typing import Any

__all__ = ["TrainingLogBase", "default_status", "jsonable_value"]


def default_status() -> dict[str, Any]:
    """The main loop's status fields with their initial values (Blocks' names).

    Examples
    --------
    >>> default_status()["iterations_done"]
    0
    """
    return {
        "iterations_done": 0,
        "epochs_done": 0,
        "_epoch_ends": [],
        "resumed_from": None,
        "training_started": False,
        "epoch_started": False,
        "received_first_batch": False,
        "epoch_interrupt_received": False,
        "batch_interrupt_received": False,
    }


def jsonable_value(value: Any, where: str = "value") -> Any:
    """Return ``value`` as JSON-able data, keeping tensors and arrays as leaves.

    NumPy scalars and 0-d arrays become Python numbers; tuples become lists.

    Raises
    ------
    ValueError
        For objects that are neither JSON-able nor arrays/tensors.

    Examples
    --------
    >>> import numpy
    >>> jsonable_value(numpy.float32(0.5))
    0.5
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    module = type(value).__module__
    if module == "numpy":
        if getattr(value, "ndim", 1) == 0:
            return value.item()
        return value
    if module.startswith("torch"):
        return value
    raise ValueError(
        f"{where} of type {type(value).__name__} cannot be stored in a state dict: use numbers, strings, "
        "bools, None, lists, dicts, numpy arrays or torch tensors"
    )


class TrainingLogBase(ABC):
    """Rows indexed by iteration number plus the main loop's ``status``.

    ``log[t]`` is the row of iteration ``t`` (a mutable mapping, created on
    first access), ``log.current_row`` the row of ``status["iterations_done"]``
    and ``log.previous_row`` the one before. Assign values (``row[key] =
    value``); mutating a stored object in place is not guaranteed to persist.

    Parameters
    ----------
    uuid : str, optional
        Identifier of this run (hex). A fresh one by default.

    Examples
    --------
    >>> from blocks.log import TrainingLog
    >>> log = TrainingLog()
    >>> log.status["iterations_done"] = 3
    >>> log.current_row["cost"] = 0.25
    >>> log[3]
    {'cost': 0.25}
    """

    def __init__(self, uuid: str | None = None) -> None:
        self.uuid = uuid or uuid_module.uuid4().hex
        self.status: dict[str, Any] = default_status()

    @property
    def h_uuid(self) -> str:
        """The run's identifier, human-readable hex."""
        return self.uuid

    @abstractmethod
    def __getitem__(self, time: int) -> MutableMapping[str, Any]:
        """The row of iteration ``time`` (created when absent)."""

    @abstractmethod
    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every non-empty row as ``(time, dict)`` in increasing time, whole history included."""

    def __iter__(self) -> Iterator[int]:
        """The iterations that have a row, in increasing order (Blocks' log iterated like a dict).

        Without it, ``for time in log`` would fall back to ``log[0], log[1], ...``, which creates rows and
        never ends.
        """
        return (time for time, _ in self.rows())

    def __len__(self) -> int:
        """The number of rows :meth:`__iter__` yields."""
        return sum(1 for _ in self.rows())

    def peek(self, time: int, key: str, default: Any = None) -> Any:
        """``log[time].get(key, default)`` without creating the row (the main loop's per-batch check)."""
        return self[time].get(key, default)

    @property
    def current_row(self) -> MutableMapping[str, Any]:
        """The row of the current iteration (``status['iterations_done']``)."""
        return self[self.status["iterations_done"]]

    @property
    def previous_row(self) -> MutableMapping[str, Any]:
        """The row of the previous iteration (an empty, unstored row before the first iteration)."""
        time = self.status["iterations_done"] - 1
        return self[time] if time >= 0 else {}

    @property
    def last_epoch_row(self) -> MutableMapping[str, Any]:
        """The row at the end of the last finished epoch."""
        ends = self.status["_epoch_ends"]
        if not ends:
            raise ValueError("no epoch has finished yet: last_epoch_row needs status['_epoch_ends'] to be non-empty")
        return self[ends[-1]]

    def resume(self) -> None:
        """Start a new run that continues this one (Blocks' semantics).

        A new ``uuid`` is assigned and ``status['resumed_from']`` records the
        previous one; the history stays readable through this log.
        """
        old = self.uuid
        self.uuid = uuid_module.uuid4().hex
        self.status["resumed_from"] = old

    def flush(self) -> None:  # noqa: B027 - backends without buffering need nothing here
        """Make every write so far visible to readers (the main loop calls it at epoch ends)."""

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing here
        """Release resources (files, connections)."""

    def to_records(self) -> list[dict[str, Any]]:
        """Every row as a dict with an ``iteration`` key, in time order (for CSV/JSON/pandas).

        Examples
        --------
        >>> from blocks.log import TrainingLog
        >>> log = TrainingLog()
        >>> log[2]["a"] = 1
        >>> log.to_records()
        [{'iteration': 2, 'a': 1}]
        """
        return [{"iteration": time, **row} for time, row in self.rows()]

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (tensors/arrays allowed as leaves)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
