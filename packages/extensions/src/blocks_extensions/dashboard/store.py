"""Reading SQLite training logs for the dashboard: short read-only transactions, cached, incremental.

The format is the one :class:`blocks.log.SQLiteLog` documents (tables
``runs``, ``entries``, ``status`` and ``clock``). Every refresh opens the file
read-only (``mode=ro``), reads inside one short transaction and closes the
connection: no reader is ever held open between polls, so the writer's WAL
checkpoints are never blocked and the ``-wal`` file stays bounded.

Only what changed is read again: the rows of each run at or after the last
iteration already read (the framework writes at the current iteration, and
rewrites of it are seen), plus a periodic check (count and rowid sum of the
older rows) that reloads a run whose older rows were changed in place. A
large read (a first look at a big log) goes through
:mod:`~blocks_extensions.dashboard.bulk` (NumPy arrays straight from SQLite).

Examples
--------
>>> import os, tempfile
>>> from blocks.log import SQLiteLog
>>> path = os.path.join(tempfile.mkdtemp(), "log.sqlite")
>>> writer = SQLiteLog(path)
>>> writer.current_row["cost"] = 0.5
>>> writer.close()
>>> log = LogFile(path)
>>> log.refresh()
>>> [run.channels() for run in log.runs()]
[['cost']]
"""

from __future__ import annotations

import bisect
import json
import math
import os
import pathlib
import sqlite3
import threading
import time as time_module
from array import array
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHECKPOINT_CHANNELS",
    "FINISH_AFTER_STATUS",
    "SQLITE_MAGIC",
    "Channel",
    "LogFile",
    "Run",
    "Segment",
    "is_sqlite_file",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
CHECKPOINT_CHANNELS = ("saved_to", "nonfinite_saved_to")
"""Channels whose every value is kept: the paths written by ``Checkpoint`` (``blocks.extensions.SAVED_TO``)."""
FINISH_AFTER_STATUS = "_finish_after"
"""Status key of ``FinishAfter``'s limits (``blocks.extensions.training.FINISH_AFTER_STATUS``)."""
VERIFY_EVERY = 10.0
"""Seconds between checks that a run's older rows were not changed in place."""
BULK_ROWS = 5000
"""Reads of more rows than this go through :mod:`~blocks_extensions.dashboard.bulk` (NumPy arrays)."""
REFRESH_EVERY = 5.0
"""Seconds after which a file is read again even when its size and modification time look unchanged."""


def is_sqlite_file(path: str) -> bool:
    """Whether ``path`` is a regular file that starts like an SQLite database.

    Examples
    --------
    >>> is_sqlite_file(__file__)
    False
    """
    try:
        with open(path, "rb") as file:
            return file.read(16) == SQLITE_MAGIC
    except OSError:
        return False


class _Damaged(ValueError):
    """A row of the wrong shape."""


def _numbers(values: array) -> Any:
    """A NumPy copy of an ``array.array`` (a copy: a view would forbid appending to the array)."""
    import numpy

    return numpy.array(values, dtype=numpy.int64 if values.typecode == "q" else numpy.float64)


