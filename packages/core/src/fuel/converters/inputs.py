"""Damaged inputs of a converter: a clear error naming the file, never a raw decompression traceback.

A file downloaded with ``--no-verify`` (or damaged on disk since) can be a
truncated gzip, an HTML page saved under an archive's name, a cut tar file...
Python's readers then raise ``BadGzipFile``, ``EOFError``, ``zlib.error``,
``TarError``, ``BadZipFile``, ``struct.error`` without naming the file.
Converters read their inputs inside :func:`reading_input`, which turns those
into a :class:`DamagedInputError` that names the file, says whether it was
verified when downloaded, and how to fix it; ``fuel-convert`` catches the ones
a converter let through and explains them with the download record.

Examples
--------
>>> import gzip, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "cut.gz")
>>> _ = open(path, "wb").write(gzip.compress(b"x" * 1000)[:20])
>>> try:
...     with reading_input(path):
...         _ = gzip.open(path).read()
... except DamagedInputError as err:
...     print(str(err).split(" (")[0] == f"{path} is damaged or truncated")
True
"""

from __future__ import annotations

import contextlib
import gzip
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from typing import Iterator

__all__ = ["DAMAGED_INPUT_ERRORS", "DamagedInputError", "damaged_inputs_message", "reading_input"]

DAMAGED_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    tarfile.TarError,
    zipfile.BadZipFile,
    struct.error,
)
"""What Python's readers raise on damaged or truncated compressed and binary files."""


class DamagedInputError(ValueError):
    """An input file of a converter cannot be read: damaged, truncated, or not what its name says.

    Examples
    --------
    >>> str(DamagedInputError("/data/x.gz", EOFError("ended early"))).startswith("/data/x.gz is damaged")
    True
    """

    def __init__(self, path: str, error: BaseException):
        self.path = path
        self.error = error
        super().__init__(
            f"{path} is damaged or truncated ({type(error).__name__}: {error}); {_verification(path)}"
            f"delete it and run fuel-download again (without --no-verify) to fetch a good copy"
        )


def _verification(path: str) -> str:
    from fuel.downloaders import manifest

    try:
        entry = manifest.read(os.path.dirname(os.path.abspath(path))).get(os.path.basename(path))
    except ValueError:
        return ""
    if entry is None:
        return "fuel-download has no record of it; "
    if not entry.get("verified"):
        return f"it was not verified when downloaded ({entry.get('reason', 'unverified')}); "
    return "it matched its checksum when downloaded, so it was damaged on disk since; "


@contextlib.contextmanager
def reading_input(path: str) -> Iterator[None]:
    """Turn the errors of a damaged ``path`` raised in the block into :class:`DamagedInputError`."""
    try:
        yield
    except DAMAGED_INPUT_ERRORS as err:
        raise DamagedInputError(path, err) from err


def damaged_inputs_message(directory: str, error: BaseException) -> str:
    """Explain an unwrapped decompression error of a converter reading ``directory``.

    Names the files of ``directory`` that the download record lists as not
    verified (the likely culprits), or says that all were verified.
    """
    from fuel.downloaders import manifest

    try:
        entries = manifest.read(directory)
    except ValueError as err:
        entries, note = {}, f" ({err})"
    else:
        note = ""
    unverified = sorted(name for name, entry in entries.items() if not entry.get("verified"))
    if unverified:
        suspects = f"inputs not verified when downloaded: {', '.join(unverified)}"
    elif entries:
        suspects = "every recorded input matched its checksum when downloaded, so one was damaged on disk since"
    else:
        suspects = f"fuel-download has no record of the files in {directory}{note}"
    return (
        f"an input file in {directory} is damaged or truncated ({type(error).__name__}: {error}); {suspects}. "
        "Delete the damaged file(s) and run fuel-download again (without --no-verify)"
    )
