"""Reading a stream in a background process (Fuel's ``MultiProcessing``).

A worker process runs the wrapped stream's epoch and hands batches to the
trainer through a bounded queue; numpy arrays travel through shared memory
(a recycled pool of segments, one per batch in flight), only a small header
goes through the queue. Each message also carries the wrapped stream's cursor
state *after* that batch, so the trainer's epoch iterator can report the
position of what it has consumed, not of what the worker has read ahead:
resuming restarts the worker exactly there. An error in the worker is
re-raised in the trainer with the worker's traceback as its cause.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(6)}), iteration_scheme=SequentialScheme(6, 4))
>>> [b[0].tolist() for b in MultiProcessing(stream, max_store=2).get_epoch_iterator()]
[[0, 1, 2, 3], [4, 5]]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue as queue_module
import traceback
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream
from fuel.transformers.base import Transformer

__all__ = ["BackgroundProcess", "MultiProcessing", "RemoteTraceback"]

logger = logging.getLogger(__name__)

_ALIGN = 64
_POLL_S = 0.1


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a background worker (set as ``__cause__``)."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f"\n\"\"\"\n{self.tb}\"\"\""


def _encode(data: tuple[Any, ...], pool: "_SegmentPool") -> tuple[str | None, list[Any]]:
    arrays = [(i, d) for i, d in enumerate(data) if isinstance(d, np.ndarray) and not d.dtype.hasobject]
    if not arrays:
        return None, [("obj", d) for d in data]
    sizes = [-(-d.nbytes // _ALIGN) * _ALIGN for _, d in arrays]
    segment = pool.acquire(max(sum(sizes), 1))
    items: list[Any] = [("obj", d) for d in data]
    offset = 0
    for (i, array), size in zip(arrays, sizes):
        target = np.ndarray(array.shape, dtype=array.dtype, buffer=segment.buf, offset=offset)
        np.copyto(target, array, casting="no")
        items[i] = ("arr", array.dtype.str, array.shape, offset)
        offset += size
    return segment.name, items


class _SegmentPool:
    """Shared-memory segments owned by the worker, recycled through the free queue."""

    def __init__(self, free: Any, limit: int, stop: Any):
        self.free = free
        self.limit = limit
        self.stop = stop
        self.segments: dict[str, shared_memory.SharedMemory] = {}

    def acquire(self, nbytes: int) -> shared_memory.SharedMemory:
        while True:
            name = None
            if len(self.segments) < self.limit:
                try:
                    name = self.free.get_nowait()
                except queue_module.Empty:
                    segment = shared_memory.SharedMemory(create=True, size=max(nbytes, 1 << 16))
                    self.segments[segment.name] = segment
                    return segment
            else:
                while name is None:
                    if self.stop.is_set():
                        raise _Stopped
                    try:
                        name = self.free.get(timeout=_POLL_S)
                    except queue_module.Empty:
                        continue
            segment = self.segments[name]
            if segment.size >= nbytes:
                return segment
            segment.close()
            segment.unlink()
            del self.segments[name]
            bigger = shared_memory.SharedMemory(create=True, size=nbytes)
            self.segments[bigger.name] = bigger
            return bigger

    def release_all(self) -> None:
        for segment in self.segments.values():
            try:
                segment.close()
                segment.unlink()
            except (FileNotFoundError, OSError):
                pass
        self.segments.clear()


class _Stopped(Exception):
    pass


def _put(ready: Any, message: Any, stop: Any, parent: int) -> None:
    while True:
        if stop.is_set() or os.getppid() != parent:
            raise _Stopped
        try:
            ready.put(message, timeout=_POLL_S)
            return
        except queue_module.Full:
            continue


def _worker_main(
    stream: AbstractDataStream, epoch: int, child_state: Any, ready: Any, free: Any, stop: Any, slots: int, parent: int
) -> None:
    pool = _SegmentPool(free, slots, stop)
    try:
        cursor = stream.open_cursor(epoch, child_state)
        try:
            while True:
                try:
                    data = cursor.next()
                except StopIteration:
                    _put(ready, ("stop", None, None, None), stop, parent)
                    break
                name, items = _encode(tuple(data), pool)
                _put(ready, ("data", name, items, cursor.state_dict()), stop, parent)
        finally:
            cursor.close()
    except _Stopped:
        pass
    except BaseException as err:  # noqa: BLE001 - every failure is reported to the trainer
        text = traceback.format_exc()
        try:
            payload = pickle.dumps(err)
        except Exception:  # noqa: BLE001 - unpicklable exceptions travel as text only
            payload = None
        try:
            _put(ready, ("error", payload, text, repr(err)), stop, parent)
        except _Stopped:
            pass
    finally:
        # Segments named in queued messages must outlive them: wait until the trainer closes us (or is gone).
        while not stop.wait(timeout=_POLL_S) and os.getppid() == parent:
            pass
        pool.release_all()


class BackgroundProcess:
    """One epoch of a stream computed in a worker process.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream the worker reads (pickled for ``spawn``; inherited with ``fork``).
    epoch : int
        The epoch to read.
    child_state : dict, optional
        The cursor state of ``data_stream`` to start from (``None``: the start).
    max_store : int
        Batches the worker may read ahead (the queue bound, and the number of
        shared-memory segments).
    start_method : str, optional
        ``'fork'``, ``'spawn'`` or ``'forkserver'`` (default: ``'fork'`` where
        available).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> proc = BackgroundProcess(DataStream(IndexableDataset({"x": [1, 2]})), epoch=0, max_store=1)
    >>> proc.get_next_data()[0], proc.get_next_data()[0]
    ((1,), (2,))
    >>> proc.close()
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        epoch: int,
        child_state: Any = None,
        max_store: int = 100,
        start_method: str | None = None,
    ):
        if not isinstance(max_store, int) or max_store < 1:
            raise ValueError(f"max_store must be a positive int, got {max_store!r}")
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        if method not in methods:
            raise ValueError(f"start_method {method!r} is not available here; available: {methods}")
        context = multiprocessing.get_context(method)
        self._ready = context.Queue(maxsize=max_store)
        self._free = context.Queue()
        self._stop = context.Event()
        self._attached: dict[str, shared_memory.SharedMemory] = {}
        self._finished = False
        self.process = context.Process(
            target=_worker_main,
            args=(data_stream, epoch, child_state, self._ready, self._free, self._stop, max_store + 1, os.getpid()),
            daemon=True,
            name=f"fuel-background-epoch{epoch}",
        )
        try:
            self.process.start()
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise ValueError(
                f"the stream cannot be sent to a {method!r} worker ({err}); use picklable functions "
                "(no lambdas) or start_method='fork'"
            ) from err

    def _segment(self, name: str) -> shared_memory.SharedMemory:
        segment = self._attached.get(name)
        if segment is None:
            # The worker shares this process's resource tracker (fork and spawn), so attaching adds nothing
            # to unregister; the worker unlinks what it created.
            segment = shared_memory.SharedMemory(name=name)
            self._attached[name] = segment
        return segment

    def get_next_data(self) -> tuple[tuple[Any, ...], Any]:
        """``(data, cursor state after it)``; raises ``StopIteration`` at the end of the epoch."""
        if self._finished:
            raise StopIteration
        while True:
            try:
                kind, name, items, state = self._ready.get(timeout=1.0)
                break
            except queue_module.Empty:
                if not self.process.is_alive():
                    self._finished = True
                    raise RuntimeError(
                        f"the background worker died (exit code {self.process.exitcode}) without reporting an error"
                    ) from None
        if kind == "stop":
            self._finished = True
            raise StopIteration
        if kind == "error":
            self._finished = True
            cause = RemoteTraceback(items)
            error = pickle.loads(name) if name is not None else RuntimeError(f"background worker failed: {state}")
            raise error from cause
        if name is None:
            return tuple(value for _, value in items), state
        segment = self._segment(name)
        out = []
        for item in items:
            if item[0] == "obj":
                out.append(item[1])
            else:
                _, dtype, shape, offset = item
                out.append(np.ndarray(shape, dtype=np.dtype(dtype), buffer=segment.buf, offset=offset).copy())
        self._free.put(name)
        return tuple(out), state

    def close(self) -> None:
        """Stop the worker, join it, and release the shared memory."""
        self._finished = True
        self._stop.set()
        process = self.process
        if process.pid is not None:
            process.join(timeout=10)
            if process.is_alive():
                logger.warning("background worker %s did not stop; terminating it", process.pid)
                process.terminate()
                process.join(timeout=5)
        for segment in self._attached.values():
            try:
                segment.close()
            except (BufferError, OSError):
                pass
            try:
                segment.unlink()  # the worker normally did this already
            except (FileNotFoundError, OSError):
                pass
        self._attached.clear()
        for q in (self._ready, self._free):
            q.cancel_join_thread()
            q.close()


