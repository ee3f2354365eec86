"""TensorBoard: event files written as training runs, and exported from SQLite logs (optional extra ``tensorboard``).

:class:`TensorBoard` writes every number of the log's rows (the monitored
channels) as a scalar at its iteration, and optionally a histogram of every
parameter at each epoch end, through ``torch.utils.tensorboard`` (which needs
the ``tensorboard`` package: ``pip install 'blocks-extensions[tensorboard]'``).
:func:`export_log` (``blocks tensorboard-export LOG OUTDIR``) writes the same
scalars from an existing SQLite log, a resumed run as one history, with each
value's wall time from the log's clock.

Examples
--------
>>> TensorBoard("runs/mnist").log_dir
'runs/mnist'
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import tempfile
from typing import Any, Sequence

import numpy

from blocks.extensions import CallbackName, SimpleExtension
from blocks.log import SQLiteLog
from blocks_extensions.dashboard.store import LogFile, is_sqlite_file

__all__ = ["TensorBoard", "export_log", "scalar_values"]

logger = logging.getLogger(__name__)

_MISSING = (
    "the TensorBoard extension writes through torch.utils.tensorboard: pip install 'blocks-extensions[tensorboard]'"
)


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(f"{_MISSING} ({err})") from None
    return SummaryWriter


def _number(value: Any) -> float | None:
    """A log value as a float when it is one number (a Python, NumPy or torch scalar; not a bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    module = type(value).__module__.split(".")[0]
    if module == "numpy" and getattr(value, "size", 0) == 1 and value.dtype.kind in "iuf":
        return float(value.item())
    if module == "torch" and callable(getattr(value, "numel", None)) and value.numel() == 1:
        if not value.dtype.is_complex and str(value.dtype) != "torch.bool":
            return float(value.item())
    return None


def scalar_values(row: dict[str, Any], patterns: Sequence[str] | None = None) -> dict[str, float]:
    """The numbers of a log row (bools, text and lists left out), optionally only the channels matching ``patterns``.

    Examples
    --------
    >>> scalar_values({"cost": 0.5, "saved_to": ["a.tar"], "training_finish_requested": True, "n": 3})
    {'cost': 0.5, 'n': 3.0}
    >>> scalar_values({"train_cost": 1.0, "valid_cost": 2.0}, ["valid_*"])
    {'valid_cost': 2.0}
    """
    found = {}
    for key, value in row.items():
        number = _number(value)
        if number is None:
            continue
        if patterns and not any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns):
            continue
        found[key] = number
    return found


