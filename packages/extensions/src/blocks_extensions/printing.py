"""The extensions that print: Printing and ProgressBar."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import sys
from typing import Any, Sequence, TextIO

from blocks.extensions import CallbackName, SimpleExtension, TrainingExtension

__all__ = ["Printing", "ProgressBar"]


class Printing(SimpleExtension):
    """Print the status and the current log row (keys starting with ``_`` hidden).

    Parameters
    ----------
    file : file object, optional
        Where to print (standard output by default).
    compact : bool
        Print one line per trigger instead of Blocks' block of ~20 lines: the
        event (omitted after an epoch), epoch and iteration, then the numeric
        channels of the current log row, rounded to ``precision`` significant
        digits, e.g. ``epoch 3 | iteration 135 | train_cost 0.2113 | ...``.
    precision : int
        Significant digits of the values in compact lines (default 4).
    channels : list of str, optional
        Shell-style patterns of the channels a compact line shows (default:
        every numeric channel), e.g. ``["train_*", "valid_*"]``.
    **kwargs
        Triggers; by default ``before_first_epoch``, ``on_resumption``,
        ``after_epoch``, ``after_training`` and ``on_interrupt``. Several
        triggers that match one callback print once (``every_n_epochs=5``
        with the ``after_epoch`` default prints every epoch, not twice on
        every fifth): pass ``after_epoch=False`` to print every fifth epoch only.

    Examples
    --------
    >>> printing = Printing(every_n_batches=100)
    >>> printing.responds_to("after_epoch"), printing.responds_to("after_batch")
    (True, True)
    >>> Printing(compact=True, every_n_epochs=5, after_epoch=False).responds_to("after_epoch")
    True
    """

    main_process_only = True  # rank 0 only in a torch.distributed run

    def __init__(
        self,
        file: TextIO | None = None,
        compact: bool = False,
        precision: int = 4,
        channels: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        for trigger in ("before_first_epoch", "on_resumption", "after_epoch", "after_training", "on_interrupt"):
            kwargs.setdefault(trigger, True)
        super().__init__(**kwargs)
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
            raise ValueError(f"precision must be a positive integer, got {precision!r}")
        self.file = file
        self.compact = compact
        self.precision = precision
        self.channels = None if channels is None else list(channels)
        self._printed_at: tuple[str, int] | None = None

    @staticmethod
    def _print_attributes(attributes: dict[str, Any], out: list[str]) -> None:
        for name in sorted(attributes):
            if not name.startswith("_"):
                out.append(f"\t {name}: {attributes[name]}")

    @staticmethod
    def _title(which_callback: CallbackName, epochs_done: int) -> str:
        if which_callback == "before_epoch" and epochs_done == 0:
            return "BEFORE FIRST EPOCH"
        titles = {
            "on_resumption": "TRAINING HAS BEEN RESUMED",
            "after_training": "TRAINING HAS BEEN FINISHED:",
            "after_epoch": "AFTER ANOTHER EPOCH",
            "on_interrupt": "TRAINING HAS BEEN INTERRUPTED",
        }
        return titles.get(which_callback, str(which_callback).upper().replace("_", " "))

    _COMPACT_EVENTS = {
        "before_epoch": "start",
        "on_resumption": "resumed",
        "after_training": "finished",
        "on_interrupt": "interrupted",
    }

    def _compact_line(self, which_callback: CallbackName, status: dict[str, Any], row: dict[str, Any]) -> str:
        event = self._COMPACT_EVENTS.get(str(which_callback), "" if which_callback == "after_epoch" else which_callback)
        parts = [f"epoch {status['epochs_done']}", f"iteration {status['iterations_done']}"]
        if event:
            parts.insert(0, str(event))
        for name in sorted(row):
            value = row[name]
            if name.startswith("_") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if self.channels is not None and not any(fnmatch.fnmatchcase(name, p) for p in self.channels):
                continue
            parts.append(f"{name} {value:.{self.precision}g}" if isinstance(value, float) else f"{name} {value}")
        return " | ".join(parts)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        log = self.main_loop.log
        # one print per callback, however many of the triggers matched it
        position = (str(which_callback), log.status["iterations_done"])
        if position == self._printed_at:
            return
        self._printed_at = position
        title = self._title(which_callback, log.status["epochs_done"])
        if self.compact:
            text = self._compact_line(which_callback, log.status, dict(log.current_row))
        else:
            rule = "-" * 79
            out = ["", rule, title, rule, "Training status:"]
            self._print_attributes(log.status, out)
            out.append(f"Log records from the iteration {log.status['iterations_done']}:")
            self._print_attributes(dict(log.current_row), out)
            out.append("")
            text = "\n".join(out)
        print(text, file=self.file if self.file is not None else sys.stdout, flush=True)


class ProgressBar(TrainingExtension):
    """A tqdm progress bar over the batches of each epoch.

    Iterations per epoch come from ``data_stream.num_requests`` (no total
    when it is ``None``). The bar is not part of the saved state; after a
    mid-epoch resumption it starts at the batch reached.

    While a bar is shown, log records that would go to the console (the root
    logger's handlers on standard output or error, or Python's last-resort
    handler for warnings when logging is not configured) are written through
    ``tqdm.write`` above the bar instead of breaking it
    (``tqdm.contrib.logging``). By default no bar is drawn when the output is
    not a terminal (a log file, CI), as tqdm's ``disable=None`` does.

    Parameters
    ----------
    file : file object, optional
        Where to draw (standard error by default).
    **tqdm_kwargs
        Passed to ``tqdm.tqdm`` (e.g. ``mininterval``; ``disable=False`` draws
        even when the output is not a terminal).

    Examples
    --------
    >>> bar = ProgressBar(disable=True)
    >>> bar.responds_to("after_batch"), bar.responds_to("after_epoch")
    (True, True)
    """

    main_process_only = True  # rank 0 only in a torch.distributed run

    def __init__(self, file: TextIO | None = None, name: str | None = None, **tqdm_kwargs: Any) -> None:
        super().__init__(name=name)
        self.file = file
        tqdm_kwargs.setdefault("disable", None)
        self.tqdm_kwargs = tqdm_kwargs
        self.bar: Any = None
        self._redirect: contextlib.ExitStack | None = None

    def get_iter_per_epoch(self) -> int | None:
        """Batches per epoch (the stream's ``num_requests``), or ``None`` when the stream cannot tell.

        Blocks computed ``num_examples // batch_size``, which missed the last,
        smaller batch; this counts it.
        """
        return getattr(self.main_loop.data_stream, "num_requests", None)

    def _open(self) -> None:
        from tqdm.auto import tqdm

        status = self.main_loop.status
        total = self.get_iter_per_epoch()
        ends = status["_epoch_ends"]
        done = status["iterations_done"] - (ends[-1] if ends else 0) if status["epoch_started"] else 0
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=f"epoch {status['epochs_done'] + 1}",
            unit="batch",
            file=self.file if self.file is not None else sys.stderr,
            leave=False,
            **self.tqdm_kwargs,
        )
        if not self.bar.disable:
            self._redirect = _redirect_console_logging(type(self.bar))

    def before_epoch(self) -> None:
        self._close()
        self._open()

    def on_resumption(self) -> None:
        if self.main_loop.status["epoch_started"]:
            self._close()
            self._open()

    def after_batch(self, batch: Any) -> None:
        if self.bar is None:
            self._open()
        self.bar.update(1)

    def after_epoch(self) -> None:
        self._close()

    def after_training(self) -> None:
        self._close()

    def on_error(self, exception: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None


def _redirect_console_logging(tqdm_class: Any) -> contextlib.ExitStack:
    """Route console log records through ``tqdm_class.write`` until the returned stack is closed."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    stack = contextlib.ExitStack()
    root = logging.getLogger()
    if not root.handlers and logging.lastResort is not None:
        # logging not configured: warnings would reach stderr through the last-resort handler
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.lastResort.level)
        root.addHandler(handler)
        stack.callback(root.removeHandler, handler)
    stack.enter_context(logging_redirect_tqdm(tqdm_class=tqdm_class))
    return stack
