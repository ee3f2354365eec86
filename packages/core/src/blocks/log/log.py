"""The in-memory training log (backend ``python``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from blocks.log.base import TrainingLogBase, default_status, jsonable_value

__all__ = ["TrainingLog"]


class TrainingLog(TrainingLogBase):
    """Training log kept in memory: a dict of rows keyed by iteration.

    It is saved whole by :meth:`state_dict`, so a checkpoint restores the full
    history. Convertible with ``pandas.DataFrame(log.to_records())``.

    Parameters
    ----------
    uuid : str, optional
        Identifier of this run.

    Examples
    --------
    >>> log = TrainingLog()
    >>> log[0]["cost"] = 2.0
    >>> log.status["iterations_done"] = 1
    >>> log.previous_row["cost"]
    2.0
    >>> restored = TrainingLog()
    >>> restored.load_state_dict(log.state_dict())
    >>> restored[0]["cost"], restored.status["iterations_done"]
    (2.0, 1)
    """

    def __init__(self, uuid: str | None = None) -> None:
        super().__init__(uuid)
        self._rows: dict[int, dict[str, Any]] = {}

    def __getitem__(self, time: int) -> dict[str, Any]:
        row = self._rows.get(time)
        if row is None:
            if not isinstance(time, int) or time < 0:
                raise ValueError(f"log rows are indexed by non-negative iteration numbers, got {time!r}")
            row = self._rows[time] = {}
        return row

    @property
    def current_row(self) -> dict[str, Any]:
        # Inlined for the main loop's per-batch check.
        time = self.status["iterations_done"]
        row = self._rows.get(time)
        if row is None:
            row = self._rows[time] = {}
        return row

    def peek(self, time: int, key: str, default: Any = None) -> Any:
        row = self._rows.get(time)
        return default if row is None else row.get(key, default)

    def __contains__(self, time: object) -> bool:
        return time in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[int]:
        """Every iteration with a row, empty rows included (as Blocks' dict of rows), in increasing order."""
        return iter(sorted(self._rows))

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for time in sorted(self._rows):
            if self._rows[time]:
                yield time, self._rows[time]

    def state_dict(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "status": jsonable_value(self.status, "status"),
            "rows": {str(t): jsonable_value(row, f"row {t}") for t, row in self._rows.items() if row},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = {"uuid", "status", "rows"} - set(state)
        if missing:
            raise ValueError(f"TrainingLog state lacks {sorted(missing)}; expected keys uuid, status, rows")
        self.uuid = state["uuid"]
        self.status = {**default_status(), **state["status"]}
        self.status["_epoch_ends"] = list(self.status["_epoch_ends"])
        self._rows = {int(t): dict(row) for t, row in state["rows"].items()}
