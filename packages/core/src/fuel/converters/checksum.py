"""Checksummed HDF5 files: every dataset chunked with HDF5's Fletcher-32 filter (``fuel-convert --checksum``).

A byte flipped in the raw data of an ordinary (contiguous) file reads back as a
different number, undetected. :func:`checksum_hdf5` rewrites a converted file
so that every dataset is stored in chunks that each carry a Fletcher-32
checksum, which libhdf5 verifies whenever it reads the chunk: a damaged chunk
raises instead of returning wrong values (:class:`fuel.datasets.hdf5.DamagedFileError`
names the file). The rewrite keeps everything else: attributes, the ``split``
attribute (its index references re-pointed), dimension scales and labels,
compression. It writes a temporary file and renames it over the original only
when complete.

Chunked files are read through h5py, not with pread; ``benchmarks/data_h5.py``
measures what that costs.

Examples
--------
>>> import h5py, numpy, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.hdf5")
>>> with h5py.File(path, "w") as f:
...     f["x"] = numpy.arange(10)
>>> checksum_hdf5(path)
>>> with h5py.File(path, "r") as f:
...     f["x"].fletcher32, f.attrs["fuel_checksum"]
(True, 'fletcher32')
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

__all__ = ["CHUNK_BYTES", "checksum_hdf5", "checksum_status", "chunk_shape"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 16 << 10
"""Target size of a chunk (16 KiB): a random read decodes and checks about this much per example."""

_BLOCK_BYTES = 32 << 20
_DIMENSION_ATTRIBUTES = frozenset({"CLASS", "NAME", "DIMENSION_LIST", "REFERENCE_LIST", "DIMENSION_LABELS"})


def chunk_shape(shape: tuple[int, ...], itemsize: int, target: int | None = None) -> tuple[int, ...]:
    """Chunks of whole examples (rows of axis 0) of about ``target`` bytes; one row if a row is larger.

    Examples
    --------
    >>> chunk_shape((50000, 3, 32, 32), 1)
    (5, 3, 32, 32)
    >>> chunk_shape((10, 1000, 1000), 4)
    (1, 1000, 1000)
    """
    target = CHUNK_BYTES if target is None else target
    row = max(1, itemsize)
    for size in shape[1:]:
        row *= max(1, size)
    rows = max(1, min(max(1, shape[0]), target // row))
    return (rows, *(max(1, size) for size in shape[1:]))


def _walk(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(path, object)`` of every group and dataset below ``group``, parents first; links are refused."""
    import h5py

    out = []
    for name in group:
        link = group.get(name, getlink=True)
        path = f"{prefix}/{name}"
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            raise ValueError(f"{path} is a {type(link).__name__}: files with links cannot be checksummed")
        item = group[name]
        out.append((path, item))
        if isinstance(item, h5py.Group):
            out.extend(_walk(item, path))
    return out


def _remap(value: Any, source: Any, target: Any, where: str) -> Any:
    """``value`` with every object reference into ``source`` re-pointed to the same path in ``target``."""
    import h5py
    import numpy as np

    def point(ref: Any) -> Any:
        if not ref:
            return h5py.Reference()
        return target[source[ref].name].ref

    array = np.asarray(value)
    if array.dtype.names:
        fields = [name for name in array.dtype.names if h5py.check_ref_dtype(array.dtype.fields[name][0])]
        if not fields:
            return value
        array = array.copy()
        for field in fields:
            if h5py.check_ref_dtype(array.dtype.fields[field][0]) is not h5py.Reference:
                raise ValueError(f"{where}: region references cannot be checksummed")
            for index in np.ndindex(array.shape):
                array[index][field] = point(array[index][field])
        return array
    kind = h5py.check_ref_dtype(array.dtype)
    if kind is None:
        return value
    if kind is not h5py.Reference:
        raise ValueError(f"{where}: region references cannot be checksummed")
    out = np.empty(array.shape, dtype=h5py.ref_dtype)
    for index in np.ndindex(array.shape):
        out[index] = point(array[index])
    return out


def _copy_attributes(source_item: Any, target_item: Any, source: Any, target: Any) -> None:
    for key in source_item.attrs:
        if key in _DIMENSION_ATTRIBUTES:
            continue
        value = source_item.attrs[key]
        target_item.attrs[key] = _remap(value, source, target, f"attribute {key!r} of {source_item.name}")


