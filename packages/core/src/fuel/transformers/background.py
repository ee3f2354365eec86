"""Reading a stream ahead of time in background processes (Fuel's ``MultiProcessing``), one or a pool.

With one worker (the default) a background process runs the wrapped
stream's epochs, in order, as the trainer would. With ``workers=N`` a pool
of ``N`` processes splits every epoch: worker ``k`` computes items ``k,
k + N, ...`` of it by moving its cursor straight to them
(:meth:`~fuel.iterator.Cursor.seek`), so the wrapped stream must be
*seekable* (a dataset with a scheme under one-to-one transformers: decoding,
crops, flips, mappings...). The trainer takes the items in order, from
worker ``0``, ``1``, ... in turn, so the output is exactly the serial
stream's, whatever ``N``: random transformers draw from generators derived
from (seed, epoch, position), never from the order of calls.

Numpy arrays travel through shared memory (segments owned by the worker that
wrote them, recycled once the arrays handed out over them are gone; nothing
is copied in the trainer); only a small header goes through a queue. Each
message also carries the wrapped stream's cursor state *after* that item,
so the epoch iterator's state is the position of what the trainer has
consumed, not of what the workers have read ahead: resuming restarts the
workers exactly there, with any number of workers. An error in a worker is
re-raised in the trainer with the worker's traceback as its cause; a worker
that dies is a :class:`WorkerDiedError` within about a second.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(6)}), iteration_scheme=SequentialScheme(6, 2))
>>> [b[0].tolist() for b in MultiProcessing(stream, max_store=2).get_epoch_iterator()]
[[0, 1], [2, 3], [4, 5]]
>>> pool = MultiProcessing(stream, max_store=4, workers=2)
>>> [b[0].tolist() for b in pool.get_epoch_iterator()]
[[0, 1], [2, 3], [4, 5]]
>>> pool.close()
"""

from __future__ import annotations

import atexit
import collections
import logging
import math
import mmap
import multiprocessing
import os
import pickle
import queue as queue_module
import secrets
import signal
import weakref
from collections.abc import Iterator
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream
from fuel.transformers._worker import worker_main
from fuel.transformers.base import Transformer

__all__ = [
    "BackgroundProcess",
    "MultiProcessing",
    "RemoteTraceback",
    "WorkerDiedError",
    "check_pool_safe",
    "check_worker_safe",
    "iter_chain",
]

logger = logging.getLogger(__name__)

_WAIT_S = 1.0  # how often a trainer waiting for an item checks that its worker is alive
_SHM_DIRECTORY = "/dev/shm"


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a background worker (set as ``__cause__``)."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f"\n\"\"\"\n{self.tb}\"\"\""


class WorkerDiedError(RuntimeError):
    """A background worker process ended without reporting an error (killed, out of memory, a crash).

    Examples
    --------
    >>> issubclass(WorkerDiedError, RuntimeError)
    True
    """


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


def _children(stream: Any) -> list[Any]:
    attributes = vars(stream) if hasattr(stream, "__dict__") else {}
    children = []
    if isinstance(attributes.get("data_stream"), AbstractDataStream):
        children.append(attributes["data_stream"])
    nested = attributes.get("data_streams")
    if isinstance(nested, (list, tuple)):
        children.extend(s for s in nested if isinstance(s, AbstractDataStream))
    return children


def _why_not_seekable(stream: AbstractDataStream) -> str:
    """What makes ``stream`` (whose wrapped streams are all seekable) unable to seek."""
    from fuel.streams import DataStream

    name = type(stream).__name__
    if stream.sequential:
        return (
            f"{name} keeps its iteration state in itself (Fuel's get_data protocol, a dataset with epoch state, "
            "a scheme with its own get_request_iterator, or random draws from self.rng in call order), so its "
            "items can only be computed in order, in one process"
        )
    if isinstance(stream, Transformer) and not stream.is_one_to_one():
        return (
            f"{name} does not make each output from the wrapped stream's item at the same position (it batches, "
            "filters, caches or reads several items); a transformer that does sets one_to_one = True"
        )
    if isinstance(stream, DataStream) and stream.iteration_scheme is None:
        return f"{name} has no iteration scheme: its dataset is read in order"
    return f"{name} cannot move to an item of an epoch without reading the items before it"


