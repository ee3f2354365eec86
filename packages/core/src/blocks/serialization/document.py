"""Parsing and checking ``state.json``, the checkpoint's document, before anything is loaded.

A checkpoint's hashes say that it is intact, not that its writer was sane or
friendly: :func:`validate_document` checks the document's structure and the
type of every field that is read later, so a malformed one is one clear
:class:`~blocks.serialization.CheckpointError` naming the field, raised before
any model or main loop changes. Unknown fields are accepted (a newer writer
may add some); fields are checked by the functions in
:data:`DOCUMENT_FIELDS` (top level) and :data:`STATUS_FIELDS` (the main
loop's status), which the modules that add a field extend.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from blocks.log.base import default_status
from blocks.serialization.errors import CheckpointError

__all__ = [
    "DOCUMENT_FIELDS",
    "STATUS_FIELDS",
    "DocumentError",
    "parse_json",
    "validate_document",
]


class DocumentError(ValueError):
    """A field of the document has the wrong type or value (turned into a CheckpointError naming the file).

    Examples
    --------
    >>> str(DocumentError("/main_loop/status/iterations_done", "a non-negative integer", "many"))
    "/main_loop/status/iterations_done must be a non-negative integer, not 'many' (str)"
    """

    def __init__(self, pointer: str, expected: str, value: Any) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"{pointer or '/'} must be {expected}, not {shown} ({type(value).__name__})")


def parse_json(data: bytes | bytearray | memoryview, where: str) -> Any:
    """``json.loads`` of UTF-8 bytes; every failure (also a nesting too deep to parse) is a CheckpointError.

    Examples
    --------
    >>> parse_json(b'{"a": [1, 2]}', "state.json")
    {'a': [1, 2]}
    >>> parse_json(b"[" * 100000, "state.json")
    Traceback (most recent call last):
    ...
    blocks.serialization.errors.CheckpointError: state.json: nested too deeply to be a checkpoint's JSON
    """
    try:
        return json.loads(bytes(data).decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{where}: nested too deeply to be a checkpoint's JSON") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{where}: not valid JSON ({err})") from None


# -- checks of single values ------------------------------------------------------------------------------------
def _int(value: Any, pointer: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DocumentError(pointer, "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}", value)


def _dict(value: Any, pointer: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(pointer, "an object", value)
    return value


def _list(value: Any, pointer: str) -> list[Any]:
    if not isinstance(value, list):
        raise DocumentError(pointer, "a list", value)
    return value


def _str(value: Any, pointer: str) -> None:
    if not isinstance(value, str):
        raise DocumentError(pointer, "a string", value)


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], None]:
    def optional(value: Any, pointer: str) -> None:
        if value is not None:
            check(value, pointer)

    return optional


def _bool(value: Any, pointer: str) -> None:
    if not isinstance(value, bool):
        raise DocumentError(pointer, "true or false", value)


def _epoch_ends(value: Any, pointer: str) -> None:
    for i, item in enumerate(_list(value, pointer)):
        _int(item, f"{pointer}/{i}")


def _status_checks() -> dict[str, Callable[[Any, str], None]]:
    checks: dict[str, Callable[[Any, str], None]] = {}
    for key, default in default_status().items():
        if isinstance(default, bool):
            checks[key] = _bool
        elif isinstance(default, int):
            checks[key] = _int
    checks["_epoch_ends"] = _epoch_ends
    checks["resumed_from"] = _optional(_str)
    return checks


STATUS_FIELDS: dict[str, Callable[[Any, str], None]] = _status_checks()
"""Check of each main-loop status field by name (status fields not listed here are not checked)."""


def _status(value: Any, pointer: str) -> None:
    for key, item in _dict(value, pointer).items():
        check = STATUS_FIELDS.get(key)
        if check is not None:
            check(item, f"{pointer}/{key}")


def _log(value: Any, pointer: str) -> None:
    log = _dict(value, pointer)
    if "status" in log:
        _status(log["status"], f"{pointer}/status")
    if "rows" in log:
        for time, row in _dict(log["rows"], f"{pointer}/rows").items():
            if not time.isdigit():
                raise DocumentError(f"{pointer}/rows", "keyed by iteration numbers", time)
            _dict(row, f"{pointer}/rows/{time}")
    if "current_time" in log:
        _int(log["current_time"], f"{pointer}/current_time")
    if "current_row" in log:
        _dict(log["current_row"], f"{pointer}/current_row")


def _data(value: Any, pointer: str) -> None:
    data = _dict(value, pointer)
    if "stream" not in data:
        raise DocumentError(pointer, "an object with the data stream's state under 'stream'", value)


def _main_loop(value: Any, pointer: str) -> None:
    loop = _dict(value, pointer)
    missing = [key for key in ("status", "log", "extensions", "algorithm", "data") if key not in loop]
    if missing:
        raise DocumentError(pointer, f"the main loop's state (it lacks {', '.join(missing)})", sorted(loop))
    _status(loop["status"], f"{pointer}/status")
    _log(loop["log"], f"{pointer}/log")
    _dict(loop["extensions"], f"{pointer}/extensions")
    _data(loop["data"], f"{pointer}/data")


def _parameters(value: Any, pointer: str) -> None:
    for name, entry in _dict(value, pointer).items():
        where = f"{pointer}/{name}"
        _str(_dict(entry, where).get("dtype"), f"{where}/dtype")
        for i, size in enumerate(_list(entry.get("shape"), f"{where}/shape")):
            _int(size, f"{where}/shape/{i}")


def _run(value: Any, pointer: str) -> None:
    run = _dict(value, pointer)
    for key in ("argv", "orig_argv"):
        if run.get(key) is not None:
            for i, item in enumerate(_list(run[key], f"{pointer}/{key}")):
                _str(item, f"{pointer}/{key}/{i}")
    for key in ("executable", "cwd", "host", "start_time", "saved_at", "platform"):
        _optional(_str)(run.get(key), f"{pointer}/{key}")


def _history(value: Any, pointer: str) -> None:
    for i, run in enumerate(_list(value, pointer)):
        _run(run, f"{pointer}/{i}")


def _versions(value: Any, pointer: str) -> None:
    for key, version in _dict(value, pointer).items():
        _str(version, f"{pointer}/{key}")


def _ranks(value: Any, pointer: str) -> None:
    ranks = _dict(value, pointer)
    _int(ranks.get("world_size"), f"{pointer}/world_size", minimum=1)
    data = _list(ranks.get("data"), f"{pointer}/data")
    if len(data) != ranks["world_size"]:
        raise DocumentError(f"{pointer}/data", f"one data position per rank ({ranks['world_size']})", data)


def _kind(value: Any, pointer: str) -> None:
    if value not in ("full", "parameters"):
        raise DocumentError(pointer, "'full' or 'parameters'", value)


DOCUMENT_FIELDS: dict[str, Callable[[Any, str], None]] = {
    "format": _str,
    "kind": _kind,
    "parameters": _parameters,
    "main_loop": _optional(_main_loop),
    "status": _optional(_status),
    "rng": _optional(_dict),
    "graph_rng": _optional(_list),
    "versions": _versions,
    "run": _run,
    "history": _history,
    "ranks": _optional(_ranks),
}
"""Check of each top-level field of ``state.json`` by name: ``check(value, pointer)`` raises
:class:`DocumentError`. Fields not listed are not checked (``extra`` is the caller's own)."""


def validate_document(document: Any, where: str, format_version: int) -> dict[str, Any]:
    """Check ``state.json``'s structure and field types; return it.

    Parameters
    ----------
    document : object
        The parsed ``state.json``.
    where : str
        What to name in errors (the file and member).
    format_version : int
        The newest format version this reader knows.

    Raises
    ------
    CheckpointError
        Naming the first field (as a JSON Pointer) that is missing or of the wrong type.

    Examples
    --------
    >>> doc = {"format_version": 1, "kind": "full", "parameters": {},
    ...        "main_loop": {"status": {"iterations_done": "many"}, "log": {}, "extensions": {},
    ...                      "algorithm": {}, "data": {"stream": None}}}
    >>> validate_document(doc, "run.tar: state.json", 1)
    Traceback (most recent call last):
    ...
    blocks.serialization.errors.CheckpointError: run.tar: state.json is malformed: /main_loop/status/iterations_done \
must be a non-negative integer, not 'many' (str)
    """
    try:
        document = _dict(document, "")
        version = document.get("format_version")
        _int(version, "/format_version", minimum=1)
        if version > format_version:
            raise CheckpointError(
                f"{where} has format version {version}; this blocks-core reads versions up to {format_version}; "
                "upgrade blocks-core to load it"
            )
        if "parameters" not in document:
            raise DocumentError("/parameters", "present (name -> dtype and shape)", None)
        if document.get("kind", "full") == "full" and "main_loop" in document and document["main_loop"] is None:
            raise DocumentError("/main_loop", "the main loop's state in a full checkpoint", None)
        for key, check in DOCUMENT_FIELDS.items():
            if key in document:
                check(document[key], f"/{key}")
    except DocumentError as err:
        raise CheckpointError(f"{where} is malformed: {err}") from None
    return document