def _merge(parts: list[tuple[Any, Any, float]]) -> tuple[Any, Any]:
    """One ``(times, values)`` from the segments of a history, oldest first, each cut below its ``limit``.

    Times are sorted; where segments share a time, the later segment's value is kept.
    """
    import numpy

    times, values = [], []
    for t, v, limit in parts:
        end = len(t) if limit == math.inf else int(numpy.searchsorted(t, limit, side="left"))
        times.append(t[:end])
        values.append(v[:end])
    if not times:
        return numpy.zeros(0, numpy.int64), numpy.zeros(0, numpy.float64)
    overlap = any(len(a) and len(b) and b[0] <= a[-1] for a, b in zip(times, times[1:]))
    t, v = numpy.concatenate(times), numpy.concatenate(values)
    if overlap:  # rare: rows a resumed run rewrote
        order = numpy.argsort(t, kind="stable")
        t, v = t[order], v[order]
        last = numpy.append(t[1:] != t[:-1], True)  # the last (newest) of each run of equal times
        t, v = t[last], v[last]
    return t, v


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Channel:
    """One channel of one run segment: iterations and float values (NaN where a value is not a number).

    Examples
    --------
    >>> channel = Channel("cost")
    >>> channel.append(0, 1.5); channel.append(1, "text")
    >>> list(channel.times), channel.numeric, channel.last
    ([0, 1], True, 'text')
    """

    __slots__ = ("keep", "last", "name", "numeric", "raw", "times", "values")

    def __init__(self, name: str) -> None:
        self.name = name
        self.times = array("q")
        self.values = array("d")
        self.numeric = False
        self.last: Any = None
        self.keep = name in CHECKPOINT_CHANNELS
        self.raw: list[tuple[int, Any]] = []

    def append(self, time: int, value: Any) -> None:
        self.times.append(time)
        if _is_number(value):
            self.numeric = True
            self.values.append(float(value))
        else:
            self.values.append(math.nan)
        self.last = value
        if self.keep:
            self.raw.append((time, value))

    def drop_from(self, time: int) -> None:
        """Forget the values at iterations ``>= time`` (they are read again)."""
        while self.times and self.times[-1] >= time:
            self.times.pop()
            self.values.pop()
        while self.raw and self.raw[-1][0] >= time:
            self.raw.pop()


@dataclass
class Segment:
    """What one run (one ``uuid`` of the ``runs`` table) wrote, as read so far."""

    uuid: str
    channels: dict[str, Channel] = field(default_factory=dict)
    last_time: int = -1
    clock_times: array = field(default_factory=lambda: array("q"))
    clock_walls: array = field(default_factory=lambda: array("d"))
    signature: tuple[int, int, float] | None = None  # (bound, count, rowid sum) of the rows before bound
    verified: float = 0.0
    version: int = 0
    tail: list[tuple] = field(default_factory=list)  # the rows read at last_time (to see rewrites)
    tail_clock: list[tuple] = field(default_factory=list)


@dataclass
class Run:
    """A run as the dashboard shows it: a run of the file and the runs it was resumed from, as one history.

    ``chain`` lists ``(segment, limit)`` oldest first: each segment
    contributes its iterations below ``limit`` (where the next one resumed).
    """

    log: LogFile
    uuid: str
    chain: list[tuple[Segment, float]]
    info: dict[str, Any]
    status: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.log.index}:{self.uuid}"

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(segment.version for segment, _ in self.chain)

    def channels(self) -> list[str]:
        """Names of the channels with at least one number, in order of first appearance."""
        names: dict[str, None] = {}
        for segment, _ in self.chain:
            for name, channel in segment.channels.items():
                if channel.numeric:
                    names.setdefault(name, None)
        return list(names)

    def series(self, name: str) -> tuple[Any, Any]:
        """``(iterations, values)`` of a channel over the whole history, as NumPy arrays.

        Where a run and the one it resumed both hold an iteration (the
        resumed run rewrites the rows it had in memory), the later run's value
        wins, as :class:`blocks.log.SQLiteLog` reads it.
        """
        parts = []
        for segment, limit in self.chain:
            channel = segment.channels.get(name)
            if channel is not None and channel.times:
                parts.append((_numbers(channel.times), _numbers(channel.values), limit))
        return _merge(parts)

    def clock(self) -> tuple[Any, Any]:
        """``(iterations, wall times)`` of the history's clock (empty for logs written before it existed)."""
        return _merge([(_numbers(s.clock_times), _numbers(s.clock_walls), limit) for s, limit in self.chain])

    def last_values(self) -> dict[str, tuple[int, Any]]:
        """Every channel's last value and its iteration (a later segment's value wins)."""
        last: dict[str, tuple[int, Any]] = {}
        for segment, limit in self.chain:
            for name, channel in segment.channels.items():
                times = channel.times
                if not times:
                    continue
                if limit == math.inf or times[-1] < limit:
                    last[name] = (times[-1], channel.last)
                    continue
                index = bisect.bisect_left(times, limit) - 1  # rare: rows after where the next run resumed
                if index >= 0:
                    last[name] = (times[index], channel.values[index] if channel.numeric else None)
        return last

    def checkpoints(self) -> list[dict[str, Any]]:
        """The checkpoints written during the history: iteration, path, kind, and whether the file exists."""
        found: list[dict[str, Any]] = []
        for segment, limit in self.chain:
            for name in CHECKPOINT_CHANNELS:
                channel = segment.channels.get(name)
                if channel is None:
                    continue
                for time, value in channel.raw:
                    if time >= limit:
                        continue
                    paths = value if isinstance(value, list) else [value]
                    for path in paths:
                        if isinstance(path, str):
                            found.append({"iteration": time, "path": path, "nonfinite": name != "saved_to"})
        latest: dict[str, dict[str, Any]] = {}
        for record in found:  # a file rewritten later is listed once, at its last write
            latest.pop(record["path"], None)
            latest[record["path"]] = record
        for record in latest.values():
            record["exists"] = os.path.isfile(record["path"])
        return sorted(latest.values(), key=lambda r: r["iteration"])


