"""Rows of a contiguous HDF5 dataset read through a read-only file mapping (opt-in).

``H5PYDataset(..., memory_map=True)`` reads contiguous, uncompressed
sources through a read-only ``mmap`` of the file instead of ``preadv``
calls (:mod:`fuel.datasets.hdf5_pread`, the default). A shuffled batch then
costs what numpy fancy indexing costs in memory once the file is in the page
cache; with ``preadv`` each scattered row is one system call, which is most
of the time for small rows (``benchmarks/data_h5.py`` measures both).

The price is the one the default avoids: an access to a mapping past the end
of a file that was truncated under the reader kills the process with
``SIGBUS``. The file's size and modification time are checked before and
after each read, so a file rewritten between reads, or while a batch was
copied, is a :class:`~fuel.datasets.hdf5_pread.FileChangedError`, and every
batch is a private copy (never a view of the mapping); only a truncation
*during* the copy of a batch can still crash. Use it for files nothing
rewrites while training reads them.

Examples
--------
>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "rows.hdf5")
>>> with h5py.File(path, "w") as f:
...     f["x"] = np.arange(12, dtype="int16").reshape(6, 2)
>>> with h5py.File(path, "r") as f:
...     rows = MappedRows.of(f["x"])
...     rows.read(np.array([4, 1, 1])).tolist(), rows.read(slice(2, 4)).tolist(), rows.read(5).tolist()
([[8, 9], [2, 3], [2, 3]], [[4, 5], [6, 7]], [10, 11])
>>> rows.close()
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

from fuel.datasets.hdf5_pread import FileChangedError, FileReader, check_unchanged, file_stamp, locate_contiguous

__all__ = ["MappedRows"]


class MappedRows(FileReader):
    """Read rows of one contiguous, uncompressed dataset through a read-only ``mmap``.

    Parameters
    ----------
    fd : int
        A file descriptor of the HDF5 file, owned by this object (closed by
        :meth:`close`); the mapping is made from it.
    offset : int
        Byte offset of the dataset's data in the file.
    dtype : numpy.dtype
        The dataset's dtype (no object or variable-length types).
    shape : tuple of int
        The dataset's shape (rows along axis 0).
    name : str
        What to call the data in errors (file and dataset).

    Raises
    ------
    FileChangedError
        The file is shorter than the data it describes.

    Examples
    --------
    >>> MappedRows.of(object()) is None
    True
    """

    __slots__ = ("name", "shape", "stamp", "_map", "_array")

    def __init__(self, fd: int, offset: int, dtype: np.dtype, shape: tuple[int, ...], name: str):
        self.fd = fd
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.stamp = file_stamp(fd)
        dtype = np.dtype(dtype)
        count = int(np.prod(self.shape, dtype=np.int64))
        start = int(offset) - int(offset) % mmap.ALLOCATIONGRANULARITY
        length = int(offset) - start + count * dtype.itemsize
        if start + length > self.stamp[0]:
            os.close(fd)
            raise FileChangedError(
                f"{name}: the file ({self.stamp[0]} bytes) ends before the data it describes (byte {start + length})"
            )
        self._map: mmap.mmap | None = mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=start)
        array = np.frombuffer(self._map, dtype=dtype, count=count, offset=int(offset) - start)
        self._array: np.ndarray | None = array.reshape(self.shape)

    @classmethod
    def of(cls, dataset: Any) -> "MappedRows | None":
        """The reader of an open ``h5py.Dataset``, or ``None`` when it is not one plain block of bytes."""
        found = locate_contiguous(dataset)
        if found is None:
            return None
        fd, offset = found
        return cls(fd, offset, dataset.dtype, dataset.shape, f"{dataset.file.filename!r}, dataset {dataset.name!r}")

    def close(self) -> None:
        """Drop the mapping and close the file descriptor."""
        self._array = None
        mapping, self._map = getattr(self, "_map", None), None
        if mapping is not None:
            try:
                mapping.close()
            except (BufferError, ValueError):  # a view still exported: the mapping goes with it
                pass
        super().close()

    def read(self, rows: Any) -> np.ndarray:
        """Rows ``rows`` (an int, a slice or a 1-D integer array) as a new array (a copy, never a view)."""
        array = self._array
        if array is None:
            raise ValueError(f"{self.name}: the reader is closed")
        check_unchanged(self.fd, self.stamp, self.name)
        count = self.shape[0]
        if isinstance(rows, (int, np.integer)):
            if not 0 <= int(rows) < count:
                raise IndexError(f"row {int(rows)} is out of range for {count} rows")
            out = np.array(array[int(rows)])
        elif isinstance(rows, slice):
            out = np.array(array[rows])
        else:
            index = np.asarray(rows)
            if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
                raise IndexError(f"rows must be a 1-D array of integers, got shape {index.shape} of {index.dtype}")
            if index.dtype.kind == "i" and index.size and int(index.min()) < 0:  # numpy would count from the end
                raise IndexError(f"row {int(index.min())} is out of range for {count} rows")
            try:
                out = array[index]  # fancy indexing copies
            except IndexError as err:  # a row past the end
                raise IndexError(f"rows out of range for {count} rows: {err}") from None
        # a write while the batch was copied could have mixed two files' bytes
        check_unchanged(self.fd, self.stamp, self.name)
        return out
