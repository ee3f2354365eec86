"""Reading many rows of a run at once (a first look at a large log): NumPy arrays straight from SQLite.

Building a Python tuple per row and appending it to a channel costs a few
microseconds a row; here one query returns every row as numbers (a code for
the channel, the iteration, the value when it is a number, a flag, the rowid)
which ``numpy.fromiter`` packs into one structured array, split by channel
with NumPy. Only rows whose value is not a plain number (JSON: lists, text,
NaN, ...) are read again, by rowid, and decoded in Python; the last value of
each channel is read by its primary key, so ints stay ints.

Examples
--------
>>> import os, sqlite3, tempfile
>>> from blocks.log import SQLiteLog
>>> from blocks_extensions.dashboard.store import Segment
>>> path = os.path.join(tempfile.mkdtemp(), "log.sqlite")
>>> log = SQLiteLog(path)
>>> for t in range(3):
...     log.status["iterations_done"] = t
...     log.current_row["cost"] = 1.0 / (t + 1)
>>> log.close()
>>> connection = sqlite3.connect(path)
>>> segment = Segment(log.uuid)
>>> read_bulk(connection, segment, 0)
>>> list(segment.channels["cost"].times), segment.last_time
([0, 1, 2], 2)
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import numpy

from blocks_extensions.dashboard.store import Channel, _Damaged, _is_number

__all__ = ["read_bulk"]

_NUMBER = "is_json = 0 AND typeof(value) IN ('integer', 'real')"
_CHUNK = 500


def _decode(key: Any, time: Any, value: Any, is_json: Any, damaged: type[ValueError]) -> Any:
    if is_json:
        if not isinstance(value, (str, bytes)):
            raise damaged(f"the JSON value of {key!r} at iteration {time} is a {type(value).__name__}")
        return json.loads(value)
    return value


def _others(connection: sqlite3.Connection, rowids: list[int], damaged: type[ValueError]) -> dict[int, Any]:
    """The decoded values of the rows whose value is not a plain number, by rowid."""
    found: dict[int, Any] = {}
    for first in range(0, len(rowids), _CHUNK):
        chunk = rowids[first : first + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT rowid, key, time, value, is_json FROM entries WHERE rowid IN ({marks})"
        for rowid, key, time, value, is_json in connection.execute(query, chunk).fetchall():
            found[rowid] = _decode(key, time, value, is_json, damaged)
    return found


def read_bulk(connection: sqlite3.Connection, segment: Any, start: int, prior: tuple[int, float] = (0, 0.0)) -> None:
    """Read a run's rows at iterations ``>= start`` into ``segment`` (what was there from ``start`` is replaced).

    Sets the segment's channels, ``last_time``, ``tail`` (the rows at the
    last iteration, as the incremental reader compares them) and
    ``signature`` (count and rowid sum of the rows before ``last_time``;
    ``prior`` is that of the rows before ``start``).
    """
    keys = _keys(connection, segment.uuid, start)
    data = _rows(connection, segment.uuid, start, keys)
    for channel in segment.channels.values():
        channel.drop_from(start)
    values, numeric_codes, raws = _values(connection, data)
    order = numpy.argsort(data["k"], kind="stable")  # by channel, each in iteration order
    bounds = numpy.searchsorted(data["k"][order], numpy.arange(len(keys) + 1))
    for code, key in enumerate(keys):
        picked = order[bounds[code] : bounds[code + 1]]
        if len(picked):
            _fill_channel(connection, segment, key, data, values, picked, code in numeric_codes, raws.get(code, []))
    for name in [name for name, channel in segment.channels.items() if not channel.times]:
        del segment.channels[name]
    _set_tail(connection, segment, data, start, prior)


def _keys(connection: sqlite3.Connection, uuid: str, start: int) -> list[str]:
    """The channel names of the run's rows at iterations ``>= start``; each channel's code is its index."""
    keys = [row[0] for row in connection.execute(
        "SELECT DISTINCT key FROM entries WHERE uuid = ? AND time >= ?", (uuid, start)
    ).fetchall()]  # fmt: skip
    bad = [key for key in keys if not isinstance(key, str)]
    if bad:
        raise _Damaged(f"an entry has the key {bad[0]!r} (a string)")
    return keys


def _rows(connection: sqlite3.Connection, uuid: str, start: int, keys: list[str]) -> numpy.ndarray:
    """One structured array of the rows, ordered by iteration: channel code, iteration, number, is-number, rowid."""
    case = "CASE key " + " ".join("WHEN ? THEN ?" for _ in keys) + " ELSE -1 END"
    arguments: list[Any] = [item for code, key in enumerate(keys) for item in (key, code)]
    query = (
        f"SELECT {case}, CASE WHEN typeof(time) = 'integer' THEN time ELSE -1 END, "
        f"CASE WHEN {_NUMBER} THEN value ELSE 0.0 END, {_NUMBER}, rowid "
        "FROM entries WHERE uuid = ? AND time >= ? ORDER BY time, key"
    )
    dtype = [("k", "i4"), ("t", "i8"), ("v", "f8"), ("n", "i1"), ("r", "i8")]
    data = numpy.fromiter(connection.execute(query, [*arguments, uuid, start]), dtype=dtype)
    if len(data) and (data["t"] < 0).any():
        raise _Damaged("an entry has an iteration that is not an integer")
    return data


def _values(connection: sqlite3.Connection, data: numpy.ndarray) -> tuple[numpy.ndarray, set[int], dict[int, list]]:
    """Every row's value as a float (NaN when not a number), the codes of channels with numbers, and the raw
    ``(iteration, value)`` pairs of the rows whose value is not a plain number, by channel code."""
    values = data["v"].copy()
    others = numpy.flatnonzero(data["n"] == 0)
    decoded = _others(connection, [int(r) for r in data["r"][others]], _Damaged) if len(others) else {}
    numeric_codes = set(numpy.unique(data["k"][data["n"] == 1]).tolist())
    raws: dict[int, list[tuple[int, Any]]] = {}
    for index in others:
        value = decoded.get(int(data["r"][index]))
        code = int(data["k"][index])
        if _is_number(value):
            values[index] = float(value)
            numeric_codes.add(code)
        else:
            values[index] = math.nan
        raws.setdefault(code, []).append((int(data["t"][index]), value))
    return values, numeric_codes, raws


def _fill_channel(connection: sqlite3.Connection, segment: Any, key: str, data: numpy.ndarray, values: numpy.ndarray,
                  picked: numpy.ndarray, numeric: bool, raws: list[tuple[int, Any]]) -> None:
    """Append channel ``key``'s rows (``picked``, in iteration order) with their float ``values``; read its last."""
    channel = segment.channels.get(key)
    if channel is None:
        channel = segment.channels[key] = Channel(key)
    times = data["t"][picked]
    channel.times.frombytes(numpy.ascontiguousarray(times, dtype=numpy.int64).tobytes())
    channel.values.frombytes(numpy.ascontiguousarray(values[picked], dtype=numpy.float64).tobytes())
    channel.numeric = channel.numeric or numeric
    last_time = int(times[-1])
    last = connection.execute(
        "SELECT value, is_json FROM entries WHERE uuid = ? AND time = ? AND key = ?", (segment.uuid, last_time, key)
    ).fetchone()
    channel.last = _decode(key, last_time, last[0], last[1], _Damaged)
    if channel.keep:
        numbers = [(int(t), float(v)) for t, v, n in zip(times, values[picked], data["n"][picked]) if n]
        channel.raw.extend(sorted(numbers + raws, key=lambda item: item[0]))


def _set_tail(connection: sqlite3.Connection, segment: Any, data: numpy.ndarray, start: int,
              prior: tuple[int, float]) -> None:
    """The segment's ``last_time``, ``tail`` and ``signature`` after reading ``data``."""
    if not len(data):
        segment.signature = (start, *prior)
        segment.tail = []
        return
    last_time = int(data["t"].max())
    before = data["t"] < last_time
    segment.signature = (last_time, prior[0] + int(before.sum()), prior[1] + float(data["r"][before].sum()))
    segment.last_time = last_time
    segment.tail = connection.execute(
        "SELECT time, key, value, is_json FROM entries WHERE uuid = ? AND time = ? ORDER BY time, key",
        (segment.uuid, last_time),
    ).fetchall()
