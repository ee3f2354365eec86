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

import atexit
import logging
import multiprocessing
import os
import pickle
import queue as queue_module
import traceback
import weakref
from collections.abc import Iterator
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream
from fuel.transformers.base import Transformer

__all__ = ["BackgroundProcess", "MultiProcessing", "RemoteTraceback", "check_worker_safe", "iter_chain"]

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


class _Interrupted(Exception):
    def __init__(self, command: Any):
        super().__init__("new command")
        self.command = command


def _put(ready: Any, message: Any, stop: Any, parent: int, commands: Any) -> None:
    """Put ``message``; give up with :class:`_Interrupted` if a command arrives meanwhile."""
    while True:
        if stop.is_set() or os.getppid() != parent:
            raise _Stopped
        try:
            ready.put(message, timeout=_POLL_S)
            return
        except queue_module.Full:
            try:
                command = commands.get_nowait()
            except queue_module.Empty:
                continue
            raise _Interrupted(command) from None


def _wait_command(commands: Any, stop: Any, parent: int) -> Any:
    while True:
        if stop.is_set() or os.getppid() != parent:
            raise _Stopped
        try:
            return commands.get(timeout=_POLL_S)
        except queue_module.Empty:
            continue


def _error_message(generation: Any, err: BaseException) -> tuple[Any, ...]:
    text = traceback.format_exc()
    try:
        payload = pickle.dumps(err)
    except Exception:  # noqa: BLE001 - unpicklable exceptions travel as text only
        payload = None
    return ("error", generation, payload, text, repr(err))


def _worker_main(
    stream: AbstractDataStream, commands: Any, ready: Any, free: Any, stop: Any, slots: int, parent: int
) -> None:
    """Serve epochs on command; after finishing one, speculatively compute the next from its start."""
    pool = _SegmentPool(free, slots, stop)
    cursor: Cursor | None = None
    generation: Any = None
    epoch = 0
    pending: Any = None
    try:
        while True:
            command = pending
            pending = None
            if command is None:
                if cursor is None:
                    command = _wait_command(commands, stop, parent)
                else:
                    try:
                        command = commands.get_nowait()
                    except queue_module.Empty:
                        command = None
            if command is not None:
                if command[0] == "quit":
                    break
                _, generation, epoch, state = command
                if cursor is not None:
                    cursor.close()
                    cursor = None
                try:
                    cursor = stream.open_cursor(epoch, state)
                except Exception as err:  # noqa: BLE001 - reported to the trainer
                    _put(ready, _error_message(generation, err), stop, parent, commands)
                continue
            assert cursor is not None
            try:
                data = cursor.next()
            except StopIteration:
                cursor.close()
                cursor = None
                try:
                    _put(ready, ("stop", generation), stop, parent, commands)
                except _Interrupted as interrupted:
                    pending = interrupted.command
                    continue
                # Speculate: the next epoch from its start is what a trainer usually asks for next.
                generation = (generation[0], generation[1] + 1)
                epoch += 1
                try:
                    cursor = stream.open_cursor(epoch, None)
                except Exception as err:  # noqa: BLE001 - reported to the trainer if it adopts this epoch
                    _put(ready, _error_message(generation, err), stop, parent, commands)
                continue
            except Exception as err:  # noqa: BLE001 - reported to the trainer
                cursor.close()
                cursor = None
                try:
                    _put(ready, _error_message(generation, err), stop, parent, commands)
                except _Interrupted as interrupted:
                    pending = interrupted.command
                continue
            name, items = _encode(tuple(data), pool)
            try:
                _put(ready, ("data", generation, name, items, cursor.state_dict()), stop, parent, commands)
            except _Interrupted as interrupted:
                if name is not None:
                    free.put(name)
                pending = interrupted.command
    except _Stopped:
        pass
    finally:
        if cursor is not None:
            cursor.close()
        # Segments named in queued messages must outlive them: wait until the trainer closes us (or is gone).
        while not stop.wait(timeout=_POLL_S) and os.getppid() == parent:
            pass
        pool.release_all()


def _close_at_exit(reference: "weakref.ref[BackgroundProcess]") -> None:
    process = reference()
    if process is not None:
        process.close()


