"""The error a damaged HDF5 file gives, and the boundary that turns h5py's failures into it.

On a damaged file h5py and libhdf5 raise ``OSError``, ``KeyError`` (an object
that cannot be opened), ``RuntimeError`` or ``UnicodeDecodeError`` (a damaged
name in a type or attribute) with messages such as "bad global heap collection
signature" that name neither the file nor the part of it that was being read.
:func:`reading` wraps one call into h5py: those become a
:class:`DamagedFileError` naming the file and what was read; Fuel's own errors
(which already name the file) and every other exception type pass unchanged,
so a bug in our code is never disguised as a damaged file.

Examples
--------
>>> try:
...     with reading("'data.hdf5'", "the attributes of the root group"):
...         raise OSError("Can't synchronously read data (bad global heap collection signature)")
... except DamagedFileError as err:
...     print(err)  # doctest: +ELLIPSIS
'data.hdf5': the attributes of the root group cannot be read (Can't synchronously read data (bad global ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DamagedFileError", "reading"]

#: what h5py raises when libhdf5 fails to read a damaged file
H5_FAILURES = (OSError, RuntimeError, KeyError, UnicodeDecodeError)
#: what h5py raises when it cannot convert a damaged type (pass as ``also`` around pure reads of values)
TYPE_FAILURES = (TypeError, ValueError)

ADVICE = "the file is damaged: download and convert it again (`fuel-info --check FILE` checks a whole file)"


class DamagedFileError(OSError, ValueError):
    """An HDF5 file cannot be read: a checksum mismatch or another read error in libhdf5.

    An ``OSError`` (what h5py raises on a damaged file, and what Fuel let
    through) and a ``ValueError``; the message names the file.

    Examples
    --------
    >>> issubclass(DamagedFileError, ValueError) and issubclass(DamagedFileError, OSError)
    True
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def h5_message(err: BaseException) -> str:
    """The text of an h5py error (a ``KeyError`` without the quotes ``str`` adds)."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        return str(err.args[0])
    return str(err) or type(err).__name__


def is_ours(err: BaseException) -> bool:
    """Whether ``err`` is one of Fuel's own errors (they name the file already)."""
    return type(err).__module__.split(".")[0] == "fuel"


@contextmanager
def reading(where: str, what: str, also: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn h5py's failures inside the block into a :class:`DamagedFileError` naming ``where`` and ``what``.

    Parameters
    ----------
    where : str
        The file, as messages name it (:func:`fuel.datasets.hdf5_layout.describe_file`).
    what : str
        What the block reads, e.g. ``"the dimension scales of source 'features'"``.
    also : tuple of exception types
        More failures to turn into a :class:`DamagedFileError`, for a block
        that only converts values read from the file, where h5py reports a
        damaged type with ``TypeError`` or ``ValueError`` ("Unknown string
        encoding").
    """
    try:
        yield
    except (*H5_FAILURES, *also) as err:
        if is_ours(err):
            raise
        raise DamagedFileError(f"{where}: {what} cannot be read ({h5_message(err)}); {ADVICE}") from err
