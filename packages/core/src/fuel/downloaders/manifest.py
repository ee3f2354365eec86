"""The download record of a directory: which files were verified, and how.

``fuel-download`` writes ``fuel_downloads.json`` next to the files it fetched:
one entry per file with its sha256, whether it was verified against a published
checksum, why not if it was not (``--no-verify``, no published checksum), and
where it came from. ``fuel-convert`` reads it to record in every converted file
whether its inputs were verified.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

from fuel.utils.files import make_temporary

__all__ = ["MANIFEST_NAME", "forget", "read", "record", "verification_status"]

MANIFEST_NAME = "fuel_downloads.json"


def read(directory: str) -> dict[str, dict[str, Any]]:
    """The entries of ``directory``'s record (empty when there is none).

    Examples
    --------
    >>> read("/nonexistent")
    {}
    """
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); delete it and run fuel-download again") from err
    return dict(data.get("files", {}))


def _write(directory: str, files: dict[str, dict[str, Any]]) -> None:
    fd, tmp = make_temporary(directory, prefix=f".{MANIFEST_NAME}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": 1, "files": files}, handle, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(directory, MANIFEST_NAME))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def record(directory: str, filename: str, *, sha256: str, verified: bool, reason: str, url: str = "") -> None:
    """Record one file (atomically rewrites the record)."""
    files = read(directory)
    files[filename] = {
        "sha256": sha256,
        "size": os.path.getsize(os.path.join(directory, filename)),
        "verified": bool(verified),
        "reason": reason,
        "url": url,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write(directory, files)


def forget(directory: str, filename: str) -> None:
    """Remove one file from the record."""
    files = read(directory)
    if files.pop(filename, None) is not None:
        _write(directory, files)


def verification_status(directory: str, filenames: Iterable[str]) -> tuple[bool, list[str]]:
    """Whether every input file was verified, and a note for each one that was not.

    A file the record does not know (placed by hand and never checked by
    ``fuel-download``) counts as unverified.

    Examples
    --------
    >>> verification_status("/nonexistent", ["a.gz"])
    (False, ['a.gz: not checked by fuel-download'])
    """
    files = read(directory)
    notes = []
    for name in filenames:
        entry = files.get(name)
        if entry is None:
            notes.append(f"{name}: not checked by fuel-download")
        elif not entry.get("verified"):
            notes.append(f"{name}: {entry.get('reason', 'unverified')}")
        elif entry.get("size") is not None and os.path.isfile(os.path.join(directory, name)) and \
                os.path.getsize(os.path.join(directory, name)) != entry["size"]:
            notes.append(f"{name}: changed since it was verified")
    return not notes, notes
