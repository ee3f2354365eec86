"""Core's stopping extension: FinishAfter."""

from __future__ import annotations

from typing import Any

from blocks.extensions.base import CallbackName, SimpleExtension

__all__ = ["FinishAfter"]


class FinishAfter(SimpleExtension):
    """Ask the main loop to finish when its triggers fire.

    Writes ``training_finish_requested`` in the current log row; the main
    loop stops at the next batch or epoch boundary and runs ``after_training``.

    Parameters
    ----------
    **triggers
        Any :class:`~blocks.extensions.SimpleExtension` trigger, e.g.
        ``after_n_epochs=10`` or ``after_n_batches=1000``.

    Examples
    --------
    >>> stop = FinishAfter(after_n_batches=100)
    >>> stop.responds_to("after_batch")
    True
    """

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        self.main_loop.log.current_row["training_finish_requested"] = True
