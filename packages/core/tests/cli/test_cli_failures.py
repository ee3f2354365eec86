"""Every command ends cleanly: expected failures in one line with status 2, a closed pipe quietly, bugs loudly."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import types

import pytest

from blocks import hookimpl
from blocks.cli import fuel_convert, fuel_info, fuel_server
from blocks.cli._run import run_command
from blocks.cli.main import main as blocks_main

_SCHEMA = (
    "CREATE TABLE runs (uuid TEXT PRIMARY KEY, resumed_from TEXT, resumed_at INTEGER, created REAL);"
    "CREATE TABLE entries (uuid TEXT, time INTEGER, key TEXT, value, is_json INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (uuid, time, key));"
    "CREATE TABLE status (uuid TEXT, key TEXT, value TEXT, PRIMARY KEY (uuid, key));"
    "INSERT INTO runs VALUES ('u', NULL, NULL, 1.0);"
)


def _good_log(path):
    from blocks.log.sqlite import SQLiteLog

    log = SQLiteLog(str(path))
    for i in range(30):
        log.status["iterations_done"] = i
        log[i]["cost"] = 1.0 / (i + 1)
        log[i]["name"] = f"row {i}"
        if i % 4 == 0:
            log[i]["vector"] = [i, i + 1]
    log.close()
    connection = sqlite3.connect(path)  # fold the WAL into the file: the damage below hits the whole log
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    return path.read_bytes()


def _database(path, script, *rows):
    connection = sqlite3.connect(path)
    connection.executescript(script)
    for row in rows:
        connection.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", row)
    connection.commit()
    connection.close()


def _damaged_logs(tmp_path):
    """Files `blocks log` may be given: truncated and byte-flipped logs, foreign or broken schemas, non-SQLite."""
    data = _good_log(tmp_path / "good.sqlite")
    variants = {f"truncated-{n}": data[:n] for n in (0, 15, 16, 17, 100, 1024, 4096, len(data) // 2, len(data) - 4096)}
    rng = random.Random(17)
    for k in range(40):
        flipped = bytearray(data)
        position = rng.randrange(len(flipped)) if k % 2 else rng.randrange(min(len(flipped), 4096))
        flipped[position] ^= 1 << rng.randrange(8)
        variants[f"flip-{k}-at-{position}"] = bytes(flipped)
    variants["text"] = b"iteration,cost\n0,1.0\n" * 50
    variants["random"] = bytes(rng.randrange(256) for _ in range(8192))
    variants["sqlite-magic-only"] = b"SQLite format 3\x00" + bytes(84)
    paths = []
    for name, content in variants.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    schemas = {
        "foreign": ("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');",),
        "runs-without-columns": ("CREATE TABLE runs (a, b); INSERT INTO runs VALUES (1, 2);",),
        "no-entries-table": (_SCHEMA.replace("CREATE TABLE entries", "CREATE TABLE other"),),
        "bad-json-value": (_SCHEMA, ("u", 0, "cost", "{not json", 1)),
        "deep-json-value": (_SCHEMA, ("u", 0, "cost", "[" * 100_000, 1)),
        "bad-utf8-key": (_SCHEMA, ("u", 0, b"\xff\xfe", 1.0, 0)),
        "bad-status": (_SCHEMA + "INSERT INTO status VALUES ('u', 'iterations_done', '{x');",),
        "no-runs": (_SCHEMA.replace("INSERT INTO runs VALUES ('u', NULL, NULL, 1.0);", ""),),
        "resumed-at-text": (_SCHEMA.replace("('u', NULL, NULL, 1.0)", "('u', 'v', 'soon', 1.0)"),
                            ("u", 0, "cost", 1.0, 0)),
        "json-not-utf8": (_SCHEMA, ("u", 0, "cost", b'"\xff\xfe"', 1)),
    }
    for name, (script, *rows) in schemas.items():
        _database(tmp_path / name, script, *rows)
        if name == "bad-utf8-key":
            connection = sqlite3.connect(tmp_path / name)
            connection.execute("UPDATE entries SET key = CAST(key AS TEXT)")
            connection.commit()
            connection.close()
        paths.append(tmp_path / name)
    (tmp_path / "a-directory").mkdir()
    paths += [tmp_path / "a-directory", tmp_path / "missing.sqlite"]
    return paths


def _one_error_line(err, prog):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert "Traceback" not in err


def test_blocks_log_reports_each_damaged_file_in_one_line(tmp_path, capsys):
    paths = _damaged_logs(tmp_path)
    foreign = (tmp_path / "foreign").read_bytes()
    intact_runs = {"no-entries-table", "bad-json-value", "deep-json-value", "bad-utf8-key", "resumed-at-text",
                   "json-not-utf8"}
    for path in paths:
        for extra in ([], ["--list-runs"], ["--format", "json"]):
            status = blocks_main(["log", str(path), *extra])
            out, err = capsys.readouterr()
            if status == 2:
                _one_error_line(err, "blocks log")
            else:  # SQLite has no checksums: a flip in a spare byte or a value still reads; --list-runs reads runs
                readable = path.name.startswith("flip-") or (extra == ["--list-runs"] and path.name in intact_runs)
                assert status == 0 and readable and err == "", (path.name, status, err)
    assert (tmp_path / "foreign").read_bytes() == foreign  # reading never writes (no schema, no journal mode)


def test_damaged_log_messages_name_the_file_and_the_damage(tmp_path, capsys):
    _damaged_logs(tmp_path)
    expected = {
        "truncated-100": "database disk image is malformed",
        "foreign": "no such table: runs",
        "deep-json-value": "nested too deeply",
        "bad-json-value": "damaged JSON value",
        "bad-utf8-key": "UTF-8",
        "no-runs": "holds no run",
        "a-directory": "Is a directory",
        "resumed-at-text": "was resumed from 'v' at 'soon'",
        "json-not-utf8": "damaged JSON value",
    }
    for name, damage in expected.items():
        assert blocks_main(["log", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        _one_error_line(err, "blocks log")
        assert name in err and damage in err, err


@pytest.mark.parametrize("command", ["blocks plugins --all", "blocks log LOG", "fuel-info H5"])
def test_a_closed_pipe_ends_a_command_quietly(command, tmp_path):
    import h5py

    _good_log(tmp_path / "log.sqlite")
    with h5py.File(tmp_path / "data.hdf5", "w") as h5file:
        h5file.attrs["fuel_convert_command"] = "fuel-convert toy"
    command = command.replace("LOG", str(tmp_path / "log.sqlite")).replace("H5", str(tmp_path / "data.hdf5"))
    prog, *args = command.split()
    module = {"blocks": "blocks.cli.main", "fuel-info": "blocks.cli.fuel_info"}[prog]
    code = f"import sys; from {module} import main; sys.exit(main({args!r}))"
    read, write = os.pipe()
    os.close(read)  # like `| head -0`: the reader is gone before the first write
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write)
    assert proc.stderr == "" and proc.returncode == 141


def test_fuel_server_failures_are_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad_factories.py").write_text(textwrap.dedent(
        """
        def missing_file():
            open("/no/such/dataset.hdf5")

        def not_a_stream():
            return [1, 2, 3]
        """
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    cases = {
        "bad_factories:missing_file": "/no/such/dataset.hdf5: No such file or directory",
        "bad_factories:not_a_stream": "returned list, not a Fuel data stream",
        "bad_factories:nothing_here": "has no attribute 'nothing_here'",
        "no_module_here:f": "cannot import module",
    }
    for factory, message in cases.items():
        assert fuel_server.main([factory, "--port", "0"]) == 2
        err = capsys.readouterr().err
        _one_error_line(err, "fuel-server")
        assert message in err


def test_fuel_info_and_fuel_convert_failures_are_one_line_with_status_2(register_plugin, tmp_path, capsys):
    (tmp_path / "text.hdf5").write_text("not hdf5")
    assert fuel_info.main([str(tmp_path / "text.hdf5")]) == 2
    err = capsys.readouterr().err
    _one_error_line(err, "fuel-info")
    assert "text.hdf5" in err

    def fill_convert(subparser):
        def convert(directory, output_directory, output_filename="x.hdf5"):
            raise PermissionError(13, "Permission denied", os.path.join(directory, "raw.bin"))

        return convert

    module = types.ModuleType("denied_datasets")

    @hookimpl
    def register_datasets(register):
        register("denied", "fractions:Fraction", convert=fill_convert, description="unreadable inputs")

    module.register_datasets = register_datasets
    register_plugin(module, "denied_datasets")
    assert fuel_convert.main(["denied", "-d", str(tmp_path), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    _one_error_line(err, "fuel-convert denied")
    assert "raw.bin: Permission denied" in err


def test_unexpected_exceptions_keep_their_traceback_and_name_the_command(capsys):
    def buggy():
        return {}["missing key"]

    assert run_command("blocks demo", buggy) == 1
    err = capsys.readouterr().err
    assert err.startswith("blocks demo: internal error") and "Traceback" in err and "KeyError" in err
    assert run_command("blocks demo", lambda: (_ for _ in ()).throw(KeyboardInterrupt)) == 130
    assert capsys.readouterr().err == "blocks demo: interrupted\n"


def test_checkpoint_commands_report_bad_files_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x00" * 1000)
    for argv in (["checkpoint", "info", str(bad)], ["checkpoint", "info", str(tmp_path / "missing.tar")]):
        assert blocks_main(argv) == 2
        _one_error_line(capsys.readouterr().err, "blocks checkpoint")


def test_docstring_examples():
    import doctest

    from blocks.cli import _run

    result = doctest.testmod(_run, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_a_log_leaves_it_byte_for_byte(tmp_path, capsys):
    path = tmp_path / "log.sqlite"
    _good_log(path)
    before = _digest(path)
    assert blocks_main(["log", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["cost"] == 1.0
    assert _digest(path) == before