def check_pool_safe(data_stream: AbstractDataStream, workers: int = 2) -> None:
    """Raise ``ValueError`` unless ``workers`` processes can split the epochs of ``data_stream``.

    A pool needs a *seekable* stream (``data_stream.seekable``): every
    stream of the pipeline computes any item from its position alone. The
    message names the first stream, from the dataset up, that does not.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import ConstantScheme, SequentialScheme
    >>> from fuel.streams import DataStream
    >>> from fuel.transformers import Batch
    >>> check_pool_safe(DataStream(IndexableDataset([1, 2]), iteration_scheme=SequentialScheme(2, 1)))
    >>> try:
    ...     check_pool_safe(Batch(DataStream(IndexableDataset([1, 2])), ConstantScheme(2)))
    ... except ValueError as err:
    ...     print(str(err).split("; ")[1][:30])
    Batch does not make each outpu
    """
    if data_stream.seekable:
        return
    culprit = data_stream
    while True:
        blocked = [child for child in _children(culprit) if not child.seekable]
        if not blocked:
            break
        culprit = blocked[0]
    raise ValueError(
        f"MultiProcessing(workers={workers}) splits every epoch between processes, so every stream of the "
        f"pipeline must compute an item from its position alone; {_why_not_seekable(culprit)}. Use workers=1 "
        "(one background process computes the items in order, exactly as the main process would), or wrap "
        "only the part of the pipeline below it in the pool"
    )


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Segments:
    """The trainer's side of one worker's shared-memory segments.

    Where POSIX shared memory is a directory of files (``/dev/shm``, Linux),
    a segment is mapped once and the arrays handed out are views of it, no
    copy: the segment goes back to the worker when the last of them is gone,
    and a mapping dropped while arrays use it goes with them. Elsewhere the
    arrays are copied out and the segment goes back at once.
    """

    def __init__(self, free: Any):
        self.free = free
        self.zero_copy = os.path.isdir(_SHM_DIRECTORY)
        self.attached: dict[str, Any] = {}
        # names whose arrays are all gone: appended by finalizers (any thread, any time), sent back by the trainer
        self.released: collections.deque[str] = collections.deque()

    def _buffer(self, name: str) -> Any:
        buffer = self.attached.get(name)
        if buffer is None:
            if self.zero_copy:
                fd = os.open(os.path.join(_SHM_DIRECTORY, name), os.O_RDWR)
                try:
                    buffer = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                finally:
                    os.close(fd)
            else:
                # The workers share this process's resource tracker, so attaching adds nothing to unregister;
                # each worker unlinks what it created.
                buffer = shared_memory.SharedMemory(name=name)
            self.attached[name] = buffer
        return buffer if self.zero_copy else buffer.buf

    def arrays(self, name: str, specs: tuple[Any, ...], out: list[Any]) -> None:
        buffer = self._buffer(name)
        # every array below is a view of `owner` (numpy stops collapsing view chains at an array over a
        # non-array buffer), so `owner` dies with the last of them: then the segment can be written again
        owner = np.frombuffer(buffer, dtype=np.uint8)
        for index, dtype, shape, offset in specs:
            dtype = np.dtype(dtype)
            nbytes = dtype.itemsize * math.prod(shape)
            array = owner[offset : offset + nbytes].view(dtype).reshape(shape)
            out[index] = array if self.zero_copy else array.copy()
        if self.zero_copy:
            weakref.finalize(owner, self.released.append, name)
        else:
            del owner
            self.free.put(name)

    def objects(self, name: str | None, where: Any) -> list[Any]:
        if isinstance(where, bytes):
            return pickle.loads(where)
        offset, length = where
        assert name is not None
        return pickle.loads(bytes(self._buffer(name)[offset : offset + length]))

    def flush(self) -> None:
        """Send the names of released segments back to the worker."""
        released = self.released
        while released:
            self.free.put(released.popleft())

    def forget(self, names: list[str]) -> None:
        """The worker unlinked these segments (it replaced them by bigger ones)."""
        for name in names:
            buffer = self.attached.pop(name, None)
            if buffer is not None:
                _close_buffer(buffer)

    def close(self) -> None:
        for buffer in self.attached.values():
            _close_buffer(buffer)
        self.attached.clear()


