"""Core's stopping extension: FinishAfter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blocks.extensions.base import CallbackName, SimpleExtension, _AfterN, state_keys

if TYPE_CHECKING:
    from blocks.log.base import TrainingLogBase

__all__ = ["FINISH_AFTER_STATUS", "FinishAfter"]

FINISH_AFTER_STATUS = "_finish_after"
"""The status key under which every :class:`FinishAfter` records its limits (what a dashboard's ETA needs)."""

_LIMIT_NAMES = {"epochs_done": "after_n_epochs", "iterations_done": "after_n_batches"}


class _AtLeastN:
    """True once ``status[key] >= n``: a count reached, passed, or already reached when a run resumes."""

    __slots__ = ("key", "n")

    def __init__(self, key: str, n: int) -> None:
        self.key, self.n = key, n

    def __call__(self, log: TrainingLogBase) -> bool:
        return log.status[self.key] >= self.n


class FinishAfter(SimpleExtension):
    """Ask the main loop to finish when its triggers fire.

    Writes ``training_finish_requested`` in the current log row; the main
    loop stops at the next batch or epoch boundary and runs ``after_training``.

    ``after_n_epochs=N`` and ``after_n_batches=N`` fire whenever the count is
    at least ``N`` (Blocks: only when it equals ``N``), and also on
    resumption: a run resumed from a checkpoint taken at or after ``N`` (for
    instance by a ``Checkpoint`` that ran before this extension in the epoch
    that reached ``N``) finishes at once, without training (it raises
    :class:`~blocks.main_loop.TrainingFinish` in ``on_resumption``; the
    extensions after it in the list get no ``on_resumption``, every one gets
    ``after_training``), instead of training on forever. A resumed run with a
    larger ``N`` trains on to it. The ``after_n_*`` triggers of every other
    extension still fire once, at ``N``.

    Its limits (``after_n_epochs``, ``after_n_batches``) are recorded in the
    log's status under ``"_finish_after"`` (by extension name) before
    training, on resumption and whenever the triggers change, so that a
    reader of the log (``blocks dashboard``) can tell how far the run has
    to go.

    Parameters
    ----------
    **triggers
        Any :class:`~blocks.extensions.SimpleExtension` trigger, e.g.
        ``after_n_epochs=10`` or ``after_n_batches=1000``.

    Examples
    --------
    >>> stop = FinishAfter(after_n_batches=100)
    >>> stop.responds_to("after_batch"), stop.responds_to("on_resumption")
    (True, True)
    """

    def set_conditions(self, **triggers: Any) -> FinishAfter:
        super().set_conditions(**triggers)
        conditions = []
        for callback, predicate, arguments in self._conditions:
            if isinstance(predicate, _AfterN):
                at_least = _AtLeastN(predicate.key, predicate.n)
                conditions += [(callback, at_least, arguments), ("on_resumption", at_least, arguments)]
            else:
                conditions.append((callback, predicate, arguments))
        self._conditions = conditions
        self._conditions_changed()
        return self

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        self.main_loop.log.current_row["training_finish_requested"] = True
        if which_callback == "on_resumption":  # the loop starts no epoch to look at the request: finish now
            from blocks.main_loop import TrainingFinish

            raise TrainingFinish

    def responds_to(self, callback_name: str) -> bool:
        if callback_name in ("before_training", "on_resumption") and self._limits():
            return True  # to record the limits
        return super().responds_to(callback_name)

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if callback_invoked in ("before_training", "on_resumption"):
            self._record_limits()
        super().dispatch(callback_invoked, *from_main_loop)

    def _conditions_changed(self) -> None:
        super()._conditions_changed()
        if self._main_loop is not None:
            self._record_limits()

    def _limits(self) -> dict[str, int]:
        return {
            _LIMIT_NAMES[predicate.key]: predicate.n
            for _callback, predicate, _arguments in self._conditions
            if isinstance(predicate, (_AfterN, _AtLeastN)) and predicate.key in _LIMIT_NAMES
        }

    def _record_limits(self) -> None:
        """Write this extension's limits into ``status["_finish_after"][key]`` (removed when it has none).

        The key is the extension's state key (its name; ``name#2`` for a second ``FinishAfter`` of that name).
        """
        limits = self._limits()
        status = self.main_loop.status
        recorded = dict(status.get(FINISH_AFTER_STATUS) or {})
        key = self._key()
        if limits:
            recorded[key] = limits
        else:
            recorded.pop(key, None)
        status[FINISH_AFTER_STATUS] = recorded

    def _key(self) -> str:
        extensions = list(getattr(self.main_loop, "extensions", None) or ())
        for key, extension in zip(state_keys(extensions), extensions):
            if extension is self:
                return key
        return self.name


def __getattr__(name: str) -> Any:
    """Blocks' names that live in a plugin now (:mod:`blocks.compat`)."""
    from blocks.compat import moved_attribute

    return moved_attribute(__name__, name)