class TensorBoard(SimpleExtension):
    """Write the log's numbers (and optionally parameter histograms) as TensorBoard event files.

    Every number written into the log row of an iteration it runs at (by
    default every batch) becomes a scalar with that tag at that step, once;
    each call also looks at the row of its previous call (at the first, the
    row before), so values written after it ran (by an extension later in
    the list, or before the first batch) are picked up and its place in the
    list does not matter. Histograms of the
    model's parameters are written at every epoch end and after training when
    ``histograms`` is true. On resumption the writer tells TensorBoard to drop
    the events at or after the iteration resumed from (``purge_step``), so a
    run resumed from an older checkpoint shows one history.

    Parameters
    ----------
    log_dir : str
        Directory of the event files (``tensorboard --logdir`` it).
    channels : list of str, optional
        Only the channels matching these shell-style patterns (default: all).
    histograms : bool, optional
        Also write a histogram of every parameter of the main loop's model.
    flush_secs : float, optional
        Seconds between the writer's flushes to disk (default 10).
    **kwargs
        Triggers; by default ``after_batch``, ``after_epoch`` and
        ``after_training``.

    Examples
    --------
    >>> extension = TensorBoard("runs/mnist", channels=["train_*", "valid_*"], histograms=True)
    >>> extension.responds_to("after_epoch"), extension.histograms
    (True, True)
    """

    main_process_only = True  # rank 0 only in a torch.distributed run

    def __init__(
        self, log_dir: str, channels: Sequence[str] | None = None, histograms: bool = False, flush_secs: float = 10.0,
        **kwargs: Any,
    ) -> None:
        for trigger in ("after_batch", "after_epoch", "after_training"):
            kwargs.setdefault(trigger, True)
        kwargs.setdefault("on_resumption", True)
        super().__init__(**kwargs)
        self.log_dir = os.fspath(log_dir)
        self.channels = list(channels) if channels else None
        self.histograms = bool(histograms)
        self.flush_secs = float(flush_secs)
        self.writer: Any = None
        self._step: int | None = None  # the last iteration whose row was written
        self._written: set[str] = set()  # the tags written at that iteration

    def _open(self, purge_step: int | None = None) -> None:
        if self.writer is None:
            writer_class = _summary_writer()
            self.writer = writer_class(self.log_dir, flush_secs=self.flush_secs, purge_step=purge_step)

    def _write_row(self, step: int) -> None:
        values = scalar_values(dict(self.main_loop.log[step]), self.channels)
        if step != self._step:
            self._step, self._written = step, set()
        for tag, value in values.items():
            if tag not in self._written:
                self.writer.add_scalar(tag, value, global_step=step)
                self._written.add(tag)

    def _write_histograms(self, step: int) -> None:
        try:
            model = self.main_loop.model
        except ValueError:
            model = None
        if model is None:
            return
        for name, parameter in model.get_parameter_dict().items():
            values = parameter.detach().float().cpu()
            if values.numel() and bool(values.isfinite().all()):
                self.writer.add_histogram(name.lstrip("/"), values, global_step=step)
            else:
                logger.warning("TensorBoard: no histogram of %s at iteration %d (empty or not finite)", name, step)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        step = self.main_loop.status["iterations_done"]
        if which_callback == "on_resumption":
            self.close()
            self._open(purge_step=step)
            return
        self._open()
        if self._step is None:
            self._step = max(step - 1, 0)  # the first call also looks at the row before (values logged before it)
        if self._step < step:
            self._write_row(self._step)  # values added to that row after this extension's last call
        self._write_row(step)
        if self.histograms and which_callback in ("after_epoch", "after_training"):
            self._write_histograms(step)
        if which_callback == "after_training":
            self.writer.flush()

    def on_error(self, exception: BaseException) -> None:
        self.close()

    def on_interrupt(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def responds_to(self, callback_name: str) -> bool:
        return callback_name in ("on_error", "on_interrupt") or super().responds_to(callback_name)

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if callback_invoked == "on_error":
            self.on_error(*from_main_loop)
        elif callback_invoked == "on_interrupt":
            self.on_interrupt()
        super().dispatch(callback_invoked, *from_main_loop)
        if callback_invoked == "after_training":
            self.close()


def export_log(
    path: str, outdir: str, channels: Sequence[str] | None = None, run: str | None = None
) -> dict[str, int]:
    """Write the numeric channels of an SQLite log's runs as TensorBoard scalars (``outdir/<run uuid>/``).

    Each run that was not resumed by another is one history (the runs it
    resumed included). Values keep their iteration as step and their wall
    time from the log's clock (the export's time for logs without one).
    Each run's directory is written whole or not at all.

    Parameters
    ----------
    path : str
        The SQLite log.
    outdir : str
        Where the run directories go (created).
    channels : list of str, optional
        Shell-style patterns of the channels to export (default: all).
    run : str, optional
        Only this run (its uuid).

    Returns
    -------
    dict
        Each written directory and its number of scalars.

    Raises
    ------
    ValueError
        When the log cannot be read, ``run`` is not in it, a run directory
        already exists, or nothing matches ``channels``.
    """
    runs = _runs(path, run)
    targets = {entry.uuid: os.path.join(outdir, entry.uuid) for entry in runs}
    for target in targets.values():
        if os.path.exists(target):
            raise ValueError(f"{target} already exists: remove it or export to another directory")
    writer_class = _summary_writer()
    os.makedirs(outdir, exist_ok=True)
    return {
        targets[entry.uuid]: _export_run(writer_class, path, entry, outdir, targets[entry.uuid], channels)
        for entry in runs
    }


def _runs(path: str, run: str | None) -> list[Any]:
    """The histories of the SQLite log ``path`` (only ``run``'s when given), checked readable."""
    if not os.path.isfile(path):
        raise ValueError(f"no file {path!r}: give an SQLite log written by the sqlite log backend")
    if not is_sqlite_file(path):
        raise ValueError(f"{path!r} is not an SQLite database: give a log written by the sqlite log backend")
    source = LogFile(path)
    source.refresh(force=True)
    if source.error:
        raise ValueError(source.error)
    runs = [r for r in source.runs() if run is None or r.uuid == run]
    if not runs:
        known = ", ".join(r.uuid for r in source.runs()) or "none"
        raise ValueError(f"no run {run!r} in {path!r} (runs not resumed by another: {known})")
    return runs


def _export_run(writer_class: Any, path: str, entry: Any, outdir: str, target: str,
                channels: Sequence[str] | None) -> int:
    """Write one history's scalars into ``target`` (whole or not at all); the number of scalars."""
    records = SQLiteLog.read(path, entry.uuid)
    try:
        rows = list(records.rows())
    finally:
        records.close()
    staging = tempfile.mkdtemp(prefix=".tensorboard-export-", dir=outdir)
    try:
        writer = writer_class(staging)
        try:
            count = _write_scalars(writer, rows, entry.clock(), channels)
        finally:
            writer.close()
        if not count:
            raise ValueError(f"run {entry.uuid} of {path!r} has no numeric channel" +
                             (f" matching {list(channels)}" if channels else ""))
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def _write_scalars(writer: Any, rows: list[tuple[int, dict]], clock: tuple[Any, Any],
                   channels: Sequence[str] | None) -> int:
    """Each row's numbers as scalars at its iteration, with the wall time ``clock`` gives it; how many."""
    clock_times, walls = clock
    count = 0
    for time, row in rows:
        wall = float(numpy.interp(time, clock_times, walls)) if len(clock_times) else None
        for tag, value in scalar_values(row, channels).items():
            writer.add_scalar(tag, value, global_step=time, walltime=wall)
            count += 1
    return count
