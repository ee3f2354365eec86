"""Blocks' training log is iterable like its dict of rows: the iteration ends, and it creates no row."""

from __future__ import annotations

import pytest

from blocks.log import TrainingLog
from blocks.log.sqlite import SQLiteLog


@pytest.fixture(params=["python", "sqlite"])
def log(request, tmp_path):
    if request.param == "python":
        return TrainingLog()
    return SQLiteLog(str(tmp_path / "log.sqlite"))


def test_iterating_a_log_ends_and_yields_the_iterations_in_order(log):
    log[3]["cost"] = 1.0
    log[0]["cost"] = 2.0
    log[7]["cost"] = 3.0
    assert list(log) == [0, 3, 7]
    assert [time for time in log] == [0, 3, 7]
    assert len(log) == 3


def test_iterating_an_empty_log_yields_nothing(log):
    assert list(log) == []
    assert len(log) == 0


def test_iterating_creates_no_row(log):
    log[2]["a"] = 1
    list(log)
    list(log)
    assert list(log) == [2]


def test_in_memory_log_counts_rows_that_were_only_read_like_blocks():
    log = TrainingLog()
    log[0]["field"] = 45
    assert log[1] == {}
    assert list(log) == [0, 1]
    assert len(log) == 2
    assert [(time, row) for time, row in log.rows()] == [(0, {"field": 45})]


def test_iteration_matches_rows_after_a_resume(tmp_path):
    log = SQLiteLog(str(tmp_path / "log.sqlite"))
    log[1]["a"] = 1
    log.status["iterations_done"] = 1
    log.flush()
    log.resume()
    log[2]["b"] = 2
    assert list(log) == [1, 2]
    assert [time for time, _ in log.rows()] == list(log)
