"""``PytablesDataset``: arrays of a file written with PyTables (Fuel's class).

PyTables (``tables`` on PyPI) is an optional dependency: install it with
``pip install 'blocks-core[pytables]'``. It is imported when a dataset opens
its file, so importing this module never needs it.

The file holds one array node per source under a data node
(``/<data_node>/<source>``, e.g. ``/Data/features``); the dataset reads rows
``start:stop`` of each. The file is opened read-only when the dataset is built
and reopened by its path where needed (after :meth:`PytablesDataset.close_file`,
in a worker process, after unpickling), provided it is still the same file.

Examples
--------
>>> import os, tempfile, numpy as np
>>> tables = __import__("pytest").importorskip("tables")
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with tables.open_file(path, "w") as h5:
...     _ = h5.create_array(h5.create_group("/", "Data"), "y", np.arange(10).reshape(10, 1))
>>> ds = PytablesDataset(path, ("y",), start=2)
>>> ds.num_examples, ds.get_data(request=[3, 0])[0].ravel().tolist()
(8, [5, 2])
>>> ds.close_file()
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fuel.datasets.base import Dataset

__all__ = ["PytablesDataset"]


def _import_tables() -> Any:
    try:
        return importlib.import_module("tables")
    except ImportError as err:
        raise ImportError(
            f"PytablesDataset needs PyTables, which is not installed ({err}); install the extra: "
            "pip install 'blocks-core[pytables]'"
        ) from err


def _identity(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino, stat.st_size


def _check_bound(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return int(value)


class PytablesDataset(Dataset):
    """Rows ``start:stop`` of the arrays ``/<data_node>/<source>`` of a PyTables file.

    Parameters
    ----------
    path : str
        The file (opened read-only).
    sources : sequence of str
        The names of the sources this dataset returns, in order.
    start : int
        First row (default 0).
    stop : int, optional
        Row after the last one (default: the number of rows of the first
        source); every source needs at least ``stop`` rows.
    data_node : str
        The group that holds the arrays (Fuel's default ``'Data'``).
    sources_in_file : sequence of str, optional
        The node of each source, when it differs from the source's name.

    Notes
    -----
    A request is a slice (as in Python, relative to ``start`` and clipped to
    ``stop``; a positive step), a sequence or array of indices (any order,
    repeats allowed; read in increasing order) or an int (one example). Fuel
    accepted slices and lists only; any other request is a ``ValueError`` as
    in Fuel. Datasets keep no iteration state, so ``state`` is ignored.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> tables = __import__("pytest").importorskip("tables")
    >>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
    >>> with tables.open_file(path, "w") as h5:
    ...     group = h5.create_group("/", "Data")
    ...     _ = h5.create_array(group, "x", np.arange(8.0))
    >>> ds = PytablesDataset(path, ("features",), sources_in_file=("x",), stop=6)
    >>> ds.sources, ds.get_data(request=slice(4, None))[0].tolist()
    (('features',), [4.0, 5.0])
    >>> ds.close_file()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sources: Sequence[str],
        start: int = 0,
        stop: int | None = None,
        data_node: str = "Data",
        sources_in_file: Sequence[str] | None = None,
    ):
        if isinstance(sources, str) or not sources or not all(isinstance(s, str) for s in sources):
            raise ValueError(f"sources must be a non-empty sequence of source names, got {sources!r}")
        in_file = tuple(sources) if sources_in_file is None else sources_in_file
        if isinstance(in_file, str) or len(in_file) != len(sources) or not all(isinstance(s, str) for s in in_file):
            raise ValueError(f"sources_in_file must name one node per source ({len(sources)}), got {in_file!r}")
        self.path = os.fspath(path)
        self.data_node = data_node
        self.sources_in_file = tuple(in_file)
        self.provides_sources = tuple(sources)
        self.start = _check_bound("start", start)
        self.stop = None if stop is None else _check_bound("stop", stop)
        self._h5file: Any = None
        self._nodes: list[Any] | None = None
        self._pid: int | None = None
        self._identity: tuple[int, int, int] | None = None
        self.open_file(self.path)
        super().__init__()

    # -- the file ---------------------------------------------------------------------
    def open_file(self, path: str | os.PathLike[str]) -> None:
        """Open ``path`` read-only and find the source nodes (Fuel's method); checks ``start``/``stop``."""
        tables = _import_tables()
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"PytablesDataset: no such file: {path!r}")
        try:
            h5file = tables.open_file(path, mode="r")
        except (tables.HDF5ExtError, OSError, ValueError) as err:
            raise ValueError(f"PytablesDataset: {path!r} is not an HDF5 file PyTables can read: {err}") from err
        try:
            nodes = self._find_nodes(tables, h5file, path)
            self._check_rows(nodes, path)
        except BaseException:
            h5file.close()
            raise
        if self._h5file is not None and self._pid == os.getpid():
            self._h5file.close()
        self._h5file, self._nodes, self._pid = h5file, nodes, os.getpid()
        self._identity = _identity(path)
        self.path = path

    def _find_nodes(self, tables: Any, h5file: Any, path: str) -> list[Any]:
        try:
            group = h5file.get_node("/", self.data_node)
        except tables.NoSuchNodeError:
            raise ValueError(f"PytablesDataset: {path!r} has no node /{self.data_node} (data_node)") from None
        nodes = []
        for source, name in zip(self.provides_sources, self.sources_in_file):
            try:
                node = h5file.get_node(group, name)
            except tables.NoSuchNodeError:
                children = sorted(getattr(group, "_v_children", {}))
                raise ValueError(
                    f"PytablesDataset: {path!r} has no node /{self.data_node}/{name} for source {source!r}; "
                    f"/{self.data_node} holds {children}"
                ) from None
            if not isinstance(node, tables.Leaf) or not node.shape:
                raise ValueError(f"PytablesDataset: /{self.data_node}/{name} is not an array with rows")
            nodes.append(node)
        return nodes

    def _check_rows(self, nodes: list[Any], path: str) -> None:
        rows = {name: int(node.nrows) for name, node in zip(self.sources_in_file, nodes)}
        stop = rows[self.sources_in_file[0]] if self.stop is None else self.stop
        if not self.start <= stop:
            raise ValueError(f"PytablesDataset: start ({self.start}) must not exceed stop ({stop})")
        short = {name: n for name, n in rows.items() if n < stop}
        if short:
            raise ValueError(f"PytablesDataset: {path!r}: rows up to {stop} were asked for, but {short} have fewer")
        self.stop = stop

    def load(self) -> None:
        """Reopen the file (Fuel's method)."""
        self.open_file(self.path)

    def close_file(self) -> None:
        """Close the file; it is reopened when data is read again."""
        h5file, self._h5file, self._nodes = self._h5file, None, None
        if h5file is not None and self._pid == os.getpid():
            h5file.close()

    @property
    def h5file(self) -> Any:
        """The open ``tables.File`` (reopened in this process if needed)."""
        self._ensure_open()
        return self._h5file

    @property
    def nodes(self) -> list[Any]:
        """The array node of every source, in order."""
        self._ensure_open()
        return list(self._nodes or ())

    def _ensure_open(self) -> None:
        if self._h5file is not None and self._pid == os.getpid():
            return
        if self._h5file is not None:  # inherited from the parent process: never touch it here
            self._h5file, self._nodes = None, None
        try:
            current = _identity(self.path)
        except OSError:
            current = None
        if current != self._identity:
            from fuel.datasets.hdf5 import ExternalFileError

            raise ExternalFileError(
                f"{self.path!r} is gone or is no longer the file this PytablesDataset was built from (it was "
                "replaced or resized); build the dataset again"
            )
        self.open_file(self.path)

    def check_worker_safe(self) -> None:
        """Nothing to refuse: a worker process reopens the file by its path."""

    def __del__(self) -> None:
        try:
            self.close_file()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5file"], state["_nodes"], state["_pid"] = None, None, None
        return state

    # -- data -------------------------------------------------------------------------
    @property
    def num_examples(self) -> int:
        """``stop - start``."""
        return int(self.stop) - self.start  # type: ignore[arg-type]

    @property
    def example_iteration_scheme(self) -> Any:
        """Sequential single examples (settable)."""
        scheme = self.__dict__.get("_example_iteration_scheme")
        if scheme is not None:
            return scheme
        from fuel.schemes import SequentialExampleScheme

        return SequentialExampleScheme(self.num_examples)

    @example_iteration_scheme.setter
    def example_iteration_scheme(self, value: Any) -> None:
        self._example_iteration_scheme = value

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """The rows of ``request`` (relative to ``start``) of every source."""
        self._ensure_open()
        nodes = self._nodes or []
        if isinstance(request, slice):
            first, last, step = request.indices(self.num_examples)
            if step < 1:
                raise ValueError(f"PytablesDataset reads slices with a positive step, got {request!r}")
            rows = slice(first + self.start, max(first, last) + self.start, step)
            return tuple(node[rows] for node in nodes)
        if isinstance(request, (int, np.integer)) and not isinstance(request, (bool, np.bool_)):
            index = int(request)
            if not 0 <= index < self.num_examples:
                raise ValueError(f"request {index} is out of range for {self.num_examples} examples")
            return tuple(node[index + self.start] for node in nodes)
        indices = self._indices(request)
        return tuple(_read_rows(node, indices + self.start) for node in nodes)

    def _indices(self, request: Any) -> np.ndarray:
        if isinstance(request, np.ndarray):
            indices = request
        elif isinstance(request, (list, tuple)):
            indices = np.asarray(request)
        else:
            raise ValueError(
                f"PytablesDataset takes a slice, a list or array of indices or an int as request, got {request!r}"
            )
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise ValueError(f"a request of indices must be 1-D integers, got {request!r:.200}")
        indices = indices.astype(np.int64, copy=False)
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= self.num_examples):
            raise ValueError(f"request {request!r:.200} is out of range for {self.num_examples} examples")
        return indices


def _read_rows(node: Any, rows: np.ndarray) -> np.ndarray:
    """``node[rows]`` for any rows (PyTables reads neither an empty nor a repeating selection)."""
    if rows.shape[0] == 0:
        return np.empty((0, *node.shape[1:]), dtype=node.dtype)
    unique, inverse = np.unique(rows, return_inverse=True)
    data = node[unique, ...]
    if unique.shape[0] == rows.shape[0] and bool((rows[1:] > rows[:-1]).all()):
        return data
    return data[inverse.reshape(-1)]
