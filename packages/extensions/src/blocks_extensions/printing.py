"""The extensions that print: Printing and ProgressBar."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from blocks.extensions import CallbackName, SimpleExtension, TrainingExtension

__all__ = ["Printing", "ProgressBar"]


class Printing(SimpleExtension):
    """Print the status and the current log row (keys starting with ``_`` hidden).

    Parameters
    ----------
    file : file object, optional
        Where to print (standard output by default).
    **kwargs
        Triggers; by default ``before_first_epoch``, ``on_resumption``,
        ``after_epoch``, ``after_training`` and ``on_interrupt``.

    Examples
    --------
    >>> printing = Printing(every_n_batches=100)
    >>> printing.responds_to("after_epoch"), printing.responds_to("after_batch")
    (True, True)
    """

    main_process_only = True  # rank 0 only in a torch.distributed run

    def __init__(self, file: TextIO | None = None, **kwargs: Any) -> None:
        for trigger in ("before_first_epoch", "on_resumption", "after_epoch", "after_training", "on_interrupt"):
            kwargs.setdefault(trigger, True)
        super().__init__(**kwargs)
        self.file = file

    @staticmethod
    def _print_attributes(attributes: dict[str, Any], out: list[str]) -> None:
        for name in sorted(attributes):
            if not name.startswith("_"):
                out.append(f"\t {name}: {attributes[name]}")

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        log = self.main_loop.log
        if which_callback == "before_epoch" and log.status["epochs_done"] == 0:
            title = "BEFORE FIRST EPOCH"
        elif which_callback == "on_resumption":
            title = "TRAINING HAS BEEN RESUMED"
        elif which_callback == "after_training":
            title = "TRAINING HAS BEEN FINISHED:"
        elif which_callback == "after_epoch":
            title = "AFTER ANOTHER EPOCH"
        elif which_callback == "on_interrupt":
            title = "TRAINING HAS BEEN INTERRUPTED"
        else:
            title = str(which_callback).upper().replace("_", " ")
        rule = "-" * 79
        out = ["", rule, title, rule, "Training status:"]
        self._print_attributes(log.status, out)
        out.append(f"Log records from the iteration {log.status['iterations_done']}:")
        self._print_attributes(dict(log.current_row), out)
        out.append("")
        print("\n".join(out), file=self.file if self.file is not None else sys.stdout, flush=True)


class ProgressBar(TrainingExtension):
    """A tqdm progress bar over the batches of each epoch.

    Iterations per epoch come from ``data_stream.num_requests`` (no total
    when it is ``None``). The bar is not part of the saved state; after a
    mid-epoch resumption it starts at the batch reached.

    Parameters
    ----------
    file : file object, optional
        Where to draw (standard error by default).
    **tqdm_kwargs
        Passed to ``tqdm.tqdm`` (e.g. ``mininterval``, ``disable``).

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
        self.tqdm_kwargs = tqdm_kwargs
        self.bar: Any = None

    def _open(self) -> None:
        from tqdm.auto import tqdm

        status = self.main_loop.status
        total = getattr(self.main_loop.data_stream, "num_requests", None)
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
