"""``blocks log PATH [--channels PATTERN ...] [--format table|csv|json] [--run UUID] [--output FILE]``."""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import math
import os
import sys
from typing import Any

__all__ = ["add_parser", "records", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log",
        help="print or export the channels of a training log",
        description=(
            "Print or export the channels of a run recorded by the sqlite log backend (readable while the run "
            "is going on). A resumed run reads as one log."
        ),
    )
    parser.add_argument("path", help="SQLite database written by the sqlite log backend")
    parser.add_argument(
        "--channels", nargs="+", metavar="PATTERN", help="channels to show (shell-style wildcards, e.g. 'valid_*')"
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.add_argument("--run", metavar="UUID", help="the run to read (default: the latest one)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    parser.add_argument("--list-runs", action="store_true", help="list the runs in the database and exit")
    parser.set_defaults(func=run)


def _is_sqlite(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


def records(path: str, channels: list[str] | None = None, run_uuid: str | None = None) -> tuple[list[str], list[dict]]:
    """The selected channels and the rows (with ``iteration``) that have any of them.

    Raises
    ------
    ValueError
        When ``path`` is not an SQLite log or no channel matches.
    """
    if not os.path.exists(path):
        raise ValueError(f"no file {path!r}")
    if not _is_sqlite(path):
        raise ValueError(f"{path!r} is not an SQLite database: `blocks log` reads logs of the sqlite backend")
    from blocks.log.sqlite import SQLiteLog

    log = SQLiteLog.read(path, run_uuid)
    try:
        rows = log.to_records()
    finally:
        log.close()
    available: list[str] = []
    for row in rows:
        for key in row:
            if key != "iteration" and key not in available:
                available.append(key)
    if channels:
        selected = [key for key in available if any(fnmatch.fnmatchcase(key, pattern) for pattern in channels)]
        if not selected:
            raise ValueError(f"no channel matches {channels}; channels: {', '.join(available) or 'none'}")
    else:
        selected = available
    kept = [
        {"iteration": row["iteration"], **{k: row[k] for k in selected if k in row}}
        for row in rows
        if any(k in row for k in selected)
    ]
    return selected, kept


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


def _format(selected: list[str], rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=1, default=str) + "\n"
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["iteration", *selected])
        for row in rows:
            writer.writerow([row["iteration"], *(_cell(row.get(k)) for k in selected)])
        return buffer.getvalue()
    header = ["iteration", *selected]
    table = [[_cell(row.get(k)) if k != "iteration" else str(row["iteration"]) for k in header] for row in rows]
    widths = [max([len(h)] + [len(line[i]) for line in table]) for i, h in enumerate(header)]
    for line in [header, *table]:
        buffer.write("  ".join(cell.rjust(width) for cell, width in zip(line, widths)).rstrip() + "\n")
    return buffer.getvalue()


def run(args: argparse.Namespace) -> int:
    if args.list_runs:
        from blocks.log.sqlite import SQLiteLog

        if not os.path.exists(args.path) or not _is_sqlite(args.path):
            raise ValueError(f"{args.path!r} is not an SQLite log")
        log = SQLiteLog.read(args.path)
        for entry in log.runs():
            print(f"{entry['uuid']}  resumed_from={entry['resumed_from'] or '-'}  resumed_at={entry['resumed_at']}")
        log.close()
        return 0
    selected, rows = records(args.path, args.channels, args.run)
    text = _format(selected, rows, args.format)
    if args.output:
        directory = os.path.dirname(os.path.abspath(args.output))
        from fuel.utils.files import make_temporary  # not at import: `blocks --help` stays numpy-free

        handle, temporary = make_temporary(directory, prefix=".blocks-log-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                file.write(text)
            os.replace(temporary, args.output)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    else:
        sys.stdout.write(text)
    return 0
