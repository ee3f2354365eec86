"""H5PYDataset: Fuel's HDF5 file layout, read in or out of core.

File layout (unchanged from Fuel, so files written by Fuel's converters load
as they are): every source is a dataset in the root group; the root attribute
``split`` (see :mod:`fuel.datasets.hdf5_layout`) has one row per (split,
source) pair. Axis labels are the labels of the dimension scales;
variable-length sources are 1-D vlen datasets with a dimension scale named
``shapes`` (and optionally ``shape_labels``) attached to axis 0.

libhdf5 can crash the process, or loop forever, on a damaged file, which no
Python code can catch or interrupt, so this module avoids the code where it
does: libhdf5's dimension-scale API is never used (the ``shapes`` scale of a
variable-length source is found from the scale's own ``REFERENCE_LIST``, see
:mod:`fuel.datasets.hdf5_scales`; axis labels are read as the attribute
``DIMENSION_LABELS``), the global heap behind contiguous variable-length data
is checked before libhdf5 parses it (:mod:`fuel.datasets.hdf5_heap`), and the
values kept in the global heap that cannot be checked (axis labels, the
provenance strings) are read only when asked for (:attr:`H5PYDataset.axis_labels`,
:attr:`H5PYDataset.provenance`). Every error h5py raises on a damaged file
becomes a :class:`DamagedFileError` (an ``OSError`` and a ``ValueError``)
naming the file. ``fuel-info --check FILE`` reads a whole file in a child
process and reports a crash or a read that makes no progress as a damaged
file.

Out-of-core reads of contiguous, uncompressed datasets bypass libhdf5: the
rows of a batch are read with ``preadv`` at the dataset's offset in the file
(from h5py) straight into a new array, one call per cluster of neighbouring
rows (:class:`~fuel.datasets.hdf5_pread.ContiguousRows`). Nothing is
memory-mapped, so a file truncated or rewritten under a reader gives a
:class:`DamagedFileError` at the next read, never a ``SIGBUS`` that kills
the process. ``memory_map=True`` trades that safety for speed on small rows
(:class:`~fuel.datasets.hdf5_mmap.MappedRows`). Chunked (e.g. checksummed) or compressed datasets are read with
h5py. No file handle or data
array is ever pickled: each process reopens the file lazily (the process id is
checked) and checks that it is still the same file, so datasets are safe with
``fork``, ``spawn`` and checkpoints.

A dataset given an open ``h5py.File`` that is in memory (``driver='core'``)
or writable reads through that handle, in the process that created it only:
worker processes (``MultiProcessing``) refuse it when they are built, and
pickling it is an error. A read-only file on disk is reopened by its path in
each process, like a path.

Examples
--------
>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "toy.hdf5")
>>> with h5py.File(path, "w") as f:
...     f["features"] = np.arange(20, dtype="float32").reshape(10, 2)
...     f["targets"] = np.arange(10, dtype="uint8")
...     f.attrs["split"] = H5PYDataset.create_split_array(
...         {"train": {"features": (0, 8), "targets": (0, 8)}, "test": {"features": (8, 10), "targets": (8, 10)}})
>>> train = H5PYDataset(path, which_sets=("train",))
>>> train.num_examples, train.sources
(8, ('features', 'targets'))
>>> train.get_data(None, [7, 1])[1].tolist()
[7, 1]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from fuel.datasets.base import Dataset
from fuel.datasets.hdf5_errors import (
    ADVICE,
    H5_FAILURES,
    TYPE_FAILURES,
    DamagedFileError,
    h5_message,
    is_ours,
    reading,
)
from fuel.datasets.hdf5_heap import HeapCheck
from fuel.datasets.hdf5_layout import LayoutError, SplitRow, create_split_array, describe_file, split_rows
from fuel.datasets.hdf5_mmap import MappedRows
from fuel.datasets.hdf5_pread import ContiguousRows, FileChangedError
from fuel.datasets.hdf5_scales import axis0_scales
from fuel.utils.paths import DataFileNotFoundError
from fuel.utils.subset import Subset

__all__ = ["DamagedFileError", "ExternalFileError", "H5PYDataset", "LayoutError", "UnsortedRequestError"]

logger = logging.getLogger(__name__)


class ExternalFileError(OSError, ValueError):
    """The open ``h5py.File`` a dataset was given is closed, or is used from another process.

    An ``IOError`` (as Fuel's missing file handle) and a ``ValueError``.

    Examples
    --------
    >>> issubclass(ExternalFileError, IOError) and issubclass(ExternalFileError, ValueError)
    True
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnsortedRequestError(TypeError, ValueError):
    """``sort_indices=False`` and a request whose indices are not increasing (h5py's ``TypeError`` in Fuel).

    Examples
    --------
    >>> issubclass(UnsortedRequestError, TypeError)
    True
    """


def _decode(value: Any) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _open_file(path: str, driver: str | None) -> h5py.File:
    if not os.path.exists(path):
        raise DataFileNotFoundError(f"HDF5 file {path!r} does not exist", path, [])
    try:
        return h5py.File(path, "r", driver=driver)
    except H5_FAILURES as err:
        raise DamagedFileError(
            f"{path!r} is not a readable HDF5 file (not HDF5, truncated or corrupt): {h5_message(err)}"
        ) from err


def _identity(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino, stat.st_size


def _reopenable(handle: h5py.File) -> bool:
    """Whether a given ``h5py.File`` can be reopened by its path in any process (read-only, on disk)."""
    return handle.mode == "r" and handle.driver not in ("core", "fileobj") and os.path.isfile(handle.filename)


class _Source:
    """How one source is read in the current process (in memory, with pread, or through h5py)."""

    __slots__ = ("name", "dataset", "array", "vlen", "shapes", "rows", "heap")

    def __init__(
        self,
        name: str,
        dataset: Any,
        array: np.ndarray | None,
        vlen: bool,
        shapes: np.ndarray | None,
        rows: ContiguousRows | MappedRows | None = None,
        heap: HeapCheck | None = None,
    ):
        self.name = name
        self.dataset = dataset
        self.array = array
        self.vlen = vlen
        self.shapes = shapes
        self.rows = rows
        self.heap = heap

    def close(self) -> None:
        if self.rows is not None:
            self.rows.close()
        if self.heap is not None:
            self.heap.close()


def _source_dataset(h5file: h5py.File, source: str) -> h5py.Dataset:
    where = describe_file(h5file)
    try:
        dataset = h5file.get(source)
    except H5_FAILURES as err:
        if is_ours(err):
            raise
        raise DamagedFileError(f"{where}: source {source!r} cannot be opened ({h5_message(err)}); {ADVICE}") from err
    except ValueError as err:  # h5py: a name it cannot look up
        raise LayoutError(f"{where}: source {source!r} cannot be opened ({err}); the file may be damaged") from err
    if dataset is None:
        raise LayoutError(f"{where}: source {source!r} is listed in the split attribute but missing from the file")
    if not isinstance(dataset, h5py.Dataset):
        raise LayoutError(f"{where}: source {source!r} is a {type(dataset).__name__}, not a dataset")
    with reading(where, f"the shape of source {source!r}"):
        shape = dataset.shape
    if shape is None or len(shape) == 0:
        raise LayoutError(
            f"{where}: source {source!r} is a scalar (shape {shape}); a source needs a first axis of examples"
        )
    return dataset


def _row_subset(h5file: h5py.File, row: SplitRow, length: int) -> Subset:
    where = describe_file(h5file)
    name = f"split {row.split!r} of source {row.source!r}"
    if row.indices is None:
        if row.stop > length:
            raise LayoutError(f"{where}: {name} stops at {row.stop}, past the {length} examples of the source")
        if row.start == row.stop:
            raise LayoutError(f"{where}: {name} selects no examples (start = stop = {row.start})")
        return Subset(slice(row.start, row.stop), length)
    try:
        target = h5file[row.indices]
        indices = np.asarray(target[()]) if isinstance(target, h5py.Dataset) else None
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as err:
        raise LayoutError(f"{where}: the index reference of {name} cannot be resolved ({err})") from err
    if indices is None or indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise LayoutError(f"{where}: the index dataset of {name} must be a 1-D integer dataset")
    if indices.size == 0:
        raise LayoutError(f"{where}: the index dataset of {name} is empty")
    try:
        return Subset(indices, length)
    except ValueError as err:
        raise LayoutError(f"{where}: the index dataset of {name}: {err}") from err


def _subsets(
    h5file: h5py.File, rows: Sequence[SplitRow], splits: Sequence[str], sources: Sequence[str]
) -> list[Subset]:
    """One :class:`Subset` per source: the union of ``splits`` in order, every row checked."""
    by_key = {(row.split, row.source): row for row in rows}
    subsets = []
    for source in sources:
        length = _source_dataset(h5file, source).shape[0]
        combined: Subset | None = None
        for split in splits:
            row = by_key.get((split, source))
            if row is None or not row.available:
                raise LayoutError(f"{describe_file(h5file)}: source {source!r} is not available in split {split!r}")
            part = _row_subset(h5file, row, length)
            combined = part if combined is None else combined + part
        assert combined is not None
        subsets.append(combined)
    return subsets


def _provided_sources(rows: Sequence[SplitRow], which_sets: Sequence[str], where: str) -> tuple[str, ...]:
    per_split = []
    for split in which_sets:
        available = {row.source for row in rows if row.split == split and row.available}
        if not available:
            raise LayoutError(f"{where}: split {split!r} has no available source (every row is marked unavailable)")
        per_split.append(available)
    common = set.intersection(*per_split)
    if not common:
        raise LayoutError(f"{where}: splits {list(which_sets)} have no source in common")
    return tuple(sorted(common))


_PROVENANCE = ("h5py_interface_version", "fuel_convert_version", "fuel_convert_command")


def _axis_labels(h5file: h5py.File, sources: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``{source: labels}`` of ``sources``: the ``DIMENSION_LABELS`` attribute (vlen: plus ``shape_labels``).

    The attributes are read as plain attributes, not through libhdf5's
    dimension-scale API (``H5DSget_label``), which crashes the process on
    many damaged files where reading the attribute gives a clean error.
    """
    where = describe_file(h5file)
    present, vlen = [], []
    for name in sources:
        with reading(where, f"source {name!r}"):
            item = h5file.get(name)
            if isinstance(item, h5py.Dataset):
                present.append(name)
                if h5py.check_vlen_dtype(item.dtype) is not None:
                    vlen.append(name)
    shape_labels = {name: scales["shape_labels"] for name, scales in axis0_scales(h5file, vlen).items()
                    if "shape_labels" in scales and "shapes" in scales}
    labels: dict[str, tuple[str, ...]] = {}
    for name in present:
        value = _dimension_labels(h5file, name)
        if name in shape_labels and len(value) == 1:
            with reading(where, f"the 'shape_labels' scale of source {name!r}", TYPE_FAILURES):
                extra = np.asarray(shape_labels[name][()]).reshape(-1)
            value = (*value, *(_decode(x) for x in extra))
        if any(value):
            labels[name] = value
    return labels


def _dimension_labels(h5file: h5py.File, name: str) -> tuple[str, ...]:
    """The label of each axis of dataset ``name`` (``''`` where it has none), from ``DIMENSION_LABELS``."""
    where = describe_file(h5file)
    with reading(where, f"the axis labels (attribute DIMENSION_LABELS) of source {name!r}", TYPE_FAILURES):
        dataset = h5file[name]
        ndim = len(dataset.shape or ())
        if "DIMENSION_LABELS" not in dataset.attrs:
            return ("",) * ndim
        values = np.asarray(dataset.attrs["DIMENSION_LABELS"]).reshape(-1)
    if values.shape[0] != ndim:
        raise LayoutError(
            f"{where}: source {name!r} has {ndim} axes but {values.shape[0]} axis labels (attribute "
            "DIMENSION_LABELS)"
        )
    return tuple("" if value is None else _decode(value) for value in values.tolist())


def _vlen_shapes(h5file: h5py.File, names: Sequence[str]) -> dict[str, h5py.Dataset]:
    """``{source: its 'shapes' scale}`` for the variable-length sources among ``names`` (vlen dtype + scale).

    The scales are found from their own ``REFERENCE_LIST`` (:func:`axis0_scales`), never through the
    source's ``DIMENSION_LIST``, which lives in the global heap; only that attribute's presence is checked:
    a vlen source with scales attached of which none, or only ``shape_labels``, is found from the scales'
    side is an error (a damaged scale), never read as flat examples.
    """
    where = describe_file(h5file)
    vlen: dict[str, bool] = {}  # vlen source -> has a DIMENSION_LIST
    for name in names:
        with reading(where, f"the type and attributes of source {name!r}"):
            dataset = h5file[name]
            if h5py.check_vlen_dtype(dataset.dtype) is not None:
                vlen[name] = "DIMENSION_LIST" in dataset.attrs
    if not vlen:
        return {}
    scales = axis0_scales(h5file, list(vlen))
    shapes = {}
    for name, attached in vlen.items():
        found = scales[name]
        if "shapes" in found:
            shapes[name] = found["shapes"]
        elif "shape_labels" in found:
            raise LayoutError(
                f"{where}: variable-length source {name!r} has a 'shape_labels' scale but no 'shapes' scale, so the "
                "shapes of its examples are unknown (a damaged scale, or a file not written with Fuel's layout)"
            )
        elif attached and not found:
            raise DamagedFileError(
                f"{where}: variable-length source {name!r} has dimension scales attached (attribute DIMENSION_LIST) "
                f"but no dimension scale of the file lists it (attribute REFERENCE_LIST); {ADVICE}"
            )
    return shapes


def _read_shapes(h5file: h5py.File, name: str, scale: h5py.Dataset, length: int) -> np.ndarray:
    """The ``shapes`` scale of a vlen source: one row of non-negative integers per example, checked."""
    where = describe_file(h5file)
    with reading(where, f"the 'shapes' scale of source {name!r}", TYPE_FAILURES):
        shapes = np.asarray(scale[()])
    if shapes.ndim != 2 or shapes.dtype.kind not in "iu" or shapes.shape[0] != length:
        raise LayoutError(
            f"{where}: the 'shapes' scale of variable-length source {name!r} must be an integer array of shape "
            f"({length}, ndim), one row per example; got shape {shapes.shape} of {shapes.dtype}"
        )
    if shapes.size and int(shapes.min()) < 0:
        raise LayoutError(f"{where}: the 'shapes' scale of variable-length source {name!r} has negative sizes")
    return shapes


def _reshape_vlen(data: Any, shapes: np.ndarray, where: str) -> np.ndarray:
    out = np.empty(len(data), dtype=object)
    sizes = np.prod(shapes, axis=1, dtype=np.int64).tolist()
    for i, (values, shape, size) in enumerate(zip(data, shapes.tolist(), sizes)):
        values = np.asarray(values)
        if values.size != size:
            _misfit(values, shape, where)
        out[i] = values.reshape(shape)
    return out


def _reshape_example(values: Any, shape: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values)
    target = [int(d) for d in shape]
    if values.size != int(np.prod(target, dtype=np.int64)):
        _misfit(values, target, where)
    return values.reshape(target)


def _misfit(values: np.ndarray, shape: Sequence[int], where: str) -> None:
    raise DamagedFileError(
        f"{where}: an example of {values.size} values does not fit its recorded shape {tuple(shape)}; the 'shapes' "
        f"scale and the data disagree: {ADVICE}"
    )


def _index_memory(array: Any, request: Any) -> Any:
    if isinstance(request, (bool, np.bool_)):
        raise IndexError(f"a boolean {request!r} is not a request")
    if isinstance(request, slice):
        if request.stop is not None and request.stop > len(array):
            raise IndexError(f"slice {request} goes past {len(array)} examples")
        return array[request]
    if isinstance(request, np.ndarray) and request.size and (request.min() < 0):
        raise IndexError("negative indices are not allowed")
    if isinstance(request, (int, np.integer)) and request < 0:
        raise IndexError("negative indices are not allowed")
    return array[request]


class H5PYDataset(Dataset):
    """A dataset stored in an HDF5 file with Fuel's layout.

    Parameters
    ----------
    file_or_path : str, os.PathLike or h5py.File
        The file. A read-only ``h5py.File`` on disk is reopened by its path in
        each process; an in-memory (``driver='core'``) or writable one is read
        through the handle, in this process only (see the module docstring).
    which_sets : sequence of str
        Splits to read, concatenated in that order (a bare string is an
        error: write ``("train",)``).
    subset : slice or sequence of int, optional
        Examples within the selected split(s).
    load_in_memory : bool
        Read the selected splits/subset/sources into numpy arrays at once.
    driver : str, optional
        HDF5 driver (passed to ``h5py.File``).
    sort_indices : bool
        Read an unsorted index request in increasing order and restore the
        requested order afterwards (h5py needs increasing indices). With
        ``False`` an unsorted request to an out-of-core dataset is an
        :class:`UnsortedRequestError` (a ``TypeError``, as in Fuel).
    sources : sequence of str, optional
        Sources to return, in this order (default: all available, sorted).
    axis_labels : dict, optional
        Overrides the labels read from the dimension scales (the labels of
        the sources it covers are never read from the file).
    memory_map : bool
        Read contiguous, uncompressed sources out of core through a read-only
        file mapping instead of ``preadv`` calls (the default): shuffled
        batches of small rows cost what in-memory fancy indexing costs, but a
        file truncated *during* the copy of a batch kills the process with
        ``SIGBUS`` (see :mod:`fuel.datasets.hdf5_mmap`). Ignored with
        ``load_in_memory=True``.

    Raises
    ------
    LayoutError
        The file does not follow Fuel's layout; the message names the file.
    DamagedFileError
        libhdf5 cannot read the file (here or in a later read); the message
        names the file.

    Examples
    --------
    >>> H5PYDataset.interface_version
    '0.3'
    """

    interface_version = "0.3"
    _excluded = ("_file", "_file_pid", "_readers", "_in_memory")

    def __init__(
        self,
        file_or_path: Any,
        which_sets: Sequence[str],
        subset: slice | Sequence[int] | None = None,
        load_in_memory: bool = False,
        driver: str | None = None,
        sort_indices: bool = True,
        sources: Sequence[str] | None = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        memory_map: bool = False,
    ):
        self._external_file_handle: h5py.File | None = None
        self._external_pid: int | None = None
        self._identity: tuple[int, int, int] | None = None
        self._file: h5py.File | None = None
        self._file_pid: int | None = None
        self._readers: list[_Source] | None = None
        self._in_memory: list[_Source] | None = None
        self._vlen: tuple[str, ...] | None = None
        self._labels: dict[str, tuple[str, ...]] | None = None
        self._labels_read = False
        self._provenance: dict[str, str | None] | None = None
        self._user_axis_labels = dict(axis_labels) if axis_labels is not None else {}
        if isinstance(file_or_path, h5py.File):
            if not file_or_path.id.valid:
                raise ExternalFileError("the h5py.File given to H5PYDataset is closed")
            self.path = os.fspath(file_or_path.filename)
            if _reopenable(file_or_path):
                self._identity = _identity(self.path)
            else:
                self._external_file_handle = file_or_path
                self._external_pid = os.getpid()
        elif isinstance(file_or_path, (str, os.PathLike)):
            self.path = os.fspath(file_or_path)
        else:
            raise ValueError(f"file_or_path must be a path or an h5py.File, got {type(file_or_path).__name__}")
        if isinstance(which_sets, (str, bytes)) or not isinstance(which_sets, Sequence) or not which_sets:
            raise ValueError(
                f"which_sets must be a non-empty sequence of split names such as ('train',), got {which_sets!r}"
            )
        self.which_sets = tuple(which_sets)
        self.user_subset = subset
        self.load_in_memory = bool(load_in_memory)
        self.driver = driver
        self.sort_indices = bool(sort_indices)
        self.memory_map = bool(memory_map)
        self._setup(self._file_handle, sources, subset)
        if self.load_in_memory:
            self._load_in_memory()

    def _setup(self, h5file: h5py.File, sources: Sequence[str] | None, subset: Any) -> None:
        where = describe_file(h5file)
        rows = split_rows(h5file)
        all_splits = tuple(dict.fromkeys(row.split for row in rows))
        unknown = [s for s in self.which_sets if s not in all_splits]
        if unknown:
            raise ValueError(f"unknown split(s) {unknown} in {where}; available splits: {sorted(all_splits)}")
        available = _provided_sources(rows, self.which_sets, where)
        if sources is not None:
            if isinstance(sources, str):
                raise ValueError(f"sources must be a sequence of names, not the string {sources!r}")
            missing = [s for s in sources if s not in available]
            if missing or not sources:
                raise ValueError(
                    f"source(s) {missing or list(sources)} not available in splits {list(self.which_sets)} of "
                    f"{where}; available sources: {sorted(available)}"
                )
            self.provides_sources = tuple(sources) + tuple(s for s in available if s not in sources)
        else:
            self.provides_sources = tuple(available)
        super().__init__(sources, None)
        self._labels, self._labels_read = None, False  # Dataset.__init__ went through the setter
        subsets = _subsets(h5file, rows, self.which_sets, self.sources)
        counts = {s: sub.num_examples for s, sub in zip(self.sources, subsets)}
        if len(set(counts.values())) > 1:
            raise LayoutError(f"{where}: sources of splits {list(self.which_sets)} differ in length: {counts}")
        if subset is not None:
            total = next(iter(counts.values()))
            request = self._subset_request(Subset(self._subset_argument(subset), total))
            subsets = [Subset(sub.map(request), sub.original_num_examples) for sub in subsets]
        self.subsets = subsets
        self._num_examples = subsets[0].num_examples if subsets else 0

    @staticmethod
    def _subset_argument(subset: Any) -> Any:
        if isinstance(subset, slice) and subset.step not in (None, 1):
            if subset.start is None or subset.stop is None or subset.step < 1:
                raise ValueError(f"a stepped subset slice needs a start, a stop and a positive step, got {subset}")
            return list(range(subset.start, subset.stop, subset.step))
        return subset

    @staticmethod
    def _subset_request(relative: Subset) -> Any:
        if relative.is_list:
            return relative.indices()
        sl = relative.slice
        assert sl is not None
        if sl.stop <= sl.start:
            raise ValueError(f"subset {sl} selects no examples")
        return sl

    # -- static helpers (Fuel's API) ---------------------------------------------
    create_split_array = staticmethod(create_split_array)

    @staticmethod
    def get_all_splits(h5file: h5py.File) -> tuple[str, ...]:
        """Every split named in the file, in file order."""
        return tuple(dict.fromkeys(row.split for row in split_rows(h5file)))

    @staticmethod
    def get_all_sources(h5file: h5py.File) -> tuple[str, ...]:
        """Every source named in the file, in file order."""
        return tuple(dict.fromkeys(row.source for row in split_rows(h5file)))

    @staticmethod
    def get_provided_sources(h5file: h5py.File, which_sets: Sequence[str]) -> tuple[str, ...]:
        """Sources available in every one of ``which_sets``, sorted."""
        return _provided_sources(split_rows(h5file), which_sets, describe_file(h5file))

    @staticmethod
    def get_vlen_sources(h5file: h5py.File) -> tuple[str, ...]:
        """Sources stored as variable-length data (a vlen dtype and a ``shapes`` scale on axis 0)."""
        where = describe_file(h5file)
        names = []
        for name in H5PYDataset.get_all_sources(h5file):
            with reading(where, f"source {name!r}"):
                if isinstance(h5file.get(name), h5py.Dataset):
                    names.append(name)
        vlen = _vlen_shapes(h5file, names)
        for name in vlen:
            with reading(where, f"the shape of source {name!r}"):
                ndim = len(h5file[name].shape or ())
            if ndim != 1:
                raise LayoutError(f"{where}: variable-length source {name!r} must have exactly one dimension")
        return tuple(name for name in names if name in vlen)

    @staticmethod
    def get_axis_labels(h5file: h5py.File) -> dict[str, tuple[str, ...]]:
        """``{source: labels}`` from the dimension-scale labels (vlen: plus ``shape_labels``)."""
        return _axis_labels(h5file, H5PYDataset.get_all_sources(h5file))

    @staticmethod
    def get_subsets(h5file: h5py.File, splits: Sequence[str], sources: Sequence[str]) -> list[Subset]:
        """One :class:`Subset` per source: the union of ``splits`` in order."""
        return _subsets(h5file, split_rows(h5file), splits, sources)

    # -- metadata read when asked for ---------------------------------------------------
    @property
    def axis_labels(self) -> dict[str, tuple[str, ...]] | None:  # type: ignore[override]
        """``{source: axis names}``, read from the dimension scales on first access."""
        if not self._labels_read:
            merged = dict(self._user_axis_labels)
            missing = [s for s in self.provides_sources if s not in merged]
            if missing:
                merged.update(_axis_labels(self._file_handle, missing))
            order = dict.fromkeys((*self.provides_sources, *merged))
            self._labels = {s: merged[s] for s in order if s in merged} or None
            self._labels_read = True
        return self._labels

    @axis_labels.setter
    def axis_labels(self, value: Mapping[str, tuple[str, ...]] | None) -> None:
        self._labels = dict(value) if value is not None else None
        self._labels_read = value is not None

    @property
    def vlen_sources(self) -> tuple[str, ...]:
        """Selected sources stored as variable-length data (vlen dtype with a ``shapes`` scale)."""
        if self._vlen is None:
            shapes = _vlen_shapes(self._file_handle, self.sources)
            self._vlen = tuple(name for name in self.sources if name in shapes)
        return self._vlen

    @property
    def provenance(self) -> dict[str, str | None]:
        """The converter's attributes ``h5py_interface_version``, ``fuel_convert_version`` and
        ``fuel_convert_command`` (``None`` when absent), read on first access.

        Like the axis labels they are not read when the dataset is built:
        they are variable-length strings, kept in the global heap.
        """
        if self._provenance is None:
            h5file = self._file_handle
            where = describe_file(h5file)
            values: dict[str, str | None] = {}
            for key in _PROVENANCE:
                with reading(where, f"the root attribute {key!r}", TYPE_FAILURES):
                    values[key] = _decode(h5file.attrs[key]) if key in h5file.attrs else None
            self._provenance = values
        return dict(self._provenance)

    # -- per-process file access ---------------------------------------------------
    @property
    def _from_handle(self) -> bool:
        return self._external_pid is not None

    def _describe(self) -> str:
        if self._from_handle:
            return f"the h5py.File {self.path!r} given to H5PYDataset"
        return repr(self.path)

    @property
    def _file_handle(self) -> h5py.File:
        """The ``h5py.File`` this process reads."""
        pid = os.getpid()
        if self._from_handle:
            handle = self._external_file_handle
            if pid != self._external_pid:
                raise ExternalFileError(
                    f"{self._describe()} belongs to process {self._external_pid}; process {pid} cannot reopen it "
                    "(it is in memory or open for writing). Pass the file's path to H5PYDataset to read it from "
                    "worker processes"
                )
            if handle is None or not handle.id.valid:
                raise ExternalFileError(f"{self._describe()} has been closed; give the dataset an open file")
            return handle
        if self._file is None or self._file_pid != pid or not self._file.id.valid:
            self._close_readers()
            self._file = self._open_own()
            self._file_pid = pid
        return self._file

    def _open_own(self) -> h5py.File:
        handle = _open_file(self.path, self.driver)
        if self._identity is not None and _identity(self.path) != self._identity:
            handle.close()
            raise ExternalFileError(
                f"{self.path!r} is no longer the file this dataset was created from (it was replaced or resized)"
            )
        return handle

    def check_worker_safe(self) -> None:
        """Raise :class:`ExternalFileError` if another process cannot read this dataset.

        ``MultiProcessing`` calls it before it starts its worker.
        """
        if self._from_handle:
            raise ExternalFileError(
                f"{self._describe()} is in memory or open for writing: a worker process cannot reopen it. Pass the "
                "file's path to H5PYDataset to read it in a worker"
            )

    def _make_reader(self, h5file: h5py.File, name: str) -> _Source:
        where = describe_file(h5file)
        with reading(where, f"source {name!r}"):
            dataset = h5file[name]
            length = int(dataset.shape[0])
        own = self.driver is None and not self._from_handle
        if name in self.vlen_sources:
            shapes = _read_shapes(h5file, name, _vlen_shapes(h5file, [name])[name], length)
            heap = HeapCheck.of(dataset, f"{where}, source {name!r}") if own else None
            return _Source(name, dataset, None, True, shapes, heap=heap)
        direct = MappedRows if getattr(self, "memory_map", False) else ContiguousRows
        rows = direct.of(dataset) if own else None
        return _Source(name, dataset, None, False, None, rows)

    def _sources_for_reading(self) -> list[_Source]:
        if self.load_in_memory:
            if self._in_memory is None:
                self._load_in_memory()
            assert self._in_memory is not None
            return self._in_memory
        h5file = self._file_handle
        if self._readers is None:
            readers: list[_Source] = []
            try:
                for name in self.sources:
                    readers.append(self._make_reader(h5file, name))
            except BaseException:
                for reader in readers:
                    reader.close()
                raise
            self._readers = readers
        return self._readers

    def _load_in_memory(self) -> None:
        h5file = self._file_handle
        loaded = []
        for name, subset in zip(self.sources, self.subsets):
            reader = self._make_reader(h5file, name)
            try:
                selection = subset.slice if not subset.is_list else subset.indices()
                data = self._guarded_read(name, lambda: self._read(reader, selection))  # noqa: B023 - called at once
            finally:
                reader.close()
            loaded.append(_Source(name, None, data if reader.vlen else np.asarray(data), False, None))
        self._in_memory = loaded
        self.close_file()

    def close_file(self) -> None:
        """Close this process's own file handle (reopened on the next read); a given ``h5py.File`` stays open."""
        if self._file is not None and self._file_pid == os.getpid():
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - closing twice or at exit
                pass
        self._file = None
        self._close_readers()

    def _close_readers(self) -> None:
        readers, self._readers = self._readers, None
        for reader in readers or ():
            reader.close()

    def load(self) -> None:
        """Open the file (or load the data) in this process now instead of lazily."""
        self._sources_for_reading()

    def __getstate__(self) -> dict[str, Any]:
        if self._from_handle:
            raise TypeError(
                f"{self._describe()} cannot be pickled: the file is in memory or open for writing. Pass the "
                "file's path to H5PYDataset to send the dataset to another process"
            )
        state = self.__dict__.copy()
        for name in self._excluded:
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __del__(self) -> None:
        try:
            self.close_file()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    # -- data -------------------------------------------------------------------------
    @property
    def num_examples(self) -> int:
        """Examples in the selected splits and subset."""
        return self._num_examples

    @property
    def example_iteration_scheme(self) -> Any:
        """Sequential single examples."""
        from fuel.schemes import SequentialExampleScheme

        return SequentialExampleScheme(self.num_examples)

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """Examples ``request`` (int, slice or index list, relative to the selection)."""
        if self.load_in_memory:
            return self._in_memory_get_data(state, request)
        return self._out_of_memory_get_data(state, request)

    def _in_memory_get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        if state is not None or request is None:
            raise ValueError(
                "an in-memory H5PYDataset needs a request (int, slice or indices) and no state "
                f"(got state={state!r:.50}, request={request!r:.50}); use an iteration scheme"
            )
        readers = self._sources_for_reading()
        if isinstance(request, (list, tuple)):
            request = np.asarray(request, dtype=np.int64)
        try:
            return tuple(_index_memory(reader.array, request) for reader in readers)
        except IndexError as err:
            raise ValueError(f"request is out of range for {self._num_examples} examples: {err}") from err

    def _out_of_memory_get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        if request is None or not isinstance(request, (int, np.integer, slice, list, tuple, np.ndarray)):
            raise ValueError(
                f"H5PYDataset needs a request (int, slice or indices), got {request!r:.80}; use an iteration scheme"
            )
        if isinstance(request, (list, tuple)):
            request = np.asarray(request, dtype=np.int64)
        if isinstance(request, np.ndarray) and not self.sort_indices and request.ndim == 1 and request.size > 1:
            if not bool((request[1:] > request[:-1]).all()):
                raise UnsortedRequestError(
                    f"sort_indices=False and the request's indices are not increasing ({request[:8].tolist()}...); "
                    "h5py reads need increasing, unique indices: pass sort_indices=True or use a scheme with "
                    "sorted_indices=True"
                )
        readers = self._sources_for_reading()
        out = []
        for reader, subset in zip(readers, self.subsets):
            absolute = subset.map(request)
            out.append(self._guarded_read(reader.name, lambda: self._read(reader, absolute)))  # noqa: B023
        return tuple(out)

    def _guarded_read(self, source: str, read: Any) -> Any:
        try:
            return read()
        except H5_FAILURES as err:
            if isinstance(err, FileChangedError):
                raise DamagedFileError(
                    f"{self._describe()}: source {source!r} cannot be read: {err}. Do not rewrite a data file "
                    "while a stream reads it; write the new file elsewhere and rename it into place"
                ) from err
            if is_ours(err):
                raise
            text = h5_message(err).lower()
            what = "libhdf5 failed"
            if "checksum" in text or "fletcher" in text or ("filter" in text and self._checksummed(source)):
                what = "a chunk fails its Fletcher-32 checksum"
            raise DamagedFileError(
                f"{self._describe()}: source {source!r} cannot be read: {what} ({h5_message(err)}). The file is "
                "damaged: download and convert it again (`fuel-info --check FILE` checks a whole file)"
            ) from err

    def _checksummed(self, source: str) -> bool:
        try:
            return bool(self._file_handle[source].fletcher32)
        except Exception:  # noqa: BLE001 - only used to word an error message
            return False

    def _read(self, reader: _Source, absolute: Any) -> Any:
        if isinstance(absolute, np.ndarray):
            n = absolute.shape[0]
            first, last = absolute[0], absolute[-1]
            if last - first + 1 == n and (n < 2 or (absolute[1:] > absolute[:-1]).all()):
                absolute = slice(int(first), int(last) + 1)
        if reader.rows is not None:
            return reader.rows.read(absolute)
        if reader.vlen:
            return self._read_vlen(reader, absolute)
        return _read_h5py(reader.dataset, absolute)

    def _read_vlen(self, reader: _Source, absolute: Any) -> Any:
        assert reader.shapes is not None
        where = f"{self._describe()}, source {reader.name!r}"
        if reader.heap is not None:
            reader.heap.check(absolute)  # before libhdf5 parses the heap (it can loop forever on a damaged one)
        if isinstance(absolute, (int, np.integer)):
            return _reshape_example(reader.dataset[absolute], reader.shapes[absolute], where)
        data = _read_h5py(reader.dataset, absolute)
        return _reshape_vlen(data, reader.shapes[absolute], where)


def _read_h5py(dataset: h5py.Dataset, absolute: Any) -> Any:
    """``dataset[absolute]``; index arrays are read in increasing order (h5py needs it) and put back in order."""
    if not isinstance(absolute, np.ndarray):
        return dataset[absolute]
    if absolute.shape[0] < 2 or bool((absolute[1:] > absolute[:-1]).all()):
        return _read_rows(dataset, absolute)
    unique, inverse = np.unique(absolute, return_inverse=True)
    return _read_rows(dataset, unique)[inverse]


def _read_rows(dataset: h5py.Dataset, rows: np.ndarray) -> Any:
    """Rows ``rows`` (increasing) of ``dataset``; a chunked dataset is read one span per chunk.

    libhdf5 reads a selection of scattered rows from a chunked (e.g. checksummed
    or compressed) dataset about ten times slower than the same rows read as
    one slice per chunk they fall in.
    """
    chunks = dataset.chunks
    if chunks is None or dataset.dtype.hasobject or rows.shape[0] < 2:
        return dataset[rows]
    keys = rows // chunks[0]
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts, stops = np.concatenate(([0], cuts)), np.concatenate((cuts, [rows.shape[0]]))
    out = np.empty((rows.shape[0], *dataset.shape[1:]), dtype=dataset.dtype)
    for start, stop in zip(starts.tolist(), stops.tolist()):
        low, high = int(rows[start]), int(rows[stop - 1]) + 1
        out[start:stop] = dataset[low:high][rows[start:stop] - low]
    return out


def __getattr__(name: str) -> Any:
    """``PytablesDataset``, importable from here as in Fuel (it lives in :mod:`fuel.datasets.pytables`)."""
    if name == "PytablesDataset":
        from fuel.datasets.pytables import PytablesDataset

        return PytablesDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