def _copy_dataset(name: str, dataset: Any, target: Any) -> Any:
    import h5py

    if h5py.check_ref_dtype(dataset.dtype) is not None or (
        dataset.dtype.names and any(h5py.check_ref_dtype(dataset.dtype.fields[f][0]) for f in dataset.dtype.names)
    ):
        raise ValueError(f"dataset {name} holds references: it cannot be checksummed")
    if dataset.shape is None or len(dataset.shape) == 0:
        logger.warning("%s is a scalar: it cannot be chunked, so it carries no checksum", name)
        return target.create_dataset(name, data=dataset[()], dtype=dataset.dtype)
    chunks = dataset.chunks or chunk_shape(dataset.shape, dataset.dtype.itemsize)
    variable = h5py.check_vlen_dtype(dataset.dtype) is not None or dataset.dtype.kind == "O"
    if variable:  # libhdf5 refuses filters on variable-length data (they live in the global heap)
        logger.warning("%s holds variable-length data, which libhdf5 cannot checksum", name)
    copy = target.create_dataset(
        name, shape=dataset.shape, dtype=dataset.dtype, chunks=chunks, maxshape=dataset.maxshape,
        compression=dataset.compression, compression_opts=dataset.compression_opts, shuffle=dataset.shuffle,
        fletcher32=not variable,
    )
    row = max(1, dataset.dtype.itemsize * (dataset.size // max(1, dataset.shape[0])))
    step = max(chunks[0], (_BLOCK_BYTES // row) // chunks[0] * chunks[0])
    for start in range(0, dataset.shape[0], step):
        copy[start:start + step] = dataset[start:start + step]
    return copy


def _copy_dimension_scales(pairs: list[tuple[Any, Any]], target: Any) -> None:
    import h5py

    for source_item, target_item in pairs:
        if h5py.h5ds.is_scale(source_item.id):
            name = source_item.attrs.get("NAME", b"")
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            target_item.make_scale(name.rstrip("\x00"))
    for source_item, target_item in pairs:
        for axis, dimension in enumerate(source_item.dims):
            if dimension.label:
                target_item.dims[axis].label = dimension.label
            for _scale_name, scale in dimension.items():
                target_item.dims[axis].attach_scale(target[scale.name])


def checksum_hdf5(path: str) -> None:
    """Rewrite ``path`` with every dataset chunked and Fletcher-32 checksummed, atomically.

    Existing chunking and compression are kept; contiguous datasets get chunks
    of whole examples of about :data:`CHUNK_BYTES`. Scalar datasets cannot be
    chunked and variable-length data cannot be filtered: they stay without a
    checksum (a warning is logged; :func:`checksum_status` counts them). The root attribute
    ``fuel_checksum`` is set to ``'fletcher32'``.

    Raises
    ------
    ValueError
        The file has soft or external links, region references, or datasets of
        references (none of which Fuel's layout uses); the original is untouched.
    """
    import h5py

    from fuel.utils.files import make_temporary

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = make_temporary(directory, prefix=f".{os.path.basename(path)}.", suffix=".checksumming")
    os.close(fd)
    try:
        with h5py.File(path, "r") as source, h5py.File(temporary, "w") as target:
            pairs = []
            for name, item in _walk(source):
                if isinstance(item, h5py.Group):
                    target.create_group(name)
                else:
                    pairs.append((item, _copy_dataset(name, item, target)))
            _copy_dimension_scales(pairs, target)
            for name, item in [("/", source), *_walk(source)]:
                _copy_attributes(item, target[name], source, target)
            target.attrs["fuel_checksum"] = "fletcher32"
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def checksum_status(h5file: Any) -> tuple[int, int]:
    """``(checksummed, total)`` datasets of an open file (scalars and variable-length data have no checksum).

    Examples
    --------
    >>> checksum_status(h5file)  # doctest: +SKIP
    (4, 4)
    """
    import h5py

    total = checksummed = 0

    def visit(_name: str, item: Any) -> None:
        nonlocal total, checksummed
        if isinstance(item, h5py.Dataset):
            total += 1
            checksummed += bool(item.fletcher32)

    h5file.visititems(visit)
    return checksummed, total