def _close_buffer(buffer: Any) -> None:
    """Unmap a segment here, unless arrays handed out still use it (it is unmapped when they are gone)."""
    try:
        buffer.close()
    except BufferError:
        pass


class _Worker:
    """One worker process of a pool, its queues and its segments."""

    def __init__(self, context: Any, data_stream: Any, store: int, stop: Any, prefix: str, index: int, count: int):
        self.index = index
        self.count = count
        self.prefix = prefix
        self.commands = context.Queue()
        self.ready = context.Queue(maxsize=store)
        self.free = context.Queue()
        self.segments = _Segments(self.free)
        self.process = context.Process(
            target=worker_main,
            args=(data_stream, self.commands, self.ready, self.free, stop, os.getpid(), prefix, index, count),
            daemon=True,
            name=f"fuel-worker-{index}" if count > 1 else "fuel-background",
        )

    def describe(self) -> str:
        if self.count == 1:
            return f"the background worker (pid {self.process.pid})"
        return f"worker {self.index} of {self.count} (pid {self.process.pid})"

    def receive(self, generation: Any) -> Any:
        """The next message of ``generation`` (older ones are dropped); raises if the process is gone."""
        self.segments.flush()
        while True:
            try:
                message = self.ready.get(timeout=_WAIT_S)
            except queue_module.Empty:
                if not self.process.is_alive():
                    raise WorkerDiedError(
                        f"{self.describe()} died ({_describe_exit(self.process.exitcode)}) without reporting an "
                        "error, e.g. killed or out of memory; the pool is closed: resume from the last checkpoint"
                    ) from None
                continue
            if message[1] == generation:
                return message
            if message[0] == "data":  # stale read-ahead of an abandoned epoch
                self.segments.forget(message[5])
                if message[2] is not None:
                    self.free.put(message[2])

    def decode(self, message: Any) -> tuple[tuple[Any, ...], Any]:
        _, _, name, layout, state, retired = message
        self.segments.forget(retired)
        count, specs, others, objects = layout
        out: list[Any] = [None] * count
        if others:
            for index, value in zip(others, self.segments.objects(name, objects)):
                out[index] = value
        if name is not None:
            if specs:
                self.segments.arrays(name, specs, out)  # gives the segment back when it may be written again
            else:
                self.free.put(name)  # only pickled data in it, read already
        return tuple(out), state

    def join(self, timeout: float) -> None:
        process = self.process
        if process.pid is None:
            return
        process.join(timeout=timeout)
        if process.is_alive():
            logger.warning("%s did not stop; terminating it", self.describe())
            process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    def close(self) -> None:
        self.segments.close()
        for q in (self.commands, self.ready, self.free):
            q.cancel_join_thread()
            q.close()
        _unlink_leftovers(self.prefix)


def _unlink_leftovers(prefix: str) -> None:
    """Unlink segments a worker created and did not remove (it was killed)."""
    try:
        names = [n for n in os.listdir(_SHM_DIRECTORY) if n.startswith(prefix)]
    except OSError:  # no /dev/shm here: nothing to look at
        return
    for name in names:
        try:
            segment = shared_memory.SharedMemory(name=name)
        except (FileNotFoundError, OSError):
            continue
        try:
            segment.unlink()  # and no longer tracked
        except (FileNotFoundError, OSError):
            pass
        segment.close()


