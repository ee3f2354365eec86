"""Predicates for :meth:`SimpleExtension.add_condition`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blocks.log.base import TrainingLogBase

__all__ = ["OnLogRecord"]


class OnLogRecord:
    """True when the current log row has a truthy ``record_name``.

    Parameters
    ----------
    record_name : str
        The log record to look for (e.g. ``"valid_error_best_so_far"``).

    Examples
    --------
    >>> from blocks.log import TrainingLog
    >>> log = TrainingLog()
    >>> predicate = OnLogRecord("saved_to")
    >>> predicate(log)
    False
    >>> log.current_row["saved_to"] = "model.tar"
    >>> predicate(log)
    True
    >>> predicate == OnLogRecord("saved_to")
    True
    """

    def __init__(self, record_name: str) -> None:
        if not isinstance(record_name, str) or not record_name:
            raise ValueError(f"OnLogRecord needs a non-empty record name, got {record_name!r}")
        self.record_name = record_name

    def __call__(self, log: TrainingLogBase) -> bool:
        return bool(log.peek(log.status["iterations_done"], self.record_name, False))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.record_name == self.record_name  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.record_name))

    def __repr__(self) -> str:
        return f"OnLogRecord({self.record_name!r})"
