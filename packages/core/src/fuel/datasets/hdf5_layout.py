"""Fuel's HDF5 layout: the root ``split`` attribute, written and read with full validation.

The ``split`` attribute is a 1-D compound array with one row per (split,
source) pair: ``split`` and ``source`` (bytes), ``start`` and ``stop``
(integers, half-open), ``indices`` (an object reference to an index dataset
that replaces start/stop when not null), ``available`` (bool) and ``comment``
(bytes). :func:`split_rows` reads it and checks every field before anything is
read from the file, so a damaged or hand-made file gives one clear error that
names the file and the row, never an ``IndexError`` or an empty split noticed
much later. Nothing here touches dimension scales (reading those is where
libhdf5 can crash on a damaged file, see :func:`fuel.datasets.hdf5_check.check_file`).

Examples
--------
>>> import h5py, numpy as np
>>> f = h5py.File("layout-doc.hdf5", "w", driver="core", backing_store=False)
>>> f["x"] = np.arange(6)
>>> f.attrs["split"] = create_split_array({"train": {"x": (0, 4)}, "test": {"x": (4, 6)}})
>>> [(r.split, r.source, r.start, r.stop) for r in split_rows(f)]
[('train', 'x', 0, 4), ('test', 'x', 4, 6)]
>>> f.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import h5py
import numpy as np

from fuel.datasets.hdf5_errors import is_ours, reading

__all__ = ["LayoutError", "SplitRow", "create_split_array", "describe_file", "split_rows"]

_REQUIRED = ("split", "source", "start", "stop", "available")


class LayoutError(ValueError):
    """A file does not follow Fuel's HDF5 layout (its ``split`` attribute or a source is malformed).

    Examples
    --------
    >>> issubclass(LayoutError, ValueError)
    True
    """


@dataclass(frozen=True)
class SplitRow:
    """One row of the ``split`` attribute, decoded and checked.

    Attributes
    ----------
    split, source : str
        Names.
    start, stop : int
        Half-open range of the source's examples (meaningless with ``indices``).
    indices : h5py.Reference or None
        The index dataset that replaces ``start``/``stop``.
    available : bool
        Whether the source exists in this split.
    comment : str
        Free text (``'.'`` when empty, as Fuel writes it).
    """

    split: str
    source: str
    start: int
    stop: int
    indices: Any
    available: bool
    comment: str


def describe_file(h5file: h5py.File) -> str:
    """How messages name a file: its path, or what it is when it has none on disk.

    Examples
    --------
    >>> f = h5py.File("mem.hdf5", "w", driver="core", backing_store=False)
    >>> describe_file(f)
    "in-memory HDF5 file 'mem.hdf5' (driver 'core')"
    >>> f.close()
    """
    try:
        name, driver = h5file.filename, h5file.driver
    except (ValueError, RuntimeError, OSError):  # a closed file
        return "a closed HDF5 file"
    if driver == "core":
        return f"in-memory HDF5 file {name!r} (driver 'core')"
    return repr(name)


def _text(value: Any, what: str, where: str) -> str:
    if isinstance(value, np.bytes_):
        value = bytes(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LayoutError(f"{where}: {what} {value!r} is not UTF-8 text") from err
    if isinstance(value, str):
        return value
    raise LayoutError(f"{where}: {what} must be text, got {type(value).__name__}")


def _field_kinds(array: np.ndarray, where: str) -> None:
    names = array.dtype.names or ()
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise LayoutError(
            f"{where}: the 'split' attribute lacks the field(s) {missing} (it has {list(names)}); it is not a "
            "Fuel split array: write it with H5PYDataset.create_split_array"
        )
    for name in ("split", "source", "start", "stop", "available", "comment"):
        if name not in names:
            continue
        field = array.dtype.fields[name][0]
        if name in ("start", "stop"):
            ok, wanted = field.kind in "iu", "integers"
        elif name == "available":
            ok, wanted = field.kind in "biu", "booleans"
        else:
            ok, wanted = field.kind in "SU" or h5py.check_string_dtype(field) is not None, "text"
        if not ok or field.shape != ():
            raise LayoutError(f"{where}: field {name!r} of the 'split' attribute has type {field}; expected {wanted}")
    if "indices" in names and h5py.check_ref_dtype(array.dtype.fields["indices"][0]) is not h5py.Reference:
        raise LayoutError(f"{where}: field 'indices' of the 'split' attribute is not an object reference")


def split_rows(h5file: h5py.File) -> list[SplitRow]:
    """The rows of ``h5file``'s ``split`` attribute, decoded and checked.

    Raises
    ------
    DamagedFileError
        The root attributes cannot be read (libhdf5 fails on them).
    LayoutError
        No ``split`` attribute; not a 1-D compound array with Fuel's fields and
        types; a name that is not UTF-8 text; a (split, source) pair listed
        twice; an available row without an index dataset whose ``start`` or
        ``stop`` is negative or whose ``start`` exceeds its ``stop``.
    """
    where = describe_file(h5file)
    with reading(where, "the root attributes"):
        present = "split" in h5file.attrs
    if not present:
        raise LayoutError(
            f"{where} has no root attribute 'split', so it is not a Fuel HDF5 file; write it with "
            "fuel.converters.fill_hdf5_file or H5PYDataset.create_split_array"
        )
    try:
        with reading(where, "the 'split' attribute"):
            array = np.asarray(h5file.attrs["split"])
    except (ValueError, TypeError) as err:  # a type numpy has no equivalent for
        if is_ours(err):
            raise
        raise LayoutError(f"{where}: the 'split' attribute cannot be read as an array ({err})") from err
    if array.dtype.names is None or array.ndim != 1:
        raise LayoutError(
            f"{where}: the 'split' attribute must be a 1-D compound array (one row per split and source), got "
            f"shape {array.shape} of {array.dtype}"
        )
    _field_kinds(array, where)
    names = array.dtype.names
    rows: list[SplitRow] = []
    seen: set[tuple[str, str]] = set()
    for i, record in enumerate(array):
        at = f"{where}, split row {i}"
        split = _text(record["split"], "split name", at)
        source = _text(record["source"], "source name", at)
        if (split, source) in seen:
            raise LayoutError(f"{at}: split {split!r}, source {source!r} is listed twice")
        seen.add((split, source))
        ref = record["indices"] if "indices" in names else None
        indices = None if ref is None or not bool(ref) else ref
        start, stop, available = int(record["start"]), int(record["stop"]), bool(record["available"])
        if available and indices is None:
            if start < 0 or stop < 0:
                raise LayoutError(f"{at} ({split!r}, {source!r}): start {start} and stop {stop} must not be negative")
            if start > stop:
                raise LayoutError(f"{at} ({split!r}, {source!r}): start {start} is after stop {stop}")
        comment = _text(record["comment"], "comment", at) if "comment" in names else "."
        rows.append(SplitRow(split, source, start, stop, indices, available, comment))
    if not rows:
        raise LayoutError(f"{where}: the 'split' attribute has no rows")
    return rows


def create_split_array(split_dict: Mapping[str, Mapping[str, Sequence[Any]]]) -> np.ndarray:
    """The root ``split`` attribute for ``{split: {source: (start, stop[, indices[, comment]])}}``.

    (split, source) pairs absent from the dict get ``available=False``.
    String widths are the longest names (at least 1); empty comments are
    stored as ``'.'``.

    Examples
    --------
    >>> a = create_split_array({"train": {"x": (0, 5)}, "test": {"x": (5, 7), "y": (0, 2)}})
    >>> [(bytes(r["split"]), bytes(r["source"]), int(r["stop"]), bool(r["available"])) for r in a][:2]
    [(b'train', b'x', 5, True), (b'train', b'y', 0, False)]
    """
    if not split_dict:
        raise ValueError("split_dict needs at least one split")
    split_len = max(len(split.encode("utf-8")) for split in split_dict)
    sources: set[str] = set()
    comment_len = 1
    for split in split_dict.values():
        sources |= set(split.keys())
        for value in split.values():
            if len(value) not in (2, 3, 4):
                raise ValueError(f"split entries are (start, stop[, indices[, comment]]), got {value!r}")
            if len(value) == 4 and value[3]:
                comment_len = max(comment_len, len(str(value[3]).encode("utf-8")))
    sorted_sources = sorted(sources)
    if not sorted_sources:
        raise ValueError("split_dict names no sources")
    source_len = max(len(source.encode("utf-8")) for source in sorted_sources)
    dtype = np.dtype(
        [
            ("split", "S", split_len),
            ("source", "S", source_len),
            ("start", np.int64),
            ("stop", np.int64),
            ("indices", h5py.special_dtype(ref=h5py.Reference)),
            ("available", np.bool_),
            ("comment", "S", comment_len),
        ]
    )
    array = np.empty(len(split_dict) * len(sorted_sources), dtype=dtype)
    for i, (split, source) in enumerate(product(split_dict, sorted_sources)):
        entry = split_dict[split].get(source)
        if entry is not None:
            start, stop = int(entry[0]), int(entry[1])
            indices = entry[2] if len(entry) > 2 and entry[2] is not None else h5py.Reference()
            comment = str(entry[3]) if len(entry) > 3 and entry[3] else "."
            available = True
        else:
            start, stop, indices, available, comment = 0, 0, h5py.Reference(), False, "."
        array[i]["split"] = split.encode("utf-8")
        array[i]["source"] = source.encode("utf-8")
        array[i]["start"] = start
        array[i]["stop"] = stop
        array[i]["indices"] = indices
        array[i]["available"] = available
        array[i]["comment"] = comment.encode("utf-8")
    return array