class BackgroundProcess:
    """Worker processes that compute the epochs of a stream ahead of the trainer.

    The workers run an epoch on command (:meth:`start_epoch`) and, when they
    finish one, go on with the next epoch from its start, which is what the
    trainer normally asks for next (epoch ``e + 1`` then costs no start-up).
    With ``workers=N`` worker ``k`` computes items ``s + k, s + k + N, ...``
    of an epoch started at item ``s``; :meth:`get_next_data` takes them in
    order.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream the workers read (pickled for ``spawn``; inherited with
        ``fork``); seekable when ``workers > 1`` (:func:`check_pool_safe`).
    max_store : int
        Items the workers may compute ahead, all together (at least one each).
    start_method : str, optional
        ``'fork'``, ``'spawn'`` or ``'forkserver'`` (default: ``'fork'`` where
        available).
    workers : int
        Processes (default 1).

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

    def __init__(
        self, data_stream: AbstractDataStream, max_store: int = 100, start_method: str | None = None, workers: int = 1
    ):
        if not isinstance(max_store, int) or isinstance(max_store, bool) or max_store < 1:
            raise ValueError(f"max_store must be a positive int, got {max_store!r}")
        workers = _check_workers(workers)
        check_worker_safe(data_stream)
        if workers > 1:
            check_pool_safe(data_stream, workers)
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        if method not in methods:
            raise ValueError(f"start_method {method!r} is not available here; available: {methods}")
        context = multiprocessing.get_context(method)
        # Start the resource tracker now so the workers share it: segments they create and this process
        # attaches to are then tracked once, and unlinked once.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        self.closed = False
        self._stop = context.Event()
        prefix = f"fuel{secrets.token_hex(4)}_"
        store = -(-max_store // workers)
        self.workers = [
            _Worker(context, data_stream, store, self._stop, f"{prefix}{k}_", k, workers) for k in range(workers)
        ]
        self._command_id = 0
        self._generation: Any = None
        self._finished = True
        self._last_stop: tuple[Any, int] | None = None
        self._epoch = 0
        self._turn = 0
        try:
            for worker in self.workers:
                worker.process.start()
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            self.close()
            raise ValueError(
                f"the stream cannot be sent to a {method!r} worker ({err}); use picklable functions "
                "(no lambdas) or start_method='fork'"
            ) from err
        # a stream nobody closed (a main loop does not close its stream) must not hang the interpreter's exit:
        # stop the workers before multiprocessing joins the queues' feeder threads (atexit runs in reverse order)
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def process(self) -> Any:
        """The first worker's ``multiprocessing.Process``."""
        return self.workers[0].process

    @property
    def processes(self) -> list[Any]:
        """Every worker's ``multiprocessing.Process``."""
        return [worker.process for worker in self.workers]

    def start_epoch(self, epoch: int, child_state: Any = None, position: int = 0) -> None:
        """Compute ``epoch`` from ``child_state`` (``None``: its start), which is item ``position`` of it."""
        if self.closed:
            raise RuntimeError("this BackgroundProcess is closed")
        last = self._last_stop
        if child_state is None and last is not None and last[1] + 1 == epoch:
            generation = (last[0][0], last[0][1] + 1)  # the workers are already computing it
        else:
            self._command_id += 1
            generation = (self._command_id, 0)
            for worker in self.workers:
                worker.commands.put(("start", generation, int(epoch), child_state, int(position)))
        self._generation = generation
        self._epoch = int(epoch)
        self._finished = False
        self._last_stop = None
        self._turn = 0

    def get_next_data(self) -> tuple[tuple[Any, ...], Any]:
        """``(data, cursor state after it)``; raises ``StopIteration`` at the end of the epoch."""
        if self._finished:
            raise StopIteration
        worker = self.workers[self._turn]
        try:
            message = worker.receive(self._generation)
        except WorkerDiedError:
            self._finished = True
            self.close()
            raise
        kind = message[0]
        if kind == "stop":
            self._finished = True
            self._last_stop = (self._generation, self._epoch)
            raise StopIteration
        if kind == "error":
            self._finished = True
            _, _, payload, text, description = message
            cause = RemoteTraceback(text)
            if payload is not None:
                error = pickle.loads(payload)
            else:
                error = RuntimeError(f"{worker.describe()} failed: {description}")
            raise error from cause
        self._turn = (self._turn + 1) % len(self.workers)
        return worker.decode(message)

    @property
    def alive(self) -> bool:
        """Whether the workers can take another epoch."""
        return not self.closed and all(worker.process.is_alive() for worker in self.workers)

    def close(self) -> None:
        """Stop the workers, join them, and release the shared memory (arrays handed out stay valid)."""
        if self.closed:
            return
        self.closed = True
        self._finished = True
        self._stop.set()
        for worker in self.workers:
            worker.join(timeout=10)
        for worker in self.workers:
            worker.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive int (processes), got {workers!r}")
    return int(workers)


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
            self.worker.start_epoch(self.epoch, self.child_state, self.position)
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
    """Read the wrapped stream ahead of time in a background process, or a pool of them.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream to read in the background.
    max_store : int
        Items read ahead at most, by all workers together (Fuel's default,
        100; at least one per worker).
    start_method : str, optional
        Multiprocessing start method (default ``'fork'`` where available).
    workers : int
        Processes (default 1). More than one splits every epoch between
        them and needs a seekable stream (:func:`check_pool_safe`, checked
        here): a dataset with a scheme under one-to-one transformers.

    Notes
    -----
    The workers (a :class:`BackgroundProcess`) start on the first ``next``
    and are kept for the following epochs; when they finish an epoch they go
    on with the next one, so epoch boundaries cost nothing. A second epoch
    iterator open at the same time gets workers of its own. The iterator's
    ``state_dict()`` holds the wrapped stream's position after the last item
    the *trainer* received, and does not depend on the number of workers: a
    checkpoint resumes exactly, in O(1), with any ``workers``. Random
    transformers give the same data because their randomness depends on
    (seed, epoch, position). :meth:`close` stops the workers. Arrays are
    handed out without a copy, as views of shared memory that is reused once
    they are gone.

    A wrapped stream that keeps its iteration state in itself (Fuel's
    ``get_data`` protocol; ``data_stream.sequential``) runs in the one worker
    of ``workers=1`` exactly as it would in the main process, resuming
    included; a pool refuses it when it is built.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> MultiProcessing(DataStream(IndexableDataset({"x": [1]}))).sources
    ('x',)
    """

    def __init__(self, data_stream: AbstractDataStream, max_store: int = 100, start_method: str | None = None,
                 workers: int = 1, **kwargs: Any):
        super().__init__(data_stream, **kwargs)
        if not isinstance(max_store, int) or isinstance(max_store, bool) or max_store < 1:
            raise ValueError(f"max_store must be a positive int, got {max_store!r}")
        self.workers = _check_workers(workers)
        check_worker_safe(data_stream)
        if self.workers > 1:
            check_pool_safe(data_stream, self.workers)
        self.max_store = max_store
        self.start_method = start_method
        self._idle: BackgroundProcess | None = None

    # an epoch iterator dropped mid-epoch must release its workers at once, not at the next epoch
    _keep_latest_iterator = False

    @property
    def seekable(self) -> bool:
        """False: items come from the workers in order."""
        return False

    def _acquire_worker(self) -> BackgroundProcess:
        worker, self._idle = self._idle, None
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            worker.close()
        return BackgroundProcess(self.data_stream, self.max_store, self.start_method, self.workers)

    def _release_worker(self, worker: BackgroundProcess) -> None:
        if self._idle is None and worker.alive:
            self._idle = worker
        else:
            worker.close()

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:  # type: ignore[override]
        """A cursor whose workers start at ``state['child']``."""
        child_state = state.get("child") if state else None
        position = int(state.get("position", 0)) if state else 0
        return _BackgroundCursor(self, epoch, child_state, position)

    def close(self) -> None:
        """Stop the background workers (new ones start when needed)."""
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
