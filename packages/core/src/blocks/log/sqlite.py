"""The SQLite training log (backend ``sqlite``)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pathlib
import sqlite3
import time as time_module
from collections.abc import Iterator, MutableMapping
from typing import Any

from blocks.log.base import TrainingLogBase, default_status, jsonable_value

__all__ = ["SQLiteLog"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (uuid TEXT PRIMARY KEY, resumed_from TEXT, resumed_at INTEGER, created REAL);
CREATE TABLE IF NOT EXISTS entries (uuid TEXT, time INTEGER, key TEXT, value, is_json INTEGER NOT NULL DEFAULT 0,
                                    PRIMARY KEY (uuid, time, key));
CREATE TABLE IF NOT EXISTS status (uuid TEXT, key TEXT, value TEXT, PRIMARY KEY (uuid, key));
CREATE TABLE IF NOT EXISTS clock (uuid TEXT, time INTEGER, wall REAL, PRIMARY KEY (uuid, time));
"""


def _encode(key: str, value: Any) -> tuple[Any, int]:
    """A log value as an SQLite value and a flag telling whether it is JSON text."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value), 1
    if isinstance(value, float):
        return (json.dumps(value), 1) if math.isnan(value) else (value, 0)
    if isinstance(value, (int, str)):
        return value, 0
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in {"numpy", "torch"}:
        plain = value.tolist()
        if isinstance(plain, (int, float, bool)):
            return _encode(key, plain)
        return json.dumps(plain), 1
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(_plain(value)), 1
        except (TypeError, ValueError) as err:
            raise ValueError(f"log value {key!r} is not JSON-able: {err}") from None
    raise ValueError(
        f"log value {key!r} of type {type(value).__name__} cannot be stored by the sqlite log: use numbers, "
        "strings, bools, None, lists/dicts of those, numpy arrays or tensors"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in {"numpy", "torch"}:
        return value.tolist()
    return value


class _Damaged(ValueError):
    """A stored row of the wrong shape (raised while reading, reported with the file's name)."""


@contextlib.contextmanager
def _reading(database: str) -> Iterator[None]:
    """Errors from reading a damaged or foreign database become a ``ValueError`` naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as err:
        raise ValueError(f"cannot read {database!r} as a log of the sqlite backend: {err}") from None
    except RecursionError:
        raise ValueError(f"{database!r} holds a value nested too deeply to read: a damaged log?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{database!r} holds a damaged JSON value ({err})") from None
    except _Damaged as err:
        raise ValueError(f"{database!r} is damaged: {err}") from None


def _decode(value: Any, is_json: int) -> Any:
    if not is_json:
        return value
    if not isinstance(value, (str, bytes, bytearray)):
        raise _Damaged(f"a JSON value is stored as {type(value).__name__}")
    return json.loads(value)


class _Row(MutableMapping):
    """A row of an :class:`SQLiteLog`: reads from the log's cache, writes through to the database."""

    __slots__ = ("_data", "_log", "_time")

    def __init__(self, log: SQLiteLog, time: int, data: dict[str, Any]) -> None:
        self._log = log
        self._time = time
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setitem__(self, key: str, value: Any) -> None:
        self._log._write(self._time, key, value)
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self._log._delete(self._time, key)
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __eq__(self, other: object) -> bool:
        return dict(self._data) == (dict(other) if isinstance(other, MutableMapping) else other)


def _main_process() -> bool:
    import sys

    if "torch.distributed" not in sys.modules:  # no process group can exist without it
        return True
    from blocks.distributed import is_main_process

    return is_main_process()


class SQLiteLog(TrainingLogBase):
    """Training log in an SQLite database, readable by other processes while training runs.

    The database is in WAL mode: a second connection (another process, or
    ``blocks log PATH``) reads every row up to the last flush while this one
    writes. Writes are buffered and committed at the latest every
    ``flush_every`` seconds, at every epoch end and when training stops.

    Tables: ``runs(uuid, resumed_from, resumed_at, created)``,
    ``entries(uuid, time, key, value, is_json)``, ``status(uuid, key,
    value)`` and ``clock(uuid, time, wall)`` (the wall time, seconds since
    1970, of the first value written at each iteration: what a dashboard
    plots against time; logs written before it existed lack it). Numbers
    and strings are stored natively, everything else as JSON text (no
    pickle). A resumed run gets a new ``uuid`` whose ``resumed_from``
    points at the previous one; reading includes the ancestors' rows before
    the point of resumption, so a resumed experiment reads as one log.

    Parameters
    ----------
    database : str, optional
        Path of the database file (``config.sqlite_database`` by default);
        ``":memory:"`` keeps it in memory.
    uuid : str, optional
        Identifier of the run written by this log (fresh by default).
    flush_every : float, optional
        Seconds between automatic commits (default 1).

    Examples
    --------
    >>> log = SQLiteLog(":memory:")
    >>> log.current_row["cost"] = 0.5
    >>> log.status["iterations_done"] = 1
    >>> log.previous_row["cost"]
    0.5
    >>> log.to_records()
    [{'iteration': 0, 'cost': 0.5}]
    """

    def __init__(self, database: str | None = None, uuid: str | None = None, flush_every: float = 1.0) -> None:
        super().__init__(uuid)
        if database is None:
            from blocks.config import config

            database = config.sqlite_database
        if database != ":memory:":
            database = os.path.abspath(os.path.expanduser(database))
        self.database = database
        self.flush_every = float(flush_every)
        self.readonly = False
        self._connection: sqlite3.Connection | None = None
        self._cache: dict[int, dict[str, Any]] = {}
        self._pending: list[tuple[str, int, str, Any, int]] = []
        self._deleted: list[tuple[str, int, str]] = []
        self._clock: list[tuple[str, int, float]] = []
        self._clock_time: int | None = None
        self._registered = False
        self._resumed_at: int | None = None
        self._max_time: int | None = None
        self._last_flush = time_module.monotonic()

    # -- connection ---------------------------------------------------------------------------------------------
    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection (opened on first use, WAL mode, schema created)."""
        if self._connection is None:
            database = self.database
            if self.readonly and database != ":memory:":
                # a reader never writes: no schema, no journal mode change (the file may be anyone's database)
                uri = f"{pathlib.Path(database).as_uri()}?mode=ro"
                self._connection = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
                return self._connection
            if database != ":memory:" and not self.readonly and not _main_process():
                # a multi-process run has one writer: rank 0 writes the file, the others keep their rows in memory
                database = ":memory:"
            connection = sqlite3.connect(database, timeout=30.0, check_same_thread=False)
            if database != ":memory:":
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            connection.commit()
            self._connection = connection
        return self._connection

    @classmethod
    def read(cls, database: str, uuid: str | None = None) -> SQLiteLog:
        """Open an existing run read-only (default: the most recently created run).

        Raises
        ------
        ValueError
            When the database does not exist, holds no run, or lacks ``uuid``.

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log.sqlite")
        >>> writer = SQLiteLog(path)
        >>> writer.current_row["cost"] = 1.0
        >>> writer.flush()
        >>> SQLiteLog.read(path)[0]["cost"]
        1.0
        """
        if database != ":memory:" and not os.path.exists(database):
            raise ValueError(f"no SQLite log at {database!r}: give the path of a database written by SQLiteLog")
        log = cls(database)
        log.readonly = True
        try:
            with _reading(log.database):
                runs = log.runs()
        except ValueError:
            log.close()
            raise
        if not runs:
            log.close()
            raise ValueError(f"the SQLite log {database!r} holds no run")
        if uuid is None:
            uuid = runs[-1]["uuid"]
        elif uuid not in {run["uuid"] for run in runs}:
            raise ValueError(f"no run {uuid!r} in {database!r}; runs: {', '.join(r['uuid'] for r in runs)}")
        log.uuid = uuid
        log._max_time = None
        log._registered = True
        try:
            with _reading(log.database):
                query = "SELECT key, value FROM status WHERE uuid = ?"
                status = dict(log.connection.execute(query, (uuid,)).fetchall())
                log.status = {**default_status(), **{str(k): _decode(v, 1) for k, v in status.items()}}
        except ValueError:
            log.close()
            raise
        return log

    def runs(self) -> list[dict[str, Any]]:
        """Every run in the database, oldest first, as dicts (uuid, resumed_from, resumed_at, created)."""
        cursor = self.connection.execute("SELECT uuid, resumed_from, resumed_at, created FROM runs ORDER BY created")
        return [dict(zip(("uuid", "resumed_from", "resumed_at", "created"), row)) for row in cursor.fetchall()]

    # -- writing ------------------------------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.readonly:
            raise ValueError(f"this SQLiteLog of {self.database!r} was opened read-only (SQLiteLog.read)")

    def _write(self, time: int, key: str, value: Any) -> None:
        self._check_writable()
        encoded, is_json = _encode(key, value)
        self._pending.append((self.uuid, time, key, encoded, is_json))
        if time != self._clock_time:  # the first value of an iteration: when it was written
            self._clock_time = time
            self._clock.append((self.uuid, time, time_module.time()))
        if len(self._pending) >= 512 or time_module.monotonic() - self._last_flush > self.flush_every:
            self.flush()

    def _delete(self, time: int, key: str) -> None:
        self._check_writable()
        self._deleted.append((self.uuid, time, key))

    def _register_run(self) -> None:
        if not self._registered:
            resumed_from = self.status.get("resumed_from")
            self.connection.execute(
                "INSERT OR IGNORE INTO runs (uuid, resumed_from, resumed_at, created) VALUES (?, ?, ?, ?)",
                (self.uuid, resumed_from, self._resumed_at, time_module.time()),
            )
            self._registered = True

    def flush(self) -> None:
        """Commit buffered rows and the status; readers see everything written so far."""
        self._last_flush = time_module.monotonic()
        if self.readonly:
            return
        connection = self.connection
        with connection:
            self._register_run()
            if self._deleted:
                connection.executemany("DELETE FROM entries WHERE uuid = ? AND time = ? AND key = ?", self._deleted)
                self._deleted = []
            if self._pending:
                connection.executemany(
                    "INSERT OR REPLACE INTO entries (uuid, time, key, value, is_json) VALUES (?, ?, ?, ?, ?)",
                    self._pending,
                )
                self._pending = []
            if self._clock:
                connection.executemany("INSERT OR IGNORE INTO clock (uuid, time, wall) VALUES (?, ?, ?)", self._clock)
                self._clock = []
            connection.executemany(
                "INSERT OR REPLACE INTO status (uuid, key, value) VALUES (?, ?, ?)",
                [(self.uuid, key, json.dumps(_plain(value))) for key, value in self.status.items()],
            )
        oldest = self.status.get("iterations_done", 0) - 1
        for time in [t for t in self._cache if t < oldest]:
            del self._cache[time]

    def close(self) -> None:
        """Flush and close the connection."""
        if self._connection is not None:
            self.flush()
            self._connection.close()
            self._connection = None

    def resume(self) -> None:
        """Continue in a new run whose history is this one up to the current iteration."""
        self._check_writable()
        self.flush()
        super().resume()
        self._registered = False
        self._resumed_at = self.status["iterations_done"]
        self._max_time = None
        self._clock_time = None  # the new run's first write gets its own wall time
        for time, row in self._cache.items():
            for key, value in row.items():
                self._pending.append((self.uuid, time, key, *_encode(key, value)))
        self.flush()

    # -- reading ------------------------------------------------------------------------------------------------
    def _chain(self) -> list[tuple[str, float]]:
        """``(uuid, time limit)`` of this run and its ancestors, newest first."""
        chain: list[tuple[str, float]] = []
        uuid: str | None = self.uuid
        limit = math.inf
        seen = set()
        while uuid is not None and uuid not in seen:
            seen.add(uuid)
            chain.append((uuid, limit))
            found = self.connection.execute(
                "SELECT resumed_from, resumed_at FROM runs WHERE uuid = ?", (uuid,)
            ).fetchone()
            if found is None:
                if uuid == self.uuid and self.status.get("resumed_from"):
                    found = (self.status["resumed_from"], self._resumed_at)
                else:
                    break
            uuid, resumed_at = found
            if (uuid is not None and not isinstance(uuid, str)) or (
                resumed_at is not None and type(resumed_at) is not int
            ):
                raise _Damaged(f"run {chain[-1][0]!r} was resumed from {uuid!r} at {resumed_at!r}")
            if resumed_at is not None:
                limit = min(limit, resumed_at)
        return chain

    def _load(self, time: int | None) -> dict[int, dict[str, Any]]:
        if not self.readonly and (self._pending or self._deleted):
            self.flush()
        rows: dict[int, dict[str, Any]] = {}
        with _reading(self.database):
            for uuid, limit in reversed(self._chain()):
                query = "SELECT time, key, value, is_json FROM entries WHERE uuid = ? AND time < ?"
                args: tuple[Any, ...] = (uuid, limit if limit != math.inf else 2**62)
                if time is not None:
                    query += " AND time = ?"
                    args += (time,)
                for t, key, value, is_json in self.connection.execute(query + " ORDER BY time", args):
                    if type(t) is not int or not isinstance(key, str):
                        raise _Damaged(f"an entry has iteration {t!r} and key {key!r} (an integer and a string)")
                    rows.setdefault(t, {})[key] = _decode(value, is_json)
        return rows

    def _stored_max_time(self) -> int:
        """The last iteration with a stored entry in this run's history (-1 when none); computed once."""
        if self._max_time is None:
            if not self.readonly and (self._pending or self._deleted):
                self.flush()
            latest = -1
            with _reading(self.database):
                for uuid, limit in self._chain():
                    found = self.connection.execute(
                        "SELECT MAX(time) FROM entries WHERE uuid = ? AND time < ?",
                        (uuid, limit if limit != math.inf else 2**62),
                    ).fetchone()[0]
                    if found is not None:
                        latest = max(latest, found)
            self._max_time = latest
        return self._max_time

    def _data(self, time: int) -> dict[str, Any]:
        data = self._cache.get(time)
        if data is None:
            if not isinstance(time, int) or time < 0:
                raise ValueError(f"log rows are indexed by non-negative iteration numbers, got {time!r}")
            # Rows after the stored history that this process never wrote are empty: no query needed.
            data = {} if time > self._stored_max_time() else self._load(time).get(time, {})
            self._cache[time] = data
        return data

    def __getitem__(self, time: int) -> _Row:
        return _Row(self, time, self._data(time))

    def peek(self, time: int, key: str, default: Any = None) -> Any:
        data = self._cache.get(time)
        if data is None:
            data = self._data(time)
        return data.get(key, default)

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        rows = self._load(None)
        for time, data in self._cache.items():
            if data:
                rows[time] = dict(data)
        for time in sorted(rows):
            if rows[time]:
                yield time, rows[time]

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The run's identity, status and current row (earlier rows live in the database)."""
        if not self.readonly:
            self.flush()
        time = self.status["iterations_done"]
        return {
            "uuid": self.uuid,
            "database": self.database,
            "status": jsonable_value(self.status, "status"),
            "current_time": time,
            "current_row": jsonable_value(dict(self[time]), "current row"),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Attach to the saved run; :meth:`resume` then continues it as one log."""
        missing = {"uuid", "status", "current_time", "current_row"} - set(state)
        if missing:
            raise ValueError(f"SQLiteLog state lacks {sorted(missing)}; was it written by another log backend?")
        if state.get("database") not in (None, self.database):
            logger.info("continuing run %s of %s in %s", state["uuid"], state["database"], self.database)
        self.uuid = state["uuid"]
        self.status = {**default_status(), **state["status"]}
        self.status["_epoch_ends"] = list(self.status["_epoch_ends"])
        self._registered = False
        self._cache = {int(state["current_time"]): dict(state["current_row"])}
        self._max_time = None
        self._pending = []
        self._deleted = []
        self._clock = []
        self._clock_time = None
