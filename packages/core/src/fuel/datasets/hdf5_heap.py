"""Check the global heap behind a variable-length dataset before libhdf5 reads it.

The rows of a variable-length (vlen) dataset are stored in HDF5's *global
heap*: each row of the dataset holds a descriptor (the row's length, the
address of a heap *collection* and the index of an object in it), and each
collection is a block of the file that starts with ``GCOL`` and lists its
objects one after the other. libhdf5 trusts that list: a collection whose
free-space object has size 0 makes its parser loop forever (found by
``scripts/fuzz.py``: ``get_data`` hung with 100 % CPU inside
``H5HG__cache_heap_deserialize``, which no Python code can interrupt), and an
object smaller than the row that points to it is copied past its end.

:class:`HeapCheck` reads the descriptors of the rows about to be read (with
``pread``, like :class:`~fuel.datasets.hdf5_pread.ContiguousRows`), walks
every collection they point to once per process, and raises
:class:`~fuel.datasets.hdf5_errors.DamagedFileError` when a collection's
list of objects does not tile it exactly or a row points to an object that is
missing or of the wrong size, before libhdf5 is asked to read anything. It
covers contiguous datasets (what ``fuel-convert`` writes without
``--checksum``) of files that :class:`~fuel.datasets.H5PYDataset` opens by
path; the descriptors of chunked datasets are compressed and checksummed
inside their chunks, and those datasets, files in memory and files open for
writing are left to libhdf5.

Examples
--------
>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "vlen.hdf5")
>>> with h5py.File(path, "w") as f:
...     x = f.create_dataset("x", (3,), dtype=h5py.vlen_dtype(np.dtype("float32")))
...     for i in range(3):
...         x[i] = np.arange(i + 1, dtype="float32")
>>> with h5py.File(path, "r") as f:
...     check = HeapCheck.of(f["x"], repr(path))
...     check.check(slice(0, 3))
...     check.close()
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from fuel.datasets.hdf5_errors import ADVICE, DamagedFileError
from fuel.datasets.hdf5_pread import ContiguousRows

__all__ = ["HeapCheck"]

_MAGIC = b"GCOL"
_VERSION = 1
#: an object header: index (2 bytes), reference count (2), reserved (4), then the object's size
_OBJECT_HEADER = 8
#: object indices are 16-bit: (collection address, index) pairs are keyed as address * 65536 + index
_KEY_SPAN = 1 << 16
_NO_KEY = (1 << 64) - 1


class HeapCheck:
    """The global heap collections that the rows of one contiguous vlen dataset point to, checked before reading.

    Parameters
    ----------
    descriptors : ContiguousRows
        A reader of the dataset's raw rows (its descriptors), which owns the
        file descriptor the collections are read with.
    sizeof_size : int
        Bytes of a length in this file (the superblock's "size of lengths").
    element_size : int
        Bytes of one element of the vlen base type.
    where : str
        The file and dataset, as error messages name them.

    Examples
    --------
    >>> HeapCheck.of(object(), "nothing") is None
    True
    """

    def __init__(self, descriptors: ContiguousRows, sizeof_size: int, element_size: int, where: str):
        self.descriptors = descriptors
        self.sizeof_size = int(sizeof_size)
        self.element_size = int(element_size)
        self.where = where
        #: collection address -> {object index: object size}, for collections already checked
        self.collections: dict[int, dict[int, int]] = {}
        self._keys = np.array([_NO_KEY], dtype=np.uint64)  # see _index
        self._sizes = np.zeros(1, dtype=np.uint64)

    @classmethod
    def of(cls, dataset: Any, where: str) -> "HeapCheck | None":
        """The check of an open contiguous vlen ``h5py.Dataset``, or ``None`` when it cannot be done."""
        try:
            import h5py

            if dataset.chunks is not None or h5py.check_vlen_dtype(dataset.dtype) is None or len(dataset.shape) == 0:
                return None
            sizeof_addr, sizeof_size = dataset.file.id.get_create_plist().get_sizes()
            element_size = dataset.id.get_type().get_super().get_size()
        except (AttributeError, OSError, ValueError, TypeError, RuntimeError, KeyError):
            return None
        if sizeof_addr not in (4, 8) or sizeof_size not in (4, 8):
            return None
        dtype = np.dtype([("length", "<u4"), ("address", f"<u{sizeof_addr}"), ("index", "<u4")])
        count = int(dataset.shape[0])
        try:
            offset = dataset.id.get_offset()
            if offset is None or count == 0 or dataset.id.get_storage_size() != count * dtype.itemsize:
                return None
            handle = dataset.file.id.get_vfd_handle()
            if not isinstance(handle, int) or handle < 0:
                return None
            fd = os.dup(handle)
        except (OSError, ValueError, RuntimeError, TypeError):
            return None
        return cls(ContiguousRows(fd, offset, dtype, (count,), where), sizeof_size, element_size, where)

    def close(self) -> None:
        """Close the file descriptor."""
        self.descriptors.close()

    def check(self, rows: Any) -> None:
        """Raise :class:`DamagedFileError` unless every object that ``rows`` point to is sound.

        ``rows`` is an int, a step-1 slice or a 1-D integer array (absolute rows).
        """
        found = np.atleast_1d(self.descriptors.read(rows))
        found = found[found["length"] > 0]
        if not found.shape[0]:
            return
        addresses = found["address"].astype(np.uint64)
        new = [a for a in np.unique(addresses).tolist() if a not in self.collections]
        for address in new:
            self.collections[address] = self._walk(address)
        if new:
            self._index()
        indices = found["index"].astype(np.uint64)
        keys = addresses * np.uint64(_KEY_SPAN) + np.minimum(indices, np.uint64(_KEY_SPAN - 1))
        at = np.minimum(np.searchsorted(self._keys, keys), self._keys.shape[0] - 1)
        missing = (self._keys[at] != keys) | (indices >= _KEY_SPAN)
        wrong = self._sizes[at] != found["length"].astype(np.uint64) * np.uint64(self.element_size)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            self._damaged(f"a row points to object {int(indices[row])} of the global heap collection at byte "
                          f"{int(addresses[row])}, which has no such object")
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            self._damaged(f"a row of {int(found['length'][row])} elements points to an object of "
                          f"{int(self._sizes[at[row]])} bytes (collection at byte {int(addresses[row])}, object "
                          f"{int(indices[row])})")

    def _index(self) -> None:
        """Sorted keys (collection address, object index) and sizes of every object of the collections walked."""
        keys = [address * _KEY_SPAN + index for address, objects in self.collections.items() for index in objects]
        sizes = [size for objects in self.collections.values() for size in objects.values()]
        keys.append(_NO_KEY)  # never empty (searchsorted stays in range); no real key reaches it
        sizes.append(0)
        order = np.argsort(np.asarray(keys, dtype=np.uint64), kind="stable")
        self._keys = np.asarray(keys, dtype=np.uint64)[order]
        self._sizes = np.asarray(sizes, dtype=np.uint64)[order]

    def _damaged(self, what: str) -> None:
        raise DamagedFileError(f"{self.where}: the variable-length data cannot be read: {what}; {ADVICE}")

    def _read(self, address: int, size: int) -> bytes:
        data = os.pread(self.descriptors.fd, size, address)
        if len(data) != size:
            self._damaged(f"the global heap collection at byte {address} runs past the end of the file")
        return data

    def _walk(self, address: int) -> dict[int, int]:
        """``{object index: size}`` of the collection at ``address``, checked the way libhdf5 parses it."""
        length_format = "<I" if self.sizeof_size == 4 else "<Q"
        header = 8 + self.sizeof_size
        if address + header > os.fstat(self.descriptors.fd).st_size:
            self._damaged(f"a row points to a global heap collection at byte {address}, past the end of the file")
        head = self._read(address, header)
        if head[:4] != _MAGIC or head[4] != _VERSION:
            self._damaged(f"no global heap collection at byte {address} (signature {head[:5]!r})")
        (total,) = struct.unpack_from(length_format, head, 8)
        if total < header or address + total > os.fstat(self.descriptors.fd).st_size:
            self._damaged(f"the global heap collection at byte {address} claims {total} bytes, past the end of "
                          "the file")
        data = self._read(address, total)
        object_header = _OBJECT_HEADER + self.sizeof_size
        objects: dict[int, int] = {}
        position = header
        while position < total:
            if position + object_header > total:  # a tail too small for a header is free space
                break
            index, = struct.unpack_from("<H", data, position)
            (size,) = struct.unpack_from(length_format, data, position + _OBJECT_HEADER)
            # object 0 is the free space, whose size includes its header and is not padded
            need = size if index == 0 else object_header + (size + 7) // 8 * 8
            if need == 0 or position + need > total:
                self._damaged(f"object {index} of the global heap collection at byte {address} has size {size}, "
                              f"which does not fit the collection's {total} bytes")
            if index:
                objects[index] = size
            position += need
        return objects

