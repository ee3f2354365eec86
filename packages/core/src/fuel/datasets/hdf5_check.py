"""Read an HDF5 file completely in a child process: a crash in libhdf5 becomes a report, not a dead process.

libhdf5 can crash (SIGSEGV, SIGABRT) on a damaged file, for example in its
dimension-scale code (reading axis labels), and no Python code can catch that.
:func:`check_file` therefore runs the whole read in a child process
(``python -m fuel.datasets.hdf5_check FILE``): it checks Fuel's ``split``
attribute, reads every dataset of the file (Fletcher-32 checksums of chunked
files are verified on read), builds an :class:`~fuel.datasets.H5PYDataset` for
every split and reads its first and last examples, then reads every attribute
and dimension scale and the axis labels of every split. The global heap
behind variable-length data is checked before libhdf5 reads it
(:class:`~fuel.datasets.hdf5_heap.HeapCheck`): libhdf5 loops forever on some
damaged heaps. The child reports each step on its standard output (at least
one per 16 MiB of data); a child killed by a signal, or silent for
``stall_timeout`` seconds (default 20) once it has started, is reported with
the step it was in: a read that makes no progress is a damaged file, found in
bounded time. ``fuel-info --check FILE`` prints the result.

Examples
--------
>>> report = check_file("mnist.hdf5")  # doctest: +SKIP
>>> report.ok, report.problem  # doctest: +SKIP
(True, None)
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["START_TIMEOUT", "STALL_TIMEOUT", "FileCheck", "check_file"]

#: rows are read (and a step reported) in blocks of about this many bytes
_BLOCK_BYTES = 16 << 20
#: default seconds without progress before a read is reported as stalled
STALL_TIMEOUT = 20.0
#: seconds the child may take to start Python and import h5py before its first step (not the file's fault)
START_TIMEOUT = 120.0


@dataclass
class FileCheck:
    """The result of :func:`check_file`.

    Attributes
    ----------
    path : str
        The file.
    ok : bool
        Everything was read without error.
    problem : str or None
        What went wrong (``None`` when ``ok``).
    crashed : bool
        The reading process died (a signal or an abnormal exit) or stalled.
    steps : list of str
        What was read, in order (the last one is where a crash happened).
    bytes_read : int
        Bytes of data read.
    """

    path: str
    ok: bool
    problem: str | None = None
    crashed: bool = False
    steps: list[str] = field(default_factory=list)
    bytes_read: int = 0


def _emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _read_dataset(dataset: Any, step: Callable[[str], None]) -> int:
    """Read all of ``dataset`` in blocks along its first axis; returns the bytes read."""
    from fuel.datasets.hdf5_heap import HeapCheck

    if dataset.shape is None:
        return 0
    if len(dataset.shape) == 0:
        value = dataset[()]
        return int(getattr(value, "nbytes", 0))
    row = max(1, int(dataset.dtype.itemsize) * max(1, int(dataset.size // max(1, dataset.shape[0]))))
    block = max(1, _BLOCK_BYTES // row)
    heap = HeapCheck.of(dataset, f"{dataset.file.filename!r}, dataset {dataset.name!r}")
    total = 0
    try:
        for start in range(0, dataset.shape[0], block):
            stop = min(start + block, dataset.shape[0])
            if heap is not None:
                step(f"checking the global heap of rows {start}:{stop} of dataset {dataset.name!r}")
                heap.check(slice(start, stop))
            step(f"reading rows {start}:{stop} of dataset {dataset.name!r}")
            data = dataset[start:stop]
            total += int(getattr(data, "nbytes", 0))
    finally:
        if heap is not None:
            heap.close()
    return total


def _read_everything(path: str) -> int:
    """What the child runs; returns the bytes read. Raises on an error libhdf5 reports.

    The data comes first, the heap behind variable-length data checked before
    it is read; then Fuel's view of the file; then the attributes and
    dimension scales, whose variable-length values libhdf5 reads from the
    global heap without a check we could make first (a loop there is caught
    by the stall timeout).
    """
    import h5py

    from fuel.datasets.hdf5_layout import split_rows

    def step(text: str) -> None:
        _emit(step=text)

    total = 0
    step("opening the file")
    with h5py.File(path, "r") as h5file:
        splits: list[str] = []
        if "split" in h5file.attrs:
            step("checking the 'split' attribute")
            splits = list(dict.fromkeys(row.split for row in split_rows(h5file)))
        names: list[str] = []
        h5file.visit(names.append)
        datasets = [name for name in names if isinstance(h5file[name], h5py.Dataset)]
        for name in datasets:
            total += _read_dataset(h5file[name], step)
        _read_splits(h5file.filename, splits, step, labels=False)
        step("reading the root attributes")
        for key in h5file.attrs:
            h5file.attrs[key]
        for name in names:
            item = h5file[name]
            step(f"reading the attributes of {name!r}")
            for key in item.attrs:
                item.attrs[key]
            if name in datasets:
                step(f"reading the dimension scales of {name!r}")
                for dim in item.dims:
                    dim.label
                    for _scale_name, scale in dim.items():
                        scale[()]
        _read_splits(h5file.filename, splits, step, labels=True)
    return total


def _read_splits(path: str, splits: list[str], step: Callable[[str], None], labels: bool) -> None:
    """Build an H5PYDataset of every split and read its first and last examples (or its axis labels)."""
    from fuel.datasets.hdf5 import H5PYDataset

    for split in splits:
        step(f"building H5PYDataset(which_sets=({split!r},))")
        dataset = H5PYDataset(path, which_sets=(split,))
        if labels:
            step(f"reading the axis labels of split {split!r}")
            dataset.axis_labels
        else:
            step(f"reading the first and last examples of split {split!r}")
            dataset.get_data(None, [0, dataset.num_examples - 1] if dataset.num_examples > 1 else [0])
        dataset.close_file()


def _child(path: str) -> int:
    try:
        total = _read_everything(path)
    except Exception as err:  # noqa: BLE001 - every error libhdf5 or the layout reports is the finding
        _emit(error=f"{type(err).__name__}: {err}")
        return 0
    _emit(ok=True, bytes=total)
    return 0


def _reader(stream: Any, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def check_file(path: str, *, stall_timeout: float = STALL_TIMEOUT) -> FileCheck:
    """Read ``path`` completely in a child process and report what happened.

    Parameters
    ----------
    path : str
        An HDF5 file (any layout; Fuel's is checked when it has a ``split`` attribute).
    stall_timeout : float
        Seconds the child may go without finishing a step before it is
        stopped and the file reported as damaged (a read that hangs: libhdf5
        loops forever on some damaged files). Starting the child (Python and
        h5py) may take up to :data:`START_TIMEOUT` seconds on top.

    Returns
    -------
    FileCheck
        ``ok`` is true when every read succeeded.
    """
    report = FileCheck(path=str(path), ok=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "fuel.datasets.hdf5_check", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    finished = False
    while True:
        try:
            line = lines.get(timeout=stall_timeout if report.steps else stall_timeout + START_TIMEOUT)
        except queue.Empty:
            process.kill()
            process.wait()
            where = report.steps[-1] if report.steps else "starting"
            report.crashed = True
            report.problem = (
                f"reading made no progress for {stall_timeout:g} s while {where}: libhdf5 cannot read this file "
                "(it loops on some damaged files)"
            )
            return report
        if line is None:
            break
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "step" in message:
            report.steps.append(str(message["step"]))
        elif "error" in message:
            where = report.steps[-1] if report.steps else "starting"
            report.problem, finished = f"{message['error']} (while {where})", True
        elif message.get("ok"):
            report.ok, report.bytes_read, finished = True, int(message.get("bytes", 0)), True
    code = process.wait()
    if code != 0 or not finished:
        where = report.steps[-1] if report.steps else "starting"
        how = f"crashed ({_signal_name(code)})" if code < 0 else f"exited with status {code}"
        report.ok, report.crashed = False, True
        report.problem = f"the reading process {how} while {where}: libhdf5 cannot read this file"
    return report


if __name__ == "__main__":  # pragma: no cover - the child process
    raise SystemExit(_child(sys.argv[1]))
