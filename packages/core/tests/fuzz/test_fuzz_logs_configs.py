"""Fuzz SQLite training logs and configuration files: a clean ValueError naming the file, or success.

Never another exception type, never a traceback from ``blocks log``, never a
changed file after reading.
"""

from __future__ import annotations

import contextlib
import io
import random
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _fuzz import Findings, mutate_bytes, seeds  # noqa: E402

from blocks.cli.main import main as blocks_main  # noqa: E402
from blocks.log.sqlite import SQLiteLog  # noqa: E402


def _log(path: Path) -> bytes:
    log = SQLiteLog(str(path))
    for i in range(25):
        log.status["iterations_done"] = i
        log[i]["cost"] = 1.0 / (i + 1)
        log[i]["label"] = f"it {i}"
        if i % 3 == 0:
            log[i]["weights"] = {"mean": i / 3, "history": [i, i + 1]}
    log.resume()
    log[25]["cost"] = 0.01
    log.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:  # fold the WAL into the file
        connection.execute("PRAGMA journal_mode=DELETE")
    return path.read_bytes()


_VALUES = [None, -1, 2**63 - 1, 1e308, float("nan"), "", "x" * 5000, "{not json", "[" * 5000, b"\xff\xfe\x00",
           b"", "null", "[1, 2]", 3.5]


