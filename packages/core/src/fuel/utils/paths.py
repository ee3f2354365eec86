"""Locating dataset files in ``fuel.config.data_path``; ``remember_cwd``.

Examples
--------
>>> import os, tempfile
>>> import fuel
>>> d = tempfile.mkdtemp(); open(os.path.join(d, "x.hdf5"), "w").close()
>>> with fuel.config.override(data_path=[d]):
...     find_in_data_path("x.hdf5") == os.path.join(d, "x.hdf5")
True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["DataFileNotFoundError", "find_in_data_path", "remember_cwd"]


class DataFileNotFoundError(FileNotFoundError, ValueError):
    """A dataset file is in none of the directories of ``fuel.config.data_path``.

    A :class:`FileNotFoundError` (so an ``IOError``, as in Fuel) and, for code
    written against earlier versions of this package, a ``ValueError``.

    Attributes
    ----------
    filename : str
        The file that was looked for.
    directories : list of str
        The directories searched.

    Examples
    --------
    >>> err = DataFileNotFoundError("x.hdf5 not found", "x.hdf5", ["/data"])
    >>> isinstance(err, IOError), isinstance(err, ValueError), err.filename
    (True, True, 'x.hdf5')
    """

    def __init__(self, message: str, filename: str, directories: list[str]):
        super().__init__(message)
        self.filename = filename
        self.directories = list(directories)

    def __str__(self) -> str:
        return str(self.args[0])


def find_in_data_path(filename: str) -> str:
    """The first ``<directory>/<filename>`` that exists, over ``fuel.config.data_path``.

    Directories are searched in order; ``~`` and environment variables in
    them are expanded, as in Fuel.

    Raises
    ------
    DataFileNotFoundError
        (a ``FileNotFoundError``) if the file is in none of the directories
        (they are listed in the message).
    """
    from fuel import config

    directories = config.data_path
    for directory in directories:
        path = os.path.join(os.path.expanduser(os.path.expandvars(directory)), filename)
        if os.path.isfile(path):
            return path
    raise DataFileNotFoundError(
        f"{filename!r} not found in fuel.config.data_path {directories}; download and convert it "
        "(fuel-download / fuel-convert) into one of these directories or set FUEL_DATA_PATH",
        filename,
        directories,
    )


@contextlib.contextmanager
def remember_cwd() -> Iterator[None]:
    """Restore the current working directory when the block ends (also on error), as Fuel's did.

    Examples
    --------
    >>> import os, tempfile
    >>> before = os.getcwd()
    >>> with remember_cwd():
    ...     os.chdir(tempfile.gettempdir())
    >>> os.getcwd() == before
    True
    """
    saved = os.getcwd()
    try:
        yield
    finally:
        os.chdir(saved)
