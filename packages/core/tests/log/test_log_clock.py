"""SQLiteLog's clock: the wall time of the first value written at each iteration (what a dashboard plots)."""

from __future__ import annotations

import sqlite3
import time

from blocks.log import SQLiteLog


def clock(path: str) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT uuid, time, wall FROM clock ORDER BY rowid").fetchall()
    finally:
        connection.close()


def test_the_first_write_of_each_iteration_is_timed(tmp_path):
    path = str(tmp_path / "log.sqlite")
    log = SQLiteLog(path)
    before = time.time()
    for t in (0, 1, 1, 3):
        log.status["iterations_done"] = t
        log.current_row["cost"] = float(t)
        log.current_row["other"] = 1
    log[1]["late"] = 2.0  # a later write at an iteration already timed keeps the first time
    log.close()
    rows = clock(path)
    assert [(uuid, t) for uuid, t, _ in rows] == [(log.uuid, 0), (log.uuid, 1), (log.uuid, 3)]
    walls = [wall for _, _, wall in rows]
    assert before <= walls[0] <= walls[1] <= walls[2] <= time.time()


def test_a_resumed_run_times_its_own_iterations(tmp_path):
    path = str(tmp_path / "log.sqlite")
    first = SQLiteLog(path)
    first.status["iterations_done"] = 4
    first.current_row["cost"] = 1.0
    state = first.state_dict()
    first.close()
    second = SQLiteLog(path)
    second.load_state_dict(state)
    second.resume()
    second.current_row["cost"] = 2.0
    second.status["iterations_done"] = 5
    second.current_row["cost"] = 3.0
    second.close()
    assert [(uuid, t) for uuid, t, _ in clock(path)] == [(first.uuid, 4), (second.uuid, 4), (second.uuid, 5)]
    assert [r["cost"] for r in SQLiteLog.read(path).to_records()] == [2.0, 3.0]


def test_logs_written_before_the_clock_still_read_and_get_one_when_continued(tmp_path):
    path = str(tmp_path / "log.sqlite")
    log = SQLiteLog(path)
    log.current_row["cost"] = 1.0
    log.close()
    connection = sqlite3.connect(path)
    connection.execute("DROP TABLE clock")
    connection.close()
    assert SQLiteLog.read(path).to_records() == [{"iteration": 0, "cost": 1.0}]
    writer = SQLiteLog(path)
    writer.status["iterations_done"] = 1
    writer.current_row["cost"] = 2.0
    writer.close()
    assert [t for _, t, _ in clock(path)] == [1]
