"""Rows of a contiguous HDF5 dataset read with ``pread`` into private buffers.

A contiguous, uncompressed HDF5 dataset is one block of bytes at a known
offset of the file, so a batch of rows can be read with plain ``preadv``
calls into a new numpy array, one call per run of neighbouring rows, without
libhdf5's per-selection overhead (the default of ``H5PYDataset``; the opt-in
``memory_map=True`` reads through a file mapping instead, see
:mod:`fuel.datasets.hdf5_mmap`). Nothing is memory-mapped: a file truncated
or rewritten under a reader is a clear :class:`FileChangedError` at the next
read (its size and modification time are checked before each read, and a
short read is one too), never a ``SIGBUS`` that kills the process (as an
access to a mapping past the end of a shrunken file does), nor the new
file's bytes read at the old file's offsets.

Examples
--------
>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "rows.hdf5")
>>> with h5py.File(path, "w") as f:
...     f["x"] = np.arange(12, dtype="int16").reshape(6, 2)
>>> with h5py.File(path, "r") as f:
...     rows = ContiguousRows.of(f["x"])
...     rows.read(np.array([4, 1, 1])).tolist(), rows.read(slice(2, 4)).tolist(), rows.read(5).tolist()
([[8, 9], [2, 3], [2, 3]], [[4, 5], [6, 7]], [10, 11])
>>> rows.close()
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

__all__ = ["ContiguousRows", "FileChangedError", "FileReader", "check_unchanged", "file_stamp", "locate_contiguous"]

logger = logging.getLogger(__name__)

#: rows closer than this many bytes are read in one call, the gap into a scratch buffer (cheaper than a call)
GAP_BYTES = 16 * 1024
#: a cluster spanning at most this many bytes is read in one call into a temporary array
_MAX_SPAN = 4 << 20
#: at most this many buffers per ``preadv`` call (Linux' IOV_MAX is 1024)
_MAX_BUFFERS = 512
#: at most this many bytes per call (Linux reads at most ~2 GiB per call)
_MAX_CALL = 1 << 30


class FileChangedError(OSError):
    """The file changed under a reader (its size or modification time), or a read found it shorter than described.

    Examples
    --------
    >>> issubclass(FileChangedError, OSError)
    True
    """


def file_stamp(fd: int) -> tuple[int, int]:
    """The size and modification time (ns) of the open file ``fd``."""
    stat = os.fstat(fd)
    return stat.st_size, stat.st_mtime_ns


def check_unchanged(fd: int, stamp: tuple[int, int], name: str) -> None:
    """Raise :class:`FileChangedError` when the file ``fd`` no longer has ``stamp`` (see :func:`file_stamp`)."""
    now = file_stamp(fd)
    if now != stamp:
        raise FileChangedError(
            f"{name}: the file changed while being read (size, modification time: {stamp} -> {now}); "
            "it was truncated or rewritten"
        )


def locate_contiguous(dataset: Any) -> tuple[int, int] | None:
    """``(fd, offset)`` of a contiguous, uncompressed ``h5py.Dataset`` (``fd`` a new duplicate), or ``None``."""
    try:
        if (
            dataset.chunks is not None
            or dataset.compression is not None
            or dataset.external
            or dataset.dtype.hasobject
            or dataset.dtype.kind in "OV"
            or dataset.size == 0
            or len(dataset.shape) == 0
        ):
            return None
        offset = dataset.id.get_offset()
        if offset is None:
            return None
        handle = dataset.file.id.get_vfd_handle()
        if not isinstance(handle, int) or handle < 0:
            return None
        return os.dup(handle), int(offset)
    except (AttributeError, OSError, ValueError, TypeError, RuntimeError) as err:
        logger.debug("not reading %r directly: %s", getattr(dataset, "name", dataset), err)
        return None


class FileReader:
    """Base of the direct readers: owns a file descriptor ``fd``, closes it once, is never pickled.

    Examples
    --------
    >>> import os
    >>> reader = FileReader()
    >>> reader.fd = os.open(os.devnull, os.O_RDONLY)
    >>> reader.close(); reader.fd
    -1
    """

    __slots__ = ("fd",)

    def close(self) -> None:
        """Close the file descriptor (a forked process closes its own copy)."""
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def __reduce__(self) -> Any:
        raise TypeError(f"a {type(self).__name__} reader holds an open file and cannot be pickled")


class ContiguousRows(FileReader):
    """Read rows of one contiguous, uncompressed dataset with ``preadv``.

    Parameters
    ----------
    fd : int
        A file descriptor of the HDF5 file, owned by this object (closed by
        :meth:`close`).
    offset : int
        Byte offset of the dataset's data in the file.
    dtype : numpy.dtype
        The dataset's dtype (no object or variable-length types).
    shape : tuple of int
        The dataset's shape (rows along axis 0).
    name : str
        What to call the data in errors (file and dataset).

    Examples
    --------
    >>> ContiguousRows.of(object()) is None
    True
    """

    __slots__ = ("offset", "dtype", "shape", "name", "row_bytes", "stamp", "_scratch")

    def __init__(self, fd: int, offset: int, dtype: np.dtype, shape: tuple[int, ...], name: str):
        self.fd = fd
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.name = name
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self.stamp = file_stamp(fd)
        self._scratch = memoryview(bytearray(GAP_BYTES))

    @classmethod
    def of(cls, dataset: Any) -> "ContiguousRows | None":
        """The reader of an open ``h5py.Dataset``, or ``None`` when it is not one plain block of bytes.

        The file descriptor is a duplicate of the one libhdf5 reads (the
        ``sec2`` driver's), so both read the very same file.
        """
        found = locate_contiguous(dataset)
        if found is None:
            return None
        fd, offset = found
        return cls(fd, offset, dataset.dtype, dataset.shape, f"{dataset.file.filename!r}, dataset {dataset.name!r}")

    # -- reads ---------------------------------------------------------------------------
    def read(self, rows: Any) -> np.ndarray:
        """Rows ``rows`` (an int, a step-1 slice or a 1-D integer array) as a new array.

        An int gives one row (a 0-d array for a 1-D dataset), like
        ``dataset[rows]`` in h5py.
        """
        if self.fd < 0:
            raise ValueError(f"{self.name}: the reader is closed")
        check_unchanged(self.fd, self.stamp, self.name)
        count = self.shape[0]
        if isinstance(rows, (int, np.integer)):
            row = int(rows)
            if not 0 <= row < count:
                raise IndexError(f"row {row} is out of range for {count} rows")
            out = np.empty(self.shape[1:], dtype=self.dtype)
            self._read_span(out, row, 1)
            return out
        if isinstance(rows, slice):
            start, stop, step = rows.indices(count)
            if step != 1:
                return self.read(np.arange(start, stop, step, dtype=np.int64))
            stop = max(start, stop)
            out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
            if stop > start:
                self._read_span(out, start, stop - start)
            return out
        return self._read_rows(np.asarray(rows))

    def _read_span(self, out: np.ndarray, first: int, rows: int) -> None:
        """``rows`` consecutive rows from ``first`` into the contiguous array ``out``."""
        view = memoryview(out.reshape(-1).view(np.uint8))
        total = rows * self.row_bytes
        position = self.offset + first * self.row_bytes
        for start in range(0, total, _MAX_CALL):
            part = view[start : start + _MAX_CALL]
            self._fill([part], position + start, len(part))

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise IndexError(f"rows must be a 1-D array of integers, got shape {rows.shape} of {rows.dtype}")
        count = rows.shape[0]
        if count == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        rows = rows.astype(np.int64, copy=False)
        if int(rows.min()) < 0 or int(rows.max()) >= self.shape[0]:
            raise IndexError(f"rows {int(rows.min())}..{int(rows.max())} are out of range for {self.shape[0]} rows")
        if count > 1 and not bool((rows[1:] > rows[:-1]).all()):
            unique, inverse = np.unique(rows, return_inverse=True)
            return self._read_increasing(unique)[inverse.reshape(-1)]
        return self._read_increasing(rows)

    def _read_increasing(self, rows: np.ndarray) -> np.ndarray:
        """Strictly increasing ``rows``: one ``preadv`` per cluster of rows closer than :data:`GAP_BYTES`."""
        count = rows.shape[0]
        out = np.empty((count, *self.shape[1:]), dtype=self.dtype)
        size = self.row_bytes
        if size == 0:
            return out
        view = memoryview(out.reshape(-1).view(np.uint8))
        gaps = (np.diff(rows) - 1) * size  # bytes between one row and the next
        # a new cluster starts where the gap is too wide for the scratch buffer
        breaks = (np.flatnonzero(gaps > len(self._scratch)) + 1).tolist()
        offsets = (rows * size + self.offset).tolist()
        fd, preadv = self.fd, os.preadv
        gap_list: list[int] | None = None
        start = 0
        for stop in (*breaks, count):
            if stop - start == 1:  # a row on its own (most rows of a random batch of a large file)
                buffer = view[start * size : stop * size]
                if preadv(fd, [buffer], offsets[start]) != size:
                    self._fill([buffer], offsets[start], size)
            elif (offsets[stop - 1] - offsets[start] + size) <= _MAX_SPAN:
                # one read of the span, the rows picked out by numpy (no Python loop over rows)
                first = int(rows[start])
                span = np.empty((int(rows[stop - 1]) - first + 1, *self.shape[1:]), dtype=self.dtype)
                self._read_span(span, first, span.shape[0])
                out[start:stop] = span[rows[start:stop] - first]
            else:
                if gap_list is None:
                    gap_list = gaps.tolist()
                self._read_cluster(view, offsets, gap_list, start, stop)
            start = stop
        return out

    def _read_cluster(self, view: memoryview, offsets: list[int], gaps: list[int], start: int, stop: int) -> None:
        """Rows ``start:stop`` of a sorted request (at file ``offsets``), separated by gaps that fit the scratch."""
        size = self.row_bytes
        buffers: list[memoryview] = []
        position = offsets[start]
        wanted = 0
        run = start  # first row of the current run of adjacent rows
        for i in range(start, stop):
            gap = gaps[i] if i < stop - 1 else -1
            if gap == 0:
                continue
            buffers.append(view[run * size : (i + 1) * size])
            wanted += (i + 1 - run) * size
            run = i + 1
            if gap > 0:
                if len(buffers) + 1 >= _MAX_BUFFERS or wanted + gap > _MAX_CALL:
                    self._fill(buffers, position, wanted)
                    buffers, wanted, position = [], 0, offsets[i + 1]
                    continue
                buffers.append(self._scratch[:gap])
                wanted += gap
        self._fill(buffers, position, wanted)

    def _fill(self, buffers: list[memoryview], position: int, wanted: int) -> None:
        """``preadv`` into ``buffers`` at ``position``: a short read is completed; no data at all is an error."""
        got = os.preadv(self.fd, buffers, position)
        if got == wanted:
            return
        # a short read: go on buffer by buffer; a read of nothing means the file ends early
        for buffer in buffers:
            length = len(buffer)
            if got >= length:
                got -= length
                position += length
                continue
            done = got
            got = 0
            while done < length:
                n = os.preadv(self.fd, [buffer[done:]], position + done)
                if n == 0:
                    raise FileChangedError(
                        f"{self.name}: the file ends at byte {position + done}, before the data it describes "
                        "(it was truncated or rewritten while being read)"
                    )
                done += n
            position += length
