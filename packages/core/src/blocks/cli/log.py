"""``blocks log PATH [--channels PATTERN ...] [--format table|csv|json] [--run UUID] [--output FILE]``."""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import math
import os
import shutil
import sys
from typing import Any

__all__ = ["add_parser", "records", "run"]

TABLE_PRECISION = 4
"""Significant digits of the floats of ``blocks log``'s table unless ``--precision`` says otherwise."""
CELL_LIMIT = 40
"""Longer table cells (lists of checkpoint paths, ...) are cut with an ellipsis; csv and json keep them whole."""


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
    parser.add_argument("--csv", dest="format", action="store_const", const="csv", help="same as --format csv")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    parser.add_argument(
        "--precision",
        type=int,
        metavar="N",
        help=f"significant digits of floats (table default {TABLE_PRECISION}; csv and json keep every digit "
        "unless given)",
    )
    parser.add_argument(
        "--width",
        type=int,
        metavar="COLUMNS",
        help="wrap a wide table into blocks of at most COLUMNS characters, each repeating the iteration column "
        "(default: the terminal's width when printing to a terminal; 0: never wrap)",
    )
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


def _cell(value: Any, precision: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if precision is None:
            return repr(value)
        text = f"{value:.{precision}g}"
        return text if any(c in text for c in ".en") else text + ".0"  # a float stays visibly a float
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


def _rounded(value: Any, precision: int | None) -> Any:
    if precision is None or not isinstance(value, float) or not math.isfinite(value):
        return value
    return float(f"{value:.{precision}g}")


def _format(selected: list[str], rows: list[dict], fmt: str, precision: int | None = None, width: int = 0) -> str:
    """The rows as a table (wrapped to ``width`` columns when positive), csv or json."""
    if fmt == "json":
        rounded = [{k: _rounded(v, precision) for k, v in row.items()} for row in rows]
        return json.dumps(rounded, indent=1, default=str) + "\n"
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["iteration", *selected])
        for row in rows:
            writer.writerow([row["iteration"], *(_cell(row.get(k), precision) for k in selected)])
        return buffer.getvalue()
    digits = TABLE_PRECISION if precision is None else precision
    columns = [["iteration", *(str(row["iteration"]) for row in rows)]]
    for key in selected:
        cells = [_cell(row.get(key), digits) for row in rows]
        cells = [c if len(c) <= CELL_LIMIT else c[: CELL_LIMIT - 1] + "…" for c in cells]
        columns.append([key, *cells])
    widths = [max(len(cell) for cell in column) for column in columns]
    blocks = _blocks(widths, width)
    for number, block in enumerate(blocks):
        if number:
            buffer.write("\n")
        for line in range(len(rows) + 1):
            cells = (columns[i][line].rjust(widths[i]) for i in [0, *block])
            buffer.write("  ".join(cells).rstrip() + "\n")
    return buffer.getvalue()


def _blocks(widths: list[int], limit: int) -> list[list[int]]:
    """Split the channel columns (1..) into blocks that fit ``limit`` characters beside the iteration column."""
    if len(widths) == 1:
        return [[]]
    blocks: list[list[int]] = [[]]
    used = widths[0]
    for index in range(1, len(widths)):
        if limit > 0 and blocks[-1] and used + 2 + widths[index] > limit:
            blocks.append([])
            used = widths[0]
        blocks[-1].append(index)
        used += 2 + widths[index]
    return blocks


def _table_width(args: argparse.Namespace) -> int:
    if args.width is not None:
        return max(args.width, 0)
    if args.output or not sys.stdout.isatty():
        return 0
    return shutil.get_terminal_size().columns


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
    if args.precision is not None and not 1 <= args.precision <= 17:
        raise ValueError(f"--precision must be between 1 and 17 significant digits, got {args.precision}")
    text = _format(selected, rows, args.format, args.precision, _table_width(args))
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