def iter_chain(data_stream: Any) -> Iterator[Any]:
    """Every stream, dataset and iteration scheme of a chain of streams, each once.

    Follows the attributes ``data_stream``, ``data_streams``, ``dataset``,
    ``iteration_scheme``, ``scheme`` and ``schemes``.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> from fuel.streams import DataStream
    >>> stream = DataStream(IndexableDataset([1]), iteration_scheme=SequentialScheme(1, 1))
    >>> [type(x).__name__ for x in iter_chain(stream)]
    ['DataStream', 'SequentialScheme', 'IndexableDataset']
    """
    seen: set[int] = set()
    pending = [data_stream]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        attributes = vars(item) if hasattr(item, "__dict__") else {}
        for name in ("data_stream", "dataset", "iteration_scheme", "scheme"):
            if attributes.get(name) is not None:
                pending.append(attributes[name])
        for name in ("data_streams", "schemes"):
            children = attributes.get(name)
            if isinstance(children, (list, tuple)):
                pending.extend(reversed(children))


def check_worker_safe(data_stream: Any) -> None:
    """Raise if a stream cannot be read from another process, before a worker is started.

    Walks the chain of streams, transformers, datasets and schemes
    (:func:`iter_chain`) and calls the ``check_worker_safe()`` method of each
    object that has one (e.g. :class:`~fuel.datasets.H5PYDataset` over an
    in-memory ``h5py.File``, a shuffled scheme drawing from a ``RandomState``).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> check_worker_safe(DataStream(IndexableDataset({"x": [1, 2]})))
    """
    for item in iter_chain(data_stream):
        check = getattr(type(item), "check_worker_safe", None)
        if callable(check):
            check(item)