class _BackgroundCursor(Cursor):
    __slots__ = ("transformer", "epoch", "position", "child_state", "worker")

    def __init__(self, transformer: "MultiProcessing", epoch: int, child_state: Any, position: int):
        self.transformer = transformer
        self.epoch = epoch
        self.position = position
        self.child_state = child_state
        self.worker: BackgroundProcess | None = None

    def next(self) -> tuple[Any, ...]:
        if self.worker is None:
            t = self.transformer
            self.worker = BackgroundProcess(t.data_stream, self.epoch, self.child_state, t.max_store, t.start_method)
        data, state = self.worker.get_next_data()
        self.child_state = state
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "child": self.child_state}

    def close(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            worker.close()


class MultiProcessing(Transformer):
    """Read the wrapped stream ahead of time in a background process.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream to read in the background.
    max_store : int
        Batches read ahead at most (Fuel's default, 100).
    start_method : str, optional
        Multiprocessing start method (default ``'fork'`` where available).

    Notes
    -----
    One worker process per epoch iterator; it starts on the first ``next``
    and stops when the epoch ends or the iterator is closed. The iterator's
    ``state_dict()`` holds the wrapped stream's position after the last batch
    the *trainer* received, so resuming neither skips nor repeats batches,
    and random transformers give the same data because their randomness
    depends on (seed, epoch, position).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> MultiProcessing(DataStream(IndexableDataset({"x": [1]}))).sources
    ('x',)
    """

    def __init__(self, data_stream: AbstractDataStream, max_store: int = 100, start_method: str | None = None,
                 **kwargs: Any):
        super().__init__(data_stream, **kwargs)
        if not isinstance(max_store, int) or max_store < 1:
            raise ValueError(f"max_store must be a positive int, got {max_store!r}")
        self.max_store = max_store
        self.start_method = start_method

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:  # type: ignore[override]
        """A cursor whose worker starts at ``state['child']``."""
        child_state = state.get("child") if state else None
        position = int(state.get("position", 0)) if state else 0
        return _BackgroundCursor(self, epoch, child_state, position)
