"""H5PYDataset: Fuel's HDF5 file layout, read in or out of core.

File layout (unchanged from Fuel, so files written by Fuel's converters load
as they are): every source is a dataset in the root group; the root attribute
``split`` is a 1-D compound array with one row per (split, source) pair —
``split`` and ``source`` (bytes), ``start`` and ``stop`` (int64, half-open),
``indices`` (an object reference to an index dataset that overrides
start/stop when not null), ``available`` (bool) and ``comment`` (bytes).
Axis labels are the labels of the dimension scales; variable-length sources
are 1-D vlen datasets with a dimension scale named ``shapes`` (and optionally
``shape_labels``) attached to axis 0.

Out-of-core reads of contiguous, uncompressed datasets go through a read-only
``numpy.memmap`` of the file (the offset comes from h5py), so shuffled batches
cost about as much as numpy fancy indexing in memory; chunked or compressed
datasets are read with h5py. No file handle or data array is ever pickled:
each process reopens the file lazily (the process id is checked), so datasets
are safe with ``fork``, ``spawn`` and checkpoints.

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
from itertools import product
from typing import Any

import h5py
import numpy as np

from fuel.datasets.base import Dataset
from fuel.utils.subset import Subset

__all__ = ["H5PYDataset"]

logger = logging.getLogger(__name__)


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value).decode("utf-8")
    return str(value)


def _open_file(path: str, driver: str | None) -> h5py.File:
    if not os.path.exists(path):
        raise ValueError(f"HDF5 file {path!r} does not exist")
    try:
        return h5py.File(path, "r", driver=driver)
    except OSError as err:
        raise ValueError(f"{path!r} is not a readable HDF5 file (not HDF5, truncated or corrupt): {err}") from err


def _split_array(h5file: h5py.File) -> np.ndarray:
    if "split" not in h5file.attrs:
        raise ValueError(
            f"{h5file.filename!r} has no root attribute 'split', so it is not a Fuel HDF5 file; write it with "
            "fuel.converters.base.fill_hdf5_file or H5PYDataset.create_split_array"
        )
    return np.asarray(h5file.attrs["split"])


def _is_null(ref: Any) -> bool:
    return ref is None or not bool(ref)


class _Source:
    """How one source is read in the current process."""

    __slots__ = ("name", "dataset", "array", "vlen", "shapes")

    def __init__(self, name: str, dataset: Any, array: np.ndarray | None, vlen: bool, shapes: np.ndarray | None):
        self.name = name
        self.dataset = dataset
        self.array = array
        self.vlen = vlen
        self.shapes = shapes


def _memmap(path: str, dataset: h5py.Dataset) -> np.ndarray | None:
    """A read-only ndarray view of a contiguous, uncompressed dataset, or ``None``."""
    try:
        if (
            dataset.chunks is not None
            or dataset.compression is not None
            or dataset.external
            or dataset.dtype.hasobject
            or dataset.dtype.kind in "OV"
            or dataset.size == 0
        ):
            return None
        offset = dataset.id.get_offset()
        if offset is None:
            return None
        mapped = np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape)
        return np.asarray(mapped)
    except (OSError, ValueError, TypeError) as err:  # pragma: no cover - platform specific
        logger.debug("not memory-mapping %s of %s: %s", dataset.name, path, err)
        return None


class H5PYDataset(Dataset):
    """A dataset stored in an HDF5 file with Fuel's layout.

    Parameters
    ----------
    file_or_path : str, os.PathLike or h5py.File
        The file (a ``h5py.File`` is used through its filename).
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
        Sort an unsorted index request before an h5py read and restore the
        order afterwards (h5py needs increasing indices). Memory-mapped
        sources never need it.
    sources : sequence of str, optional
        Sources to return, in this order (default: all available, sorted).
    axis_labels : dict, optional
        Overrides the labels read from the dimension scales.

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
    ):
        if isinstance(file_or_path, h5py.File):
            self.path = os.fspath(file_or_path.filename)
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
        self._file: h5py.File | None = None
        self._file_pid: int | None = None
        self._readers: list[_Source] | None = None
        self._in_memory: list[_Source] | None = None

        h5file = self._handle()
        all_splits = self.get_all_splits(h5file)
        unknown = [s for s in self.which_sets if s not in all_splits]
        if unknown:
            raise ValueError(f"unknown split(s) {unknown} in {self.path!r}; available splits: {sorted(all_splits)}")
        available = self.get_provided_sources(h5file, self.which_sets)
        if sources is not None:
            if isinstance(sources, str):
                raise ValueError(f"sources must be a sequence of names, not the string {sources!r}")
            missing = [s for s in sources if s not in available]
            if missing or not sources:
                raise ValueError(
                    f"source(s) {missing or list(sources)} not available in splits {list(self.which_sets)} of "
                    f"{self.path!r}; available sources: {sorted(available)}"
                )
            self.provides_sources = tuple(sources) + tuple(s for s in available if s not in sources)
        else:
            self.provides_sources = tuple(available)
        self.vlen_sources = tuple(s for s in self.get_vlen_sources(h5file) if s in self.provides_sources)
        labels = self.get_axis_labels(h5file)
        merged = {s: labels[s] for s in self.provides_sources if s in labels}
        if axis_labels is not None:
            merged.update(axis_labels)
        super().__init__(sources, merged or None)
        subsets = self.get_subsets(h5file, self.which_sets, self.sources)
        counts = {s: sub.num_examples for s, sub in zip(self.sources, subsets)}
        if len(set(counts.values())) > 1:
            raise ValueError(f"sources of splits {list(self.which_sets)} differ in length: {counts}")
        if subset is not None:
            total = next(iter(counts.values()))
            relative = Subset(subset, total)
            subsets = [Subset(sub.map(self._subset_request(relative)), sub.original_num_examples) for sub in subsets]
        self.subsets = subsets
        self._num_examples = subsets[0].num_examples if subsets else 0
        self.provenance = {
            key: _decode(h5file.attrs[key]) if key in h5file.attrs else None
            for key in ("h5py_interface_version", "fuel_convert_version", "fuel_convert_command")
        }
        if self.load_in_memory:
            self._load_in_memory()

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
    @staticmethod
    def create_split_array(split_dict: Mapping[str, Mapping[str, Sequence[Any]]]) -> np.ndarray:
        """The root ``split`` attribute for ``{split: {source: (start, stop[, indices[, comment]])}}``.

        (split, source) pairs absent from the dict get ``available=False``.
        String widths are the longest names (at least 1); empty comments are
        stored as ``'.'``.

        Examples
        --------
        >>> a = H5PYDataset.create_split_array({"train": {"x": (0, 5)}, "test": {"x": (5, 7), "y": (0, 2)}})
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

    @staticmethod
    def get_all_splits(h5file: h5py.File) -> tuple[str, ...]:
        """Every split named in the file, in file order."""
        return tuple(dict.fromkeys(_decode(s) for s in _split_array(h5file)["split"]))

    @staticmethod
    def get_all_sources(h5file: h5py.File) -> tuple[str, ...]:
        """Every source named in the file, in file order."""
        return tuple(dict.fromkeys(_decode(s) for s in _split_array(h5file)["source"]))

    @staticmethod
    def get_provided_sources(h5file: h5py.File, which_sets: Sequence[str]) -> tuple[str, ...]:
        """Sources available in every one of ``which_sets``, sorted."""
        rows = _split_array(h5file)
        per_split = []
        for split in which_sets:
            per_split.append(
                {_decode(r["source"]) for r in rows if _decode(r["split"]) == split and bool(r["available"])}
            )
        return tuple(sorted(set.intersection(*per_split))) if per_split else ()

    @staticmethod
    def get_vlen_sources(h5file: h5py.File) -> tuple[str, ...]:
        """Sources stored as variable-length data (a ``shapes`` scale on axis 0)."""
        vlen = []
        for name in H5PYDataset.get_all_sources(h5file):
            if name not in h5file:
                continue
            dataset = h5file[name]
            if len(dataset.dims) > 0 and "shapes" in dataset.dims[0]:
                if len(dataset.dims) > 1:
                    raise ValueError(f"variable-length source {name!r} must have exactly one dimension")
                vlen.append(name)
        return tuple(vlen)

    @staticmethod
    def get_axis_labels(h5file: h5py.File) -> dict[str, tuple[str, ...]]:
        """``{source: labels}`` from the dimension-scale labels (vlen: plus ``shape_labels``)."""
        labels: dict[str, tuple[str, ...]] = {}
        vlen = set(H5PYDataset.get_vlen_sources(h5file))
        for name in H5PYDataset.get_all_sources(h5file):
            if name not in h5file:
                continue
            dims = h5file[name].dims
            if name in vlen:
                first = dims[0].label
                extra = ()
                if "shape_labels" in dims[0]:
                    extra = tuple(_decode(x) for x in dims[0]["shape_labels"][()])
                value = (first, *extra)
            else:
                value = tuple(dim.label for dim in dims)
            if any(value):
                labels[name] = value
        return labels

    @staticmethod
    def get_subsets(h5file: h5py.File, splits: Sequence[str], sources: Sequence[str]) -> list[Subset]:
        """One :class:`Subset` per source: the union of ``splits`` in order."""
        rows = _split_array(h5file)
        subsets = []
        for source in sources:
            if source not in h5file:
                raise ValueError(f"source {source!r} is listed in the split attribute but missing from the file")
            length = len(h5file[source])
            combined: Subset | None = None
            for split in splits:
                match = [r for r in rows if _decode(r["split"]) == split and _decode(r["source"]) == source]
                if not match or not bool(match[0]["available"]):
                    raise ValueError(f"source {source!r} is not available in split {split!r}")
                row = match[0]
                ref = row["indices"]
                if not _is_null(ref):
                    part = Subset(np.asarray(h5file[ref][()]), length)
                else:
                    part = Subset(slice(int(row["start"]), int(row["stop"])), length)
                combined = part if combined is None else combined + part
            assert combined is not None
            subsets.append(combined)
        return subsets

    # -- per-process file access ---------------------------------------------------
    def _handle(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._file_pid != pid:
            self._file = _open_file(self.path, self.driver)
            self._file_pid = pid
            self._readers = None
        return self._file

    def _make_reader(self, h5file: h5py.File, name: str) -> _Source:
        dataset = h5file[name]
        if name in self.vlen_sources:
            shapes = np.asarray(dataset.dims[0]["shapes"][()])
            return _Source(name, dataset, None, True, shapes)
        array = _memmap(self.path, dataset) if self.driver is None else None
        return _Source(name, dataset, array, False, None)

    def _sources_for_reading(self) -> list[_Source]:
        if self.load_in_memory:
            if self._in_memory is None:
                self._load_in_memory()
            assert self._in_memory is not None
            return self._in_memory
        h5file = self._handle()
        if self._readers is None:
            self._readers = [self._make_reader(h5file, name) for name in self.sources]
        return self._readers

    def _load_in_memory(self) -> None:
        h5file = self._handle()
        loaded = []
        for name, subset in zip(self.sources, self.subsets):
            reader = self._make_reader(h5file, name)
            selection = subset.slice if not subset.is_list else subset.indices()
            data = reader.dataset[selection]
            if reader.vlen:
                shapes = reader.shapes[selection]  # type: ignore[index]
                data = _reshape_vlen(data, shapes)
            loaded.append(_Source(name, None, np.asarray(data) if not reader.vlen else data, False, None))
        self._in_memory = loaded
        self.close_file()

    def close_file(self) -> None:
        """Close this process's file handle (reopened on the next read)."""
        if self._file is not None and self._file_pid == os.getpid():
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - closing twice or at exit
                pass
        self._file = None
        self._readers = None

    def load(self) -> None:
        """Open the file (or load the data) in this process now instead of lazily."""
        self._sources_for_reading()

    def __getstate__(self) -> dict[str, Any]:
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
        if request is None:
            raise ValueError("H5PYDataset needs a request (int, slice or indices); use an iteration scheme")
        readers = self._sources_for_reading()
        if self.load_in_memory:
            if isinstance(request, (list, tuple)):
                request = np.asarray(request, dtype=np.int64)
            try:
                return tuple(_index_memory(reader.array, request) for reader in readers)
            except IndexError as err:
                raise ValueError(f"request is out of range for {self._num_examples} examples: {err}") from err
        if isinstance(request, (list, tuple)):
            request = np.asarray(request, dtype=np.int64)
        out = []
        for reader, subset in zip(readers, self.subsets):
            absolute = subset.map(request)
            out.append(self._read(reader, absolute))
        return tuple(out)

    def _read(self, reader: _Source, absolute: Any) -> Any:
        if isinstance(absolute, np.ndarray):
            n = absolute.shape[0]
            first, last = absolute[0], absolute[-1]
            if last - first + 1 == n and (n < 2 or (absolute[1:] > absolute[:-1]).all()):
                absolute = slice(int(first), int(last) + 1)
        if reader.array is not None:
            data = reader.array[absolute]
            return data if isinstance(absolute, np.ndarray) else np.array(data)
        if reader.vlen:
            return self._read_vlen(reader, absolute)
        return self._read_h5py(reader.dataset, absolute)

    def _read_h5py(self, dataset: h5py.Dataset, absolute: Any) -> Any:
        if not isinstance(absolute, np.ndarray):
            return dataset[absolute]
        increasing = absolute.shape[0] < 2 or bool((absolute[1:] > absolute[:-1]).all())
        if increasing:
            return dataset[absolute]
        if not self.sort_indices:
            raise ValueError(
                "h5py reads need increasing, unique indices; pass sort_indices=True or use a scheme with "
                "sorted_indices=True"
            )
        unique, inverse = np.unique(absolute, return_inverse=True)
        return dataset[unique][inverse]

    def _read_vlen(self, reader: _Source, absolute: Any) -> Any:
        assert reader.shapes is not None
        if isinstance(absolute, (int, np.integer)):
            return np.asarray(reader.dataset[absolute]).reshape(reader.shapes[absolute])
        data = self._read_h5py(reader.dataset, absolute)
        return _reshape_vlen(data, reader.shapes[absolute])


def _reshape_vlen(data: Any, shapes: np.ndarray) -> np.ndarray:
    out = np.empty(len(data), dtype=object)
    for i, (values, shape) in enumerate(zip(data, shapes)):
        out[i] = np.asarray(values).reshape(tuple(int(d) for d in shape))
    return out


def _index_memory(array: Any, request: Any) -> Any:
    if isinstance(request, slice):
        if request.stop is not None and request.stop > len(array):
            raise IndexError(f"slice {request} goes past {len(array)} examples")
        return array[request]
    if isinstance(request, np.ndarray) and request.size and (request.min() < 0):
        raise IndexError("negative indices are not allowed")
    if isinstance(request, (int, np.integer)) and request < 0:
        raise IndexError("negative indices are not allowed")
    return array[request]
