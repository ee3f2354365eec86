"""Timing and Timestamp: when and how long."""

from __future__ import annotations

import datetime
from typing import Any

from blocks.extensions import CallbackName, SimpleExtension

__all__ = ["Timestamp", "Timing"]

_ACTIONS = ("train", "read_data")
_LEVELS = {"epoch": "epochs_done", "batch": "iterations_done"}


class Timing(SimpleExtension):
    """Record the time spent training and reading data (Blocks' records).

    At ``before_first_epoch``: ``time_initialization``. At every other
    trigger, for action ``train`` and ``read_data``:
    ``time_<action>_this_<epoch|batch>``, the time per epoch (or batch)
    since the previous record at that level (averaged when records are
    several epochs apart, e.g. with ``every_n_epochs=2``), and
    ``time_<action>_total``. A second record in the same epoch (or batch)
    writes nothing. Times come from the main loop's clocks (wall time of the
    host; no device sync). Totals continue across resumption.

    Parameters
    ----------
    prefix : str, optional
        Prepended to every record name with ``_`` (``prefix="valid"`` gives
        ``valid_time_train_this_epoch``), as in Blocks.
    **kwargs
        Triggers; by default ``before_first_epoch`` and ``after_epoch``.

    Examples
    --------
    >>> Timing(prefix="main").prefix
    'main_'
    """

    def __init__(self, prefix: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("before_first_epoch", True)
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        if not isinstance(prefix, str):
            raise ValueError(f"prefix must be a str, got {prefix!r}")
        self.prefix = f"{prefix}_" if prefix else ""
        self.offsets = {action: 0.0 for action in _ACTIONS}
        self.previous = {level: {action: 0.0 for action in _ACTIONS} for level in _LEVELS}
        self.previous_count = {level: 0 for level in _LEVELS}

    def _totals(self) -> dict[str, float]:
        times = self.main_loop.times
        return {action: self.offsets[action] + times[action] for action in _ACTIONS}

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        row = self.main_loop.log.current_row
        if which_callback == "before_epoch":
            row[self.prefix + "time_initialization"] = self.main_loop.times["initialization"]
            return
        level = "batch" if which_callback in ("after_batch", "before_batch") else "epoch"
        count = self.main_loop.status[_LEVELS[level]]
        elapsed = count - self.previous_count[level]
        if elapsed <= 0:
            return  # a second record in the same epoch (batch) has nothing to report
        totals = self._totals()
        for action in _ACTIONS:
            row[f"{self.prefix}time_{action}_this_{level}"] = (totals[action] - self.previous[level][action]) / elapsed
            row[f"{self.prefix}time_{action}_total"] = totals[action]
            self.previous[level][action] = totals[action]
        self.previous_count[level] = count

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["totals"] = self._totals() if self.is_attached else dict(self.offsets)
        if self.is_attached:
            state["counts"] = {level: self.main_loop.status[key] for level, key in _LEVELS.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        totals = {action: float(state.get("totals", {}).get(action, 0.0)) for action in _ACTIONS}
        times = self.main_loop.times if self.is_attached else {a: 0.0 for a in _ACTIONS}
        self.offsets = {action: totals[action] - times[action] for action in _ACTIONS}
        self.previous = {level: dict(totals) for level in _LEVELS}
        counts = state.get("counts", {})
        self.previous_count = {level: int(counts.get(level, 0)) for level in _LEVELS}


class Timestamp(SimpleExtension):
    """Record the current local time in ISO 8601 format.

    Parameters
    ----------
    log_record : str, optional
        The record name (``timestamp``).
    separator : str, optional
        Between date and time (a space).
    **kwargs
        Triggers; by default ``before_training``, ``after_epoch``, ``on_error``,
        ``on_interrupt``, ``on_resumption`` and ``after_training``.

    Examples
    --------
    >>> len(Timestamp(separator="T").get_timestamp()) >= 19
    True
    """

    DEFAULT_LOG_RECORD = "timestamp"

    def __init__(self, log_record: str = DEFAULT_LOG_RECORD, separator: str = " ", **kwargs: Any) -> None:
        for trigger in (
            "before_training",
            "after_epoch",
            "on_error",
            "on_interrupt",
            "on_resumption",
            "after_training",
        ):
            kwargs.setdefault(trigger, True)
        super().__init__(**kwargs)
        self.log_record = log_record
        self.separator = separator

    def get_timestamp(self) -> str:
        """The current time as ISO 8601 text."""
        return datetime.datetime.now().isoformat(self.separator)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        self.main_loop.log.current_row[self.log_record] = self.get_timestamp()
