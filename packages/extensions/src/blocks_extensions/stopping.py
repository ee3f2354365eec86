"""Early stopping: TrackTheBest, FinishIfNoImprovementAfter, EarlyStopping."""

from __future__ import annotations

import logging
from typing import Any, Callable

from blocks.extensions import CallbackName, CompositeExtension, OnLogRecord, SimpleExtension, TrainingExtension

__all__ = ["EarlyStopping", "FinishIfNoImprovementAfter", "TrackTheBest"]

logger = logging.getLogger(__name__)

_CHOOSERS: dict[str, Callable[[Any, Any], Any]] = {"min": min, "max": max}


def _chooser(choose_best: Callable[[Any, Any], Any] | str) -> Callable[[Any, Any], Any]:
    if isinstance(choose_best, str):
        if choose_best not in _CHOOSERS:
            raise ValueError(f"choose_best must be min, max or a callable, got {choose_best!r}")
        return _CHOOSERS[choose_best]
    if not callable(choose_best):
        raise ValueError(f"choose_best must be min, max or a callable, got {choose_best!r}")
    return choose_best


class TrackTheBest(SimpleExtension):
    """Keep the best value of a log record and flag the rows where it improves.

    The best value is ``status["best_<record_name>"]``; a new best writes
    ``<notification_name> = True`` in the current row.

    Parameters
    ----------
    record_name : str
        The record to watch (e.g. ``valid_error``).
    notification_name : str, optional
        Default ``<record_name>_best_so_far``.
    choose_best : callable or {"min", "max"}, optional
        ``min`` by default.
    **kwargs
        Triggers; by default ``after_epoch``. Place it after the extension
        that writes the record.

    Examples
    --------
    >>> TrackTheBest("valid_error").notification_name
    'valid_error_best_so_far'
    """

    def __init__(
        self,
        record_name: str,
        notification_name: str | None = None,
        choose_best: Callable[[Any, Any], Any] | str = min,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        self.record_name = record_name
        self.notification_name = notification_name or f"{record_name}_best_so_far"
        self.choose_best = _chooser(choose_best)
        self.best_name = f"best_{record_name}"

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        current = self.main_loop.log.current_row.get(self.record_name)
        if current is None:
            return
        status = self.main_loop.status
        best = status.get(self.best_name)
        if best is None or (current != best and self.choose_best(current, best) == current):
            status[self.best_name] = current
            self.main_loop.log.current_row[self.notification_name] = True


class FinishIfNoImprovementAfter(SimpleExtension):
    """Stop when a notification has not appeared for some epochs or iterations.

    Writes the remaining patience as ``<notification_name>_patience_epochs``
    (or ``_iterations``) and ``training_finish_requested`` when it is used up.

    Parameters
    ----------
    notification_name : str
        The log record that marks an improvement (see :class:`TrackTheBest`).
    iterations, epochs : int
        Patience; give exactly one.
    patience_log_record : str, optional
        Record name of the remaining patience.
    **kwargs
        Triggers; by default ``after_epoch``, plus ``after_batch`` with
        ``iterations`` (notifications written after an epoch are seen too).

    Examples
    --------
    >>> FinishIfNoImprovementAfter("valid_error_best_so_far", epochs=5).patience_log_record
    'valid_error_best_so_far_patience_epochs'
    """

    def __init__(
        self,
        notification_name: str,
        iterations: int | None = None,
        epochs: int | None = None,
        patience_log_record: str | None = None,
        **kwargs: Any,
    ) -> None:
        if (epochs is None) == (iterations is None):
            raise ValueError("FinishIfNoImprovementAfter needs exactly one of epochs or iterations")
        patience = epochs if epochs is not None else iterations
        if isinstance(patience, bool) or not isinstance(patience, int) or patience <= 0:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if not any(kwargs.get(k) for k in kwargs if k != "name"):
            kwargs["after_epoch"] = True
            if iterations is not None:
                kwargs["after_batch"] = True
        super().__init__(**kwargs)
        self.notification_name = notification_name
        self.iterations = iterations
        self.epochs = epochs
        unit = "epochs" if epochs is not None else "iterations"
        self.patience_log_record = patience_log_record or f"{notification_name}_patience_{unit}"
        self.last_best_iter: int | None = None
        self.last_best_epoch: int | None = None

    def update_best(self) -> None:
        """Note the time of the latest notification."""
        log = self.main_loop.log
        if log.current_row.get(self.notification_name):
            self.last_best_iter = log.status["iterations_done"]
            self.last_best_epoch = log.status["epochs_done"]

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        self.update_best()
        if self.last_best_iter is None:
            return
        status = self.main_loop.status
        if self.epochs is not None:
            patience = self.epochs - (status["epochs_done"] - self.last_best_epoch)
        else:
            patience = self.iterations - (status["iterations_done"] - self.last_best_iter)
        row = self.main_loop.log.current_row
        row[self.patience_log_record] = patience
        if patience <= 0:
            logger.info("no improvement of %s: finishing training", self.notification_name)
            row["training_finish_requested"] = True

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(last_best_iter=self.last_best_iter, last_best_epoch=self.last_best_epoch)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.last_best_iter = state.get("last_best_iter")
        self.last_best_epoch = state.get("last_best_epoch")


class EarlyStopping(CompositeExtension):
    """Track the best value of a record, stop without improvement, checkpoint the best model.

    Children, in order: :class:`TrackTheBest`, :class:`FinishIfNoImprovementAfter`
    and, with ``checkpoint_filename``, a checkpoint that saves on every new
    best. That checkpoint is ``checkpoint_extension`` (given a condition that
    saves to ``checkpoint_filename`` when the best improves; added as a child
    when it is not in the main loop) or, without one, a new core
    ``blocks.extensions.Checkpoint(checkpoint_filename)`` that only saves on
    new bests.

    Parameters
    ----------
    record_name : str
        The record to watch.
    checkpoint_extension : SimpleExtension, optional
        A checkpoint extension accepting the path as extra ``do`` argument.
    checkpoint_filename : str, optional
        Where to save the best model.
    notification_name : str, optional
        Default ``<record_name>_best_so_far``.
    choose_best : callable or {"min", "max"}, optional
        ``min`` by default.
    iterations, epochs : int
        Patience; exactly one.
    **kwargs
        Triggers of the children; by default ``after_epoch``.

    Examples
    --------
    >>> stopping = EarlyStopping("valid_error", epochs=3)
    >>> [type(child).__name__ for child in stopping.sub_extensions]
    ['TrackTheBest', 'FinishIfNoImprovementAfter']
    """

    def __init__(
        self,
        record_name: str,
        checkpoint_extension: SimpleExtension | None = None,
        checkpoint_filename: str | None = None,
        notification_name: str | None = None,
        choose_best: Callable[[Any, Any], Any] | str = min,
        iterations: int | None = None,
        epochs: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        notification_name = notification_name or f"{record_name}_best_so_far"
        if checkpoint_extension is not None and checkpoint_filename is None:
            raise ValueError("EarlyStopping got checkpoint_extension without checkpoint_filename (where to save)")
        child_triggers = dict(kwargs)
        if not any(child_triggers.values()):
            child_triggers["after_epoch"] = True
        tracking = TrackTheBest(record_name, notification_name, choose_best=choose_best, **child_triggers)
        stopping_triggers = {} if iterations is not None and not kwargs else child_triggers
        stopping = FinishIfNoImprovementAfter(
            notification_name, iterations=iterations, epochs=epochs, **stopping_triggers
        )
        children: list[TrainingExtension] = [tracking, stopping]
        if checkpoint_filename is not None and checkpoint_extension is None:
            from blocks.extensions import Checkpoint

            checkpoint_extension = Checkpoint(checkpoint_filename, name=f"{name or 'EarlyStopping'}_checkpoint")
            checkpoint_extension.set_conditions()
            checkpoint_extension.add_condition(["after_epoch", "after_batch"], OnLogRecord(notification_name))
            children.append(checkpoint_extension)
        elif checkpoint_extension is not None:
            # Blocks' call (positional, after_batch) plus after_epoch, where TrackTheBest writes by default
            # (after_batch alone never sees a notification written after the epoch).
            checkpoint_extension.add_condition(["after_epoch"], OnLogRecord(notification_name), (checkpoint_filename,))
            checkpoint_extension.add_condition(["after_batch"], OnLogRecord(notification_name), (checkpoint_filename,))
        self.checkpoint_extension = checkpoint_extension
        self.record_name = record_name
        self.notification_name = notification_name
        super().__init__(children, name=name)

    @property
    def main_loop(self) -> Any:
        return TrainingExtension.main_loop.fget(self)

    @main_loop.setter
    def main_loop(self, value: Any) -> None:
        checkpoint = self.checkpoint_extension
        if (
            checkpoint is not None
            and not any(ext is checkpoint for ext in value.extensions)
            and not any(ext is checkpoint for ext in self.sub_extensions)
        ):
            self.sub_extensions.append(checkpoint)
        CompositeExtension.main_loop.fset(self, value)