def _sql_mutation(path: Path, rng: random.Random) -> None:
    """Random edits a buggy writer or a foreign tool could make, in a well-formed SQLite file."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for _ in range(rng.randint(1, 3)):
            table, columns = rng.choice([("entries", ("uuid", "time", "key", "value", "is_json")),
                                         ("runs", ("uuid", "resumed_from", "resumed_at", "created")),
                                         ("status", ("uuid", "key", "value"))])
            action = rng.randrange(5)
            try:
                if action == 0:
                    connection.execute(f"DROP TABLE {table}")
                elif action == 1:
                    connection.execute(f"DELETE FROM {table} WHERE rowid % 2 = 0")
                elif action == 2:
                    connection.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
                    connection.execute(f"CREATE TABLE {table} (something)")
                else:
                    value = rng.choice(_VALUES)
                    column = rng.choice(columns)
                    connection.execute(f"UPDATE OR REPLACE {table} SET {column} = ? WHERE rowid % ? = 0",
                                       (value, rng.choice((1, 2, 5))))
            except sqlite3.Error:  # the edit does not apply to this file (a table already dropped, ...)
                pass
            connection.commit()


def _read(path: Path) -> None:
    log = SQLiteLog.read(str(path))
    try:
        log.to_records()
        log.runs()
        _ = log.status["iterations_done"]
    finally:
        log.close()


def test_fuzz_sqlite_logs(tmp_path):
    base = _log(tmp_path / "base.sqlite")
    findings = Findings("sqlite-log")
    for seed in seeds(40):
        rng = random.Random(seed)
        path = tmp_path / f"case-{seed}.sqlite"
        path.write_bytes(base)
        if rng.random() < 0.5:
            path.write_bytes(mutate_bytes(base, rng))
        else:
            _sql_mutation(path, rng)
        before = path.read_bytes()
        try:
            _read(path)
        except ValueError as err:
            if str(path) not in str(err):
                findings.add(seed, f"ValueError without the file name: {err}", path)
        except Exception as err:  # noqa: BLE001 - every other type is a finding
            findings.add(seed, f"{type(err).__name__}: {err}", path)
        err_text = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err_text):
            status = blocks_main(["log", str(path), "--format", "json"])
        lines = err_text.getvalue().strip().splitlines()
        if status not in (0, 2) or (status == 2 and (len(lines) != 1 or "Traceback" in err_text.getvalue())):
            findings.add(seed, f"blocks log exited {status}: {err_text.getvalue()[-300:]}", path)
        if path.read_bytes() != before:
            findings.add(seed, "reading changed the file", path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    findings.check()


_YAML_SCALARS = ["1", "-5", "1e400", ".inf", ".nan", "~", "true", "no", "'float32'", "float8", "[]", "{}", "[1, [2]]",
                 "!!binary aGVsbG8=", "2001-12-14", "0x1F", "'~/x'", "\"\\u00e9\"", "&a [1, 2]", "*a", "!!python/none",
                 "{a: " * 1100, "'" + "x" * 3000 + "'", "? [a, b]\n", "\"\\x00\""]


def _config_text(config, rng: random.Random) -> str:
    lines = []
    keys = sorted(config.options)
    for _ in range(rng.randint(0, 5)):
        key = rng.choice(keys + ["unknown_option", "1", "floatx", "[a]"])
        lines.append(f"{key}: {rng.choice(_YAML_SCALARS)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("which", ["blocks", "fuel"])
def test_fuzz_config_files(which, tmp_path, monkeypatch):
    from blocks.config import config as blocks_config
    from fuel.config_parser import ConfigurationError
    from fuel.config_parser import config as fuel_config

    config = blocks_config if which == "blocks" else fuel_config
    variable = "BLOCKS_CONFIG" if which == "blocks" else "FUEL_CONFIG"
    for option in config.options.values():
        if option.env_var:
            monkeypatch.delenv(option.env_var, raising=False)
    findings = Findings(f"{which}-config")
    path = tmp_path / (".blocksrc" if which == "blocks" else ".fuelrc")
    monkeypatch.setenv(variable, str(path))
    try:
        for seed in seeds(40):
            rng = random.Random(seed)
            text = _config_text(config, rng).encode()
            path.write_bytes(mutate_bytes(text, rng) if rng.random() < 0.4 else text)
            try:
                config.load_yaml()
            except ConfigurationError as err:  # the file as a whole is refused
                if str(path) not in str(err):
                    findings.add(seed, f"ConfigurationError without the file name: {err}", path)
                continue
            except Exception as err:  # noqa: BLE001 - every other type is a finding
                findings.add(seed, f"{type(err).__name__}: {str(err)[:200]}", path)
                continue
            for key in sorted(config.options):
                try:
                    config.get(key)
                except ConfigurationError as err:  # a value from the file must say which file
                    if config.source(key) == "file" and str(path) not in str(err):
                        findings.add(seed, f"ConfigurationError without the file name: {err}", path)
                except Exception as err:  # noqa: BLE001 - every other type is a finding
                    findings.add(seed, f"{key}: {type(err).__name__}: {str(err)[:200]}", path)
    finally:
        path.unlink(missing_ok=True)
        monkeypatch.delenv(variable)
        config.reset()
    findings.check()


@pytest.mark.parametrize(("text", "message"), [
    (b"default_seed: 3\n\xff\xfe\n", "not valid YAML: not UTF-8"),
    (b"default_seed: " + b"{a: " * 1100, "nested too deeply"),
    (b"1: a\ndevice: cpu\n", "keys that are not names"),
    (b"default_seed: .inf\n", "option 'default_seed' from"),
    (b"floatX: float8\n", "option 'floatX' from"),
    (b"default_seed: 2001-02-30\n", "day is out of range"),
])
def test_a_bad_blocksrc_is_a_configuration_error_naming_the_file(text, message, tmp_path, monkeypatch):
    from blocks.config import config
    from fuel.config_parser import ConfigurationError

    path = tmp_path / ".blocksrc"
    path.write_bytes(text)
    monkeypatch.setenv("BLOCKS_CONFIG", str(path))
    for variable in ("BLOCKS_DEFAULT_SEED", "BLOCKS_FLOATX"):
        monkeypatch.delenv(variable, raising=False)
    try:
        with pytest.raises(ConfigurationError, match=message) as info:
            config.load_yaml()
            config.get("default_seed")
            config.get("floatX")
        assert str(path) in str(info.value)
    finally:
        monkeypatch.delenv("BLOCKS_CONFIG")
        config.reset()