def _connect(path: str) -> sqlite3.Connection:
    uri = f"{pathlib.Path(path).as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None, check_same_thread=False)
    return connection


def _stat(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


class LogFile:
    """One SQLite log file, read on demand (see the module).

    Parameters
    ----------
    path : str
        The database file.
    name : str, optional
        How the page names it (default: the path).
    index : int, optional
        Its number in the server's list (part of each run's id).

    Examples
    --------
    >>> LogFile("/nonexistent.sqlite").name
    '/nonexistent.sqlite'
    """

    def __init__(self, path: str, name: str | None = None, index: int = 0) -> None:
        self.path = os.path.abspath(path)
        self.name = name or path
        self.index = index
        self.error: str | None = None
        self.segments: dict[str, Segment] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.has_clock = False
        self._stamp: tuple[Any, ...] | None = None
        self._read_at = -math.inf
        self.lock = threading.RLock()
        """Held while reading the file and while a view is built from what was read."""

    # -- reading ------------------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Read what changed since the last refresh (nothing when the files look untouched).

        Failures (a damaged or vanished file) are kept in :attr:`error`, never raised.
        """
        with self.lock:
            stamp = (_stat(self.path), _stat(self.path + "-wal"))
            now = time_module.monotonic()
            if not force and stamp == self._stamp and now - self._read_at < REFRESH_EVERY:
                return
            try:
                if stamp[0] is None:
                    raise ValueError(f"{self.name}: the file is gone")
                if not is_sqlite_file(self.path):
                    raise ValueError(f"{self.name} is not an SQLite database")
                self._read(verify=stamp != self._stamp)
                self.error = None
            except sqlite3.OperationalError as err:
                if "locked" in str(err) or "busy" in str(err):
                    return  # the writer holds an exclusive lock for a moment: keep what was read, retry later
                self._fail(f"{self.name}: cannot read the log: {err}")
            except sqlite3.DatabaseError as err:
                self._fail(f"{self.name} is damaged or not a log of the sqlite backend: {err}")
            except (_Damaged, json.JSONDecodeError, RecursionError) as err:
                self._fail(f"{self.name} is damaged: {err}")
            except (ValueError, OSError) as err:
                self._fail(str(err))
            self._stamp = stamp
            self._read_at = now

    def _fail(self, message: str) -> None:
        self.error = message
        self.segments, self.infos, self.statuses = {}, {}, {}

    def _read(self, verify: bool) -> None:
        connection = _connect(self.path)
        try:
            connection.execute("BEGIN")  # one snapshot for the whole refresh, released at the end
            try:
                self._read_in(connection, verify)
            finally:
                connection.execute("COMMIT")
        finally:
            connection.close()

    def _read_in(self, connection: sqlite3.Connection, verify: bool) -> None:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"runs", "entries", "status"} - tables
        if missing:
            raise _Damaged(f"it lacks the table(s) {', '.join(sorted(missing))} of an SQLiteLog")
        self.has_clock = "clock" in tables
        infos = {}
        for uuid, resumed_from, resumed_at, created in connection.execute(
            "SELECT uuid, resumed_from, resumed_at, created FROM runs ORDER BY created"
        ).fetchall():
            if not isinstance(uuid, str) or not (resumed_from is None or isinstance(resumed_from, str)):
                raise _Damaged(f"a run has the identifier {uuid!r} resumed from {resumed_from!r}")
            if not (resumed_at is None or type(resumed_at) is int) or not (created is None or _is_number(created)):
                raise _Damaged(f"run {uuid} has resumed_at {resumed_at!r} and created {created!r}")
            infos[uuid] = {"uuid": uuid, "resumed_from": resumed_from, "resumed_at": resumed_at, "created": created}
        statuses: dict[str, dict[str, Any]] = {uuid: {} for uuid in infos}
        for uuid, key, value in connection.execute("SELECT uuid, key, value FROM status").fetchall():
            if uuid in statuses and isinstance(key, str):
                if not isinstance(value, (str, bytes)):
                    raise _Damaged(f"the status {key!r} of run {uuid} is stored as {type(value).__name__}")
                statuses[uuid][key] = json.loads(value)
        self.segments = {uuid: self.segments.get(uuid) or Segment(uuid) for uuid in infos}
        now = time_module.monotonic()
        for segment in self.segments.values():
            self._update(connection, segment, now, verify)
        self.infos, self.statuses = infos, statuses

    def _update(self, connection: sqlite3.Connection, segment: Segment, now: float, verify: bool) -> None:
        if verify and segment.signature is not None and now - segment.verified >= VERIFY_EVERY:
            segment.verified = now
            if self._signature(connection, segment.uuid, 0, segment.signature[0]) != segment.signature[1:]:
                fresh = Segment(segment.uuid, version=segment.version + 1)  # older rows changed: read it all
                segment.__dict__.update(fresh.__dict__)
        start = max(segment.last_time, 0)
        many = connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM entries WHERE uuid = ? AND time >= ? LIMIT ?)",
            (segment.uuid, start, BULK_ROWS + 1),
        ).fetchone()[0]
        if many > max(BULK_ROWS, len(segment.tail)):  # a first look at a large run, or much written since: NumPy
            self._update_bulk(connection, segment, start, now)
            return
        clock: list[tuple] = []
        if self.has_clock:
            clock = connection.execute(
                "SELECT time, wall FROM clock WHERE uuid = ? AND time >= ? ORDER BY time", (segment.uuid, start)
            ).fetchall()
        rows = connection.execute(
            "SELECT time, key, value, is_json FROM entries WHERE uuid = ? AND time >= ? ORDER BY time, key",
            (segment.uuid, start),
        ).fetchall()
        if segment.signature is not None and rows == segment.tail and clock == segment.tail_clock:
            return  # nothing new
        self._apply(segment, start, rows, clock)
        bound = segment.last_time
        segment.tail = [row for row in rows if row[0] == bound]
        segment.tail_clock = [row for row in clock if row[0] >= bound]
        if segment.signature is None:
            segment.signature = (bound, *self._signature(connection, segment.uuid, 0, bound))
            segment.verified = now
        elif segment.signature[0] != bound:  # the rows between the old and the new bound, read just now
            old, count, total = segment.signature
            more = self._signature(connection, segment.uuid, old, bound)
            segment.signature = (bound, count + more[0], total + more[1])

    def _update_bulk(self, connection: sqlite3.Connection, segment: Segment, start: int, now: float) -> None:
        import numpy

        from blocks_extensions.dashboard.bulk import read_bulk

        first = segment.signature is None
        if not first and segment.signature[0] == start:
            prior = segment.signature[1:]
        else:
            prior = self._signature(connection, segment.uuid, 0, start) if start > 0 else (0, 0.0)
        read_bulk(connection, segment, start, prior)
        while segment.clock_times and segment.clock_times[-1] >= start:
            segment.clock_times.pop()
            segment.clock_walls.pop()
        if self.has_clock:
            clock = numpy.fromiter(connection.execute(
                "SELECT time, wall FROM clock WHERE uuid = ? AND time >= ? AND typeof(time) = 'integer' "
                "AND typeof(wall) IN ('integer', 'real') ORDER BY time", (segment.uuid, start),
            ), dtype=[("t", "i8"), ("w", "f8")])  # fmt: skip
            segment.clock_times.frombytes(numpy.ascontiguousarray(clock["t"]).tobytes())
            segment.clock_walls.frombytes(numpy.ascontiguousarray(clock["w"]).tobytes())
            segment.tail_clock = connection.execute(
                "SELECT time, wall FROM clock WHERE uuid = ? AND time >= ? ORDER BY time",
                (segment.uuid, max(segment.last_time, 0)),
            ).fetchall()
        segment.version += 1
        if first:
            segment.verified = now

    @staticmethod
    def _signature(connection: sqlite3.Connection, uuid: str, low: int, high: int) -> tuple[int, float]:
        """Count and rowid sum of a run's entries at iterations in ``[low, high)`` (a rewrite changes a rowid)."""
        count, total = connection.execute(
            "SELECT count(*), total(rowid) FROM entries WHERE uuid = ? AND time >= ? AND time < ?", (uuid, low, high)
        ).fetchone()
        return count, total

    @staticmethod
    def _apply(segment: Segment, start: int, rows: list[tuple], clock: list[tuple]) -> None:
        channels = segment.channels
        changed = bool(rows) or segment.last_time < 0
        for channel in channels.values():
            if channel.times and channel.times[-1] >= start:
                channel.drop_from(start)
                changed = True
        last = segment.last_time
        loads = json.loads
        for time, key, value, is_json in rows:
            if type(time) is not int or not isinstance(key, str):
                raise _Damaged(f"an entry has iteration {time!r} and key {key!r} (an integer and a string)")
            if is_json:
                if not isinstance(value, (str, bytes)):
                    raise _Damaged(f"the JSON value of {key!r} at iteration {time} is a {type(value).__name__}")
                value = loads(value)
            channel = channels.get(key)
            if channel is None:
                channel = channels[key] = Channel(key)
            channel.append(time, value)
            last = time
        for name in [name for name, channel in channels.items() if not channel.times]:
            del channels[name]
        LogFile._apply_clock(segment, start, clock)
        segment.last_time = last
        if changed or clock:
            segment.version += 1

    @staticmethod
    def _apply_clock(segment: Segment, start: int, clock: list[tuple]) -> None:
        while segment.clock_times and segment.clock_times[-1] >= start:
            segment.clock_times.pop()
            segment.clock_walls.pop()
        for time, wall in clock:
            if type(time) is int and _is_number(wall):
                segment.clock_times.append(time)
                segment.clock_walls.append(float(wall))

    # -- views --------------------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        """Every run that no other run resumed from, each with the chain of runs it continues."""
        parents = {info["resumed_from"] for info in self.infos.values() if info["resumed_from"]}
        found = []
        for uuid, info in self.infos.items():
            if uuid in parents:
                continue
            chain: list[tuple[Segment, float]] = []
            current: str | None = uuid
            limit = math.inf
            seen: set[str] = set()
            while current is not None and current in self.segments and current not in seen:
                seen.add(current)
                chain.append((self.segments[current], limit))
                resumed_at = self.infos[current]["resumed_at"]
                if resumed_at is not None:
                    limit = min(limit, resumed_at)
                current = self.infos[current]["resumed_from"]
            chain.reverse()
            found.append(Run(self, uuid, chain, info, self.statuses.get(uuid, {})))
        return found
