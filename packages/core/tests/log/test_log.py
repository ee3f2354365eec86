"""TrainingLog, SQLiteLog (values, WAL readers, resumption as one log) and `blocks log`."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3

import numpy
import pytest
import torch

from blocks.log import SQLiteLog, TrainingLog, get_log


@pytest.fixture(params=["python", "sqlite"])
def log(request, tmp_path):
    if request.param == "python":
        return TrainingLog()
    return SQLiteLog(str(tmp_path / "log.sqlite"))


def test_rows_status_and_row_properties(log):
    assert log.status["iterations_done"] == 0 and log.status["_epoch_ends"] == []
    assert dict(log.previous_row) == {}
    log.current_row["a"] = 1.0
    log.status["iterations_done"] = 1
    log.current_row["b"] = "x"
    assert log.previous_row["a"] == 1.0 and dict(log.current_row) == {"b": "x"}
    log.status["_epoch_ends"].append(1)
    assert log.last_epoch_row["b"] == "x"
    assert log.to_records() == [{"iteration": 0, "a": 1.0}, {"iteration": 1, "b": "x"}]
    with pytest.raises(ValueError, match="non-negative"):
        log[-1]


def test_last_epoch_row_needs_an_epoch():
    with pytest.raises(ValueError, match="no epoch"):
        TrainingLog().last_epoch_row


def test_resume_assigns_a_new_uuid(log):
    old = log.uuid
    log.resume()
    assert log.uuid != old and log.status["resumed_from"] == old


def test_training_log_state_roundtrip_and_validation():
    log = TrainingLog()
    log[0]["cost"] = numpy.float32(0.5)
    log[3]["weights"] = numpy.ones(2)
    log.status["iterations_done"] = 4
    state = log.state_dict()
    assert state["rows"]["0"]["cost"] == 0.5 and isinstance(state["rows"]["0"]["cost"], float)
    json.dumps({**state, "rows": {"0": state["rows"]["0"]}})
    other = TrainingLog()
    other.load_state_dict(state)
    assert other.uuid == log.uuid and other[0]["cost"] == 0.5 and other.status["iterations_done"] == 4
    log[5]["bad"] = object()
    with pytest.raises(ValueError, match="cannot be stored"):
        log.state_dict()
    with pytest.raises(ValueError, match="lacks"):
        other.load_state_dict({"uuid": "x"})


def test_sqlite_values_roundtrip(tmp_path):
    path = str(tmp_path / "values.sqlite")
    log = SQLiteLog(path)
    values = {
        "int": 3,
        "float": 0.25,
        "str": "s",
        "bool": True,
        "none": None,
        "nan": math.nan,
        "inf": math.inf,
        "list": [1, 2],
        "dict": {"a": [1.5]},
        "np_scalar": numpy.float64(2.5),
        "np_array": numpy.arange(3),
        "tensor0": torch.tensor(1.5),
        "tensor": torch.tensor([1.0, 2.0]),
    }
    for key, value in values.items():
        log.current_row[key] = value
    log.flush()
    row = dict(SQLiteLog.read(path)[0])
    assert math.isnan(row.pop("nan"))
    assert row == {
        "int": 3,
        "float": 0.25,
        "str": "s",
        "bool": True,
        "none": None,
        "inf": math.inf,
        "list": [1, 2],
        "dict": {"a": [1.5]},
        "np_scalar": 2.5,
        "np_array": [0, 1, 2],
        "tensor0": 1.5,
        "tensor": [1.0, 2.0],
    }
    with pytest.raises(ValueError, match="cannot be stored"):
        log.current_row["bad"] = object()
    with pytest.raises(ValueError, match="read-only"):
        SQLiteLog.read(path).current_row["x"] = 1
    with pytest.raises(ValueError, match="no SQLite log"):
        SQLiteLog.read(str(tmp_path / "missing.sqlite"))
    with pytest.raises(ValueError, match="no run 'zz'"):
        SQLiteLog.read(path, "zz")


def test_sqlite_is_readable_from_a_second_connection_while_writing(tmp_path):
    path = str(tmp_path / "live.sqlite")
    writer = SQLiteLog(path, flush_every=3600)
    writer.current_row["cost"] = 1.0
    writer.flush()
    reader = sqlite3.connect(path)
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a reader holding an open read transaction does not block the writer (WAL)
    reader.execute("BEGIN")
    assert reader.execute("SELECT value FROM entries WHERE key = 'cost'").fetchall() == [(1.0,)]
    writer.status["iterations_done"] = 1
    writer.current_row["cost"] = 0.5
    writer.flush()
    reader.execute("COMMIT")
    assert sorted(reader.execute("SELECT time, value FROM entries WHERE key = 'cost'").fetchall()) == [
        (0, 1.0),
        (1, 0.5),
    ]
    status = dict(reader.execute("SELECT key, value FROM status WHERE uuid = ?", (writer.uuid,)).fetchall())
    assert json.loads(status["iterations_done"]) == 1
    assert SQLiteLog.read(path).status["iterations_done"] == 1
    writer.close()


def test_sqlite_resumed_run_reads_as_one_log(tmp_path):
    path = str(tmp_path / "resume.sqlite")
    first = SQLiteLog(path)
    for t in range(6):
        first.status["iterations_done"] = t
        first.current_row["cost"] = float(t)
    first.current_row["saved_to"] = "ckpt"
    state = first.state_dict()  # saved at iteration 5
    for t in range(6, 9):  # work after the checkpoint that the resumed run will redo
        first.status["iterations_done"] = t
        first.current_row["cost"] = -1.0
    first.current_row["stale"] = True
    first.close()

    second = SQLiteLog(path)
    second.load_state_dict(state)
    second.resume()
    assert second.status["resumed_from"] == first.uuid
    for t in range(6, 8):
        second.status["iterations_done"] = t
        second.current_row["cost"] = float(t) * 10
    second.flush()
    expected = [(t, float(t)) for t in range(6)] + [(6, 60.0), (7, 70.0)]
    assert [(r["iteration"], r["cost"]) for r in second.to_records()] == expected
    assert second.to_records()[5]["saved_to"] == "ckpt"
    reader = SQLiteLog.read(path)  # the latest run, with its ancestor
    assert reader.uuid == second.uuid
    assert [(r["iteration"], r["cost"]) for r in reader.to_records()] == expected
    assert [r["uuid"] for r in reader.runs()] == [first.uuid, second.uuid]
    assert SQLiteLog.read(path, first.uuid).to_records()[-1]["stale"] is True
    second.close()


def test_registered_backends(plugin_host, tmp_path):
    assert type(get_log("python")) is TrainingLog
    assert type(get_log("sqlite", database=str(tmp_path / "x.sqlite"))) is SQLiteLog
    with pytest.raises(ValueError, match="unknown log_backends name"):
        get_log("nope")


def _write_run(path):
    log = SQLiteLog(path)
    for t in range(3):
        log.status["iterations_done"] = t
        log.current_row["train_cost"] = t / 2
        if t == 2:
            log.current_row["valid_error"] = 0.125
    log.close()


def test_blocks_log_command_csv_json_table(plugin_host, tmp_path, capsys):
    from blocks.cli.main import main

    path = str(tmp_path / "run.sqlite")
    _write_run(path)
    assert main(["log", path, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["iteration", "train_cost", "valid_error"],
        ["0", "0.0", ""],
        ["1", "0.5", ""],
        ["2", "1.0", "0.125"],
    ]
    assert main(["log", path, "--channels", "valid_*", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"iteration": 2, "valid_error": 0.125}]
    assert main(["log", path]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["iteration", "train_cost", "valid_error"] and table[3].split() == ["2", "1.0", "0.125"]
    out = tmp_path / "out.json"
    assert main(["log", path, "--format", "json", "--output", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 3
    assert main(["log", path, "--channels", "nothing*"]) == 2
    assert "no channel matches" in capsys.readouterr().err
    (tmp_path / "text.txt").write_text("hello")
    assert main(["log", str(tmp_path / "text.txt")]) == 2
    assert "not an SQLite database" in capsys.readouterr().err


def _write_wide_run(path):
    log = SQLiteLog(path)
    for t in range(4):
        log.status["iterations_done"] = t
        for name in ("train_cost", "valid_cost", "time_read_data_this_epoch", "time_train_this_epoch", "valid_error"):
            log.current_row[name] = 1 / 3 + t
        log.current_row["saved_to"] = ["/a/very/long/path/to/some/checkpoint/directory/checkpoint.tar"] * 2
    log.close()


def test_blocks_log_table_rounds_wraps_to_the_terminal_and_cuts_long_cells(plugin_host, tmp_path, capsys):
    """Before: 300-character rows of unrounded floats (``0.3333333333333333``) whatever the terminal."""
    from blocks.cli.main import main

    path = str(tmp_path / "wide.sqlite")
    _write_wide_run(path)
    assert main(["log", path, "--width", "80"]) == 0
    text = capsys.readouterr().out
    assert "0.3333" in text and "0.33333" not in text and "3.333" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    blocks = text.strip("\n").split("\n\n")
    assert len(blocks) > 1 and all(block.split()[0] == "iteration" for block in blocks)
    shown = [name for block in blocks for name in block.splitlines()[0].split()[1:]]
    assert sorted(shown) == sorted(
        ["train_cost", "valid_cost", "time_read_data_this_epoch", "time_train_this_epoch", "valid_error", "saved_to"]
    )
    assert "…" in text and "checkpoint.tar" not in text  # the path list is cut, in the table only
    assert main(["log", path, "--width", "0", "--precision", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and "0.333333" in lines[1] and "0.3333333" not in lines[1]
    assert main(["log", path, "--precision", "0"]) == 2
    assert "--precision" in capsys.readouterr().err


def test_blocks_log_csv_and_json_flags_keep_every_digit(plugin_host, tmp_path, capsys):
    from blocks.cli.main import main

    path = str(tmp_path / "wide.sqlite")
    _write_wide_run(path)
    assert main(["log", path, "--csv", "--channels", "train_cost", "saved_to"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["train_cost"] == repr(1 / 3) and "checkpoint.tar" in rows[0]["saved_to"]
    assert main(["log", path, "--json", "--channels", "train_cost"]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {"iteration": 1, "train_cost": 1 / 3 + 1}
    assert main(["log", path, "--json", "--channels", "train_cost", "--precision", "3"]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {"iteration": 1, "train_cost": 1.33}


def test_sqlite_per_batch_reads_of_new_rows_do_not_query(tmp_path):
    path = str(tmp_path / "quiet.sqlite")
    log = SQLiteLog(path, flush_every=3600)
    log[3]["cost"] = 1.0
    log.flush()
    statements = []
    log.connection.set_trace_callback(statements.append)
    assert log.peek(3, "cost") == 1.0 and statements == []  # cached
    log.status["iterations_done"] = 4
    assert log.peek(4, "training_finish_requested", False) is False  # learns where the stored history ends
    after_first = len(statements)
    for t in range(5, 50):
        log.status["iterations_done"] = t
        assert log.peek(t, "training_finish_requested", False) is False
        assert dict(log.current_row) == {}
    assert len(statements) == after_first  # no query per batch
    assert log.peek(3, "missing", "default") == "default"