class BackgroundProcess:
    """A worker process that computes epochs of a stream ahead of the trainer.

    The worker runs an epoch on command (:meth:`start_epoch`) and, when it
    finishes one, goes on with the next epoch from its start, which is what
    the trainer normally asks for next (epoch ``e + 1`` then costs no start-up).

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream the worker reads (pickled for ``spawn``; inherited with ``fork``).
    max_store : int
        Batches the worker may read ahead (the queue bound; shared-memory
        segments are recycled, at most ``max_store + 2``).
    start_method : str, optional
        ``'fork'``, ``'spawn'`` or ``'forkserver'`` (default: ``'fork'`` where
        available).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> proc = BackgroundProcess(DataStream(IndexableDataset({"x": [1, 2]})), max_store=1)
    >>> proc.start_epoch(0)
    >>> proc.get_next_data()[0], proc.get_next_data()[0]
    ((1,), (2,))
    >>> proc.close()
    """

    def __init__(self, data_stream: AbstractDataStream, max_store: int = 100, start_method: str | None = None):
        if not isinstance(max_store, int) or max_store < 1:
            raise ValueError(f"max_store must be a positive int, got {max_store!r}")
        check_worker_safe(data_stream)
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        if method not in methods:
            raise ValueError(f"start_method {method!r} is not available here; available: {methods}")
        context = multiprocessing.get_context(method)
        # Start the resource tracker now so the worker shares it: segments it creates and this process
        # attaches to are then tracked once, and unlinked once.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        self._commands = context.Queue()
        self._ready = context.Queue(maxsize=max_store)
        self._free = context.Queue()
        self._stop = context.Event()
        self._attached: dict[str, shared_memory.SharedMemory] = {}
        self._command_id = 0
        self._generation: Any = None
        self._finished = True
        self._last_stop: tuple[Any, int] | None = None
        self._epoch = 0
        self.closed = False
        self.process = context.Process(
            target=_worker_main,
            args=(data_stream, self._commands, self._ready, self._free, self._stop, max_store + 2, os.getpid()),
            daemon=True,
            name="fuel-background",
        )
        try:
            self.process.start()
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            self.close()
            raise ValueError(
                f"the stream cannot be sent to a {method!r} worker ({err}); use picklable functions "
                "(no lambdas) or start_method='fork'"
            ) from err
        # a stream nobody closed (a main loop does not close its stream) must not hang the interpreter's exit:
        # stop the worker before multiprocessing joins the queues' feeder threads (atexit runs in reverse order)
        atexit.register(_close_at_exit, weakref.ref(self))

    def start_epoch(self, epoch: int, child_state: Any = None) -> None:
        """Read ``epoch`` from ``child_state`` (``None``: its start) next."""
        last = self._last_stop
        if child_state is None and last is not None and last[1] + 1 == epoch:
            generation = (last[0][0], last[0][1] + 1)  # the worker is already computing it
        else:
            self._command_id += 1
            generation = (self._command_id, 0)
            self._commands.put(("start", generation, int(epoch), child_state))
        self._generation = generation
        self._epoch = int(epoch)
        self._finished = False
        self._last_stop = None

    def _segment(self, name: str) -> shared_memory.SharedMemory:
        segment = self._attached.get(name)
        if segment is None:
            # The worker shares this process's resource tracker, so attaching adds nothing to unregister;
            # the worker unlinks what it created.
            segment = shared_memory.SharedMemory(name=name)
            self._attached[name] = segment
        return segment

    def get_next_data(self) -> tuple[tuple[Any, ...], Any]:
        """``(data, cursor state after it)``; raises ``StopIteration`` at the end of the epoch."""
        if self._finished:
            raise StopIteration
        while True:
            try:
                message = self._ready.get(timeout=1.0)
            except queue_module.Empty:
                if not self.process.is_alive():
                    self._finished = True
                    raise RuntimeError(
                        f"the background worker died (exit code {self.process.exitcode}) without reporting an error"
                    ) from None
                continue
            kind, generation = message[0], message[1]
            if generation != self._generation:
                if kind == "data" and message[2] is not None:
                    self._free.put(message[2])  # stale read-ahead of an abandoned epoch
                continue
            break
        if kind == "stop":
            self._finished = True
            self._last_stop = (generation, self._epoch)
            raise StopIteration
        if kind == "error":
            self._finished = True
            _, _, payload, text, description = message
            cause = RemoteTraceback(text)
            if payload is not None:
                error = pickle.loads(payload)
            else:
                error = RuntimeError(f"background worker failed: {description}")
            raise error from cause
        _, _, name, items, state = message
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

    @property
    def alive(self) -> bool:
        """Whether the worker can take another epoch."""
        return not self.closed and self.process.is_alive()

    def close(self) -> None:
        """Stop the worker, join it, and release the shared memory."""
        if self.closed:
            return
        self.closed = True
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
        for q in (self._commands, self._ready, self._free):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


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
            self.worker = self.transformer._acquire_worker()
            self.worker.start_epoch(self.epoch, self.child_state)
        data, state = self.worker.get_next_data()
        self.child_state = state
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "child": self.child_state}

    def close(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            self.transformer._release_worker(worker)


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
    The worker process (a :class:`BackgroundProcess`) starts on the first
    ``next`` and is kept for the following epochs; when it finishes an epoch
    it goes on with the next one, so epoch boundaries cost nothing. A second
    epoch iterator open at the same time gets its own worker. The iterator's
    ``state_dict()`` holds the wrapped stream's position after the last batch
    the *trainer* received, so resuming neither skips nor repeats batches, and
    random transformers give the same data because their randomness depends
    on (seed, epoch, position). :meth:`close` stops the worker.

    A wrapped stream that keeps its iteration state in itself (Fuel's
    ``get_data`` protocol; ``data_stream.sequential``) runs in the one worker
    exactly as it would in the main process, resuming included. A pool that
    splits batches between several workers must run such a stream in one of
    them, or refuse it.

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
        check_worker_safe(data_stream)
        self.max_store = max_store
        self.start_method = start_method
        self._idle: BackgroundProcess | None = None

    # an epoch iterator dropped mid-epoch must release its worker at once, not at the next epoch
    _keep_latest_iterator = False

    def _acquire_worker(self) -> BackgroundProcess:
        worker, self._idle = self._idle, None
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            worker.close()
        return BackgroundProcess(self.data_stream, self.max_store, self.start_method)

    def _release_worker(self, worker: BackgroundProcess) -> None:
        if self._idle is None and worker.alive:
            self._idle = worker
        else:
            worker.close()

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:  # type: ignore[override]
        """A cursor whose worker starts at ``state['child']``."""
        child_state = state.get("child") if state else None
        position = int(state.get("position", 0)) if state else 0
        return _BackgroundCursor(self, epoch, child_state, position)

    def close(self) -> None:
        """Stop the background worker (a new one starts when needed)."""
        if self._idle is not None:
            worker, self._idle = self._idle, None
            worker.close()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_idle"] = None
        return state

    def __del__(self) -> None:
        try:
            if self.__dict__.get("_idle") is not None:
                self._idle.close()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
