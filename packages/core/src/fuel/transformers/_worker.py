"""The worker side of ``MultiProcessing``: compute items of a stream into shared memory.

Worker ``k`` of ``N`` computes items ``s + k, s + k + N, ...`` of an epoch
that starts at item ``s`` (``N = 1``: every item, in order, as the serial
stream would). Each item goes into a shared-memory segment of the worker's
own: numpy arrays as raw bytes, anything else pickled (inline in the message
when small); the message on the queue is a small header. The trainer gives
segments back on the ``free`` queue once the arrays it handed out over them
are gone; a worker makes a new segment when none is free, so a trainer that
keeps batches never blocks it. Segment names start with a per-pool prefix, so
that the trainer can remove every segment of a worker that was killed.

Examples
--------
>>> import queue
>>> pool = SegmentPool(queue.Queue(), prefix="fueldoctest_")
>>> name, layout = encode((np.arange(3, dtype="int32"), "a tag"), pool)
>>> name.startswith("fueldoctest_"), layout[0], [spec[:3] for spec in layout[1]], layout[2]
(True, 2, [(0, '<i4', (3,))], (1,))
>>> pool.release_all()
"""

from __future__ import annotations

import os
import pickle
import queue as queue_module
import traceback
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from fuel.iterator import Cursor

__all__: list[str] = []

ALIGN = 64
POLL_S = 0.1
#: non-array data pickled to at most this many bytes travels in the message itself
INLINE_BYTES = 2048


class Stopped(Exception):
    """The trainer closed the pool (or is gone)."""


class Interrupted(Exception):
    """A new command arrived while the worker waited to hand over an item."""

    def __init__(self, command: Any):
        super().__init__("new command")
        self.command = command


class SegmentPool:
    """This worker's shared-memory segments, recycled through the ``free`` queue."""

    def __init__(self, free: Any, prefix: str):
        self.free = free
        self.prefix = prefix
        self.count = 0
        self.segments: dict[str, shared_memory.SharedMemory] = {}
        self.idle: list[str] = []
        self.retired: list[str] = []

    def acquire(self, nbytes: int) -> shared_memory.SharedMemory:
        while True:
            try:
                name = self.free.get_nowait()
            except queue_module.Empty:
                break
            if name in self.segments:
                self.idle.append(name)
        for i, name in enumerate(self.idle):
            if self.segments[name].size >= nbytes:
                del self.idle[i]
                return self.segments[name]
        if self.idle:  # too small for this item: replace one, so that the pool does not grow
            self._retire(self.idle.pop())
        self.count += 1
        segment = shared_memory.SharedMemory(
            name=f"{self.prefix}{self.count}", create=True, size=max(nbytes, 1 << 16)
        )
        self.segments[segment.name] = segment
        return segment

    def give_back(self, name: str) -> None:
        if name in self.segments:
            self.idle.append(name)

    def take_retired(self) -> list[str]:
        retired, self.retired = self.retired, []
        return retired

    def _retire(self, name: str) -> None:
        segment = self.segments.pop(name)
        segment.close()
        segment.unlink()
        self.retired.append(name)

    def release_all(self) -> None:
        for segment in self.segments.values():
            try:
                segment.close()
                segment.unlink()
            except (FileNotFoundError, OSError):
                pass
        self.segments.clear()


def encode(data: tuple[Any, ...], pool: SegmentPool) -> tuple[str | None, tuple[Any, ...]]:
    """``(segment name or None, layout)`` of one item written into a segment of ``pool``."""
    arrays = [(i, d) for i, d in enumerate(data) if isinstance(d, np.ndarray) and not d.dtype.hasobject]
    in_arrays = {i for i, _ in arrays}
    others = [i for i in range(len(data)) if i not in in_arrays]
    blob = pickle.dumps([data[i] for i in others], protocol=pickle.HIGHEST_PROTOCOL) if others else b""
    inline = len(blob) <= INLINE_BYTES
    sizes = [-(-d.nbytes // ALIGN) * ALIGN for _, d in arrays]
    total = sum(sizes) + (0 if inline else len(blob))
    if not arrays and inline:
        return None, (len(data), (), tuple(others), blob)
    segment = pool.acquire(max(total, 1))
    specs = []
    offset = 0
    for (i, array), size in zip(arrays, sizes):
        target = np.ndarray(array.shape, dtype=array.dtype, buffer=segment.buf, offset=offset)
        np.copyto(target, array, casting="no")
        specs.append((i, array.dtype.str, array.shape, offset))
        offset += size
    objects: Any = blob
    if not inline:
        segment.buf[offset : offset + len(blob)] = blob
        objects = (offset, len(blob))
    return segment.name, (len(data), tuple(specs), tuple(others), objects)


def _put(ready: Any, message: Any, stop: Any, parent: int, commands: Any) -> None:
    """Put ``message``; give up with :class:`Interrupted` if a command arrives meanwhile."""
    while True:
        if stop.is_set() or os.getppid() != parent:
            raise Stopped
        try:
            ready.put(message, timeout=POLL_S)
            return
        except queue_module.Full:
            try:
                command = commands.get_nowait()
            except queue_module.Empty:
                continue
            raise Interrupted(command) from None


def _send(ready: Any, message: Any, stop: Any, parent: int, commands: Any) -> Any:
    """Put ``message``; the command that arrived instead (the message is then dropped), or ``None``."""
    try:
        _put(ready, message, stop, parent, commands)
    except Interrupted as interrupted:
        return interrupted.command
    return None


def _wait_command(commands: Any, stop: Any, parent: int) -> Any:
    while True:
        if stop.is_set() or os.getppid() != parent:
            raise Stopped
        try:
            return commands.get(timeout=POLL_S)
        except queue_module.Empty:
            continue


def _error_message(generation: Any, err: BaseException) -> tuple[Any, ...]:
    text = traceback.format_exc()
    try:
        payload = pickle.dumps(err)
    except Exception:  # noqa: BLE001 - unpicklable exceptions travel as text only
        payload = None
    return ("error", generation, payload, text, repr(err))


class _Epoch:
    """This worker's part of one epoch: a cursor moved to every ``stride``-th item from ``position``."""

    __slots__ = ("cursor", "generation", "epoch", "position", "stride")

    def __init__(self, stream: Any, generation: Any, epoch: int, state: Any, position: int, index: int, stride: int):
        self.generation = generation
        self.epoch = epoch
        self.stride = stride
        self.position = position + index
        self.cursor: Cursor | None = None
        cursor = stream.open_cursor(epoch, state)
        try:
            if index and stride > 1:
                cursor.seek(self.position)
        except BaseException:
            cursor.close()
            raise
        self.cursor = cursor

    def next(self) -> tuple[tuple[Any, ...], Any]:
        assert self.cursor is not None
        data = self.cursor.next()
        state = self.cursor.state_dict()
        self.position += self.stride
        if self.stride > 1:
            self.cursor.seek(self.position)
        return data, state

    def close(self) -> None:
        if self.cursor is not None:
            cursor, self.cursor = self.cursor, None
            cursor.close()


def worker_main(
    stream: Any, commands: Any, ready: Any, free: Any, stop: Any, parent: int, prefix: str, index: int, stride: int
) -> None:
    """Serve epochs on command; after finishing one, speculatively compute the next from its start."""
    pool = SegmentPool(free, prefix)
    part: _Epoch | None = None
    pending: Any = None
    try:
        while True:
            command = pending
            pending = None
            if command is None:
                if part is None:
                    command = _wait_command(commands, stop, parent)
                else:
                    try:
                        command = commands.get_nowait()
                    except queue_module.Empty:
                        command = None
            if command is not None:
                if command[0] == "quit":
                    break
                _, generation, epoch, state, position = command
                if part is not None:
                    part.close()
                    part = None
                try:
                    part = _Epoch(stream, generation, epoch, state, position, index, stride)
                except Exception as err:  # noqa: BLE001 - reported to the trainer
                    pending = _send(ready, _error_message(generation, err), stop, parent, commands)
                continue
            assert part is not None
            try:
                data, state = part.next()
            except StopIteration:
                generation, epoch = part.generation, part.epoch
                part.close()
                part = None
                pending = _send(ready, ("stop", generation), stop, parent, commands)
                if pending is not None:
                    continue
                # Speculate: the next epoch from its start is what a trainer usually asks for next.
                generation = (generation[0], generation[1] + 1)
                try:
                    part = _Epoch(stream, generation, epoch + 1, None, 0, index, stride)
                except Exception as err:  # noqa: BLE001 - reported to the trainer if it adopts this epoch
                    pending = _send(ready, _error_message(generation, err), stop, parent, commands)
                continue
            except Exception as err:  # noqa: BLE001 - reported to the trainer
                generation = part.generation
                part.close()
                part = None
                pending = _send(ready, _error_message(generation, err), stop, parent, commands)
                continue
            name, layout = encode(tuple(data), pool)
            retired = pool.take_retired()
            pending = _send(ready, ("data", part.generation, name, layout, state, retired), stop, parent, commands)
            if pending is not None:  # dropped: its segment is free again, the retired names go with the next
                if name is not None:
                    pool.give_back(name)
                pool.retired[:0] = retired
    except Stopped:
        pass
    finally:
        if part is not None:
            part.close()
        # Segments named in queued messages must outlive them: wait until the trainer closes us (or is gone).
        while not stop.wait(timeout=POLL_S) and os.getppid() == parent:
            pass
        pool.release_all()
