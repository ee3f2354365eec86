"""Helpers for converters: Fuel's ``fill_hdf5_file`` and ``check_exists``, atomic output with provenance.

A converter reads the files ``fuel-download`` fetched and writes one HDF5 file
in the layout :class:`fuel.datasets.H5PYDataset` reads. It writes through
:func:`output_hdf5`, which writes a temporary file in the output directory and
renames it only once the conversion is complete, after writing the provenance
attributes ``h5py_interface_version``, ``fuel_convert_version`` and
``fuel_convert_command`` (and whether the inputs were verified): an interrupted
conversion never leaves a file that looks valid.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shlex
import sys
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from fuel.utils.files import make_temporary

__all__ = [
    "H5PY_INTERFACE_VERSION",
    "MissingInputFiles",
    "check_exists",
    "convert_command",
    "create_split_array",
    "fill_hdf5_file",
    "output_hdf5",
    "set_axis_labels",
    "using_command",
    "write_vlen_source",
]

logger = logging.getLogger(__name__)

H5PY_INTERFACE_VERSION = "0.3"
"""The H5PYDataset layout version written as ``h5py_interface_version``."""

_COMMAND: ContextVar[str | None] = ContextVar("fuel_convert_command", default=None)


class MissingInputFiles(ValueError):
    """Input files of a converter are missing.

    Attributes
    ----------
    filenames : list of str
        The missing files.

    Examples
    --------
    >>> MissingInputFiles("a.gz is missing", ["a.gz"]).filenames
    ['a.gz']
    """

    def __init__(self, message: str, filenames: Sequence[str]):
        super().__init__(message)
        self.filenames = list(filenames)


def check_exists(required_files: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a converter ``f(directory, ...)`` to fail early when input files are missing.

    ``directory`` is the first positional argument or the keyword ``directory``.

    Examples
    --------
    >>> @check_exists(required_files=["iris.data"])
    ... def convert_iris(directory, output_directory):
    ...     return ()
    >>> try:
    ...     convert_iris("/nonexistent", "/tmp")
    ... except MissingInputFiles as err:
    ...     print(err.filenames)
    ['iris.data']
    """

    def decorator(converter: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(converter)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            directory = kwargs["directory"] if "directory" in kwargs else args[0]
            missing = [f for f in required_files if not os.path.isfile(os.path.join(directory, f))]
            if missing:
                raise MissingInputFiles(
                    f"required files missing from {directory}: {', '.join(missing)}; "
                    "did you forget to run fuel-download?",
                    missing,
                )
            return converter(*args, **kwargs)

        return wrapped

    return decorator


def convert_command() -> str:
    """The command line recorded as ``fuel_convert_command``.

    ``fuel-convert`` sets it with :func:`using_command`; otherwise it is this
    process's command line.
    """
    command = _COMMAND.get()
    return command if command is not None else shlex.join(sys.argv)


@contextlib.contextmanager
def using_command(command: str) -> Iterator[None]:
    """Record ``command`` as ``fuel_convert_command`` of files written inside the block."""
    token = _COMMAND.set(command)
    try:
        yield
    finally:
        _COMMAND.reset(token)


def create_split_array(split_dict: Mapping[str, Mapping[str, tuple]]) -> Any:
    """The ``split`` attribute array of an H5PYDataset file.

    This is :meth:`fuel.datasets.H5PYDataset.create_split_array` (imported
    when called, so that importing the converters stays cheap): one row per
    (split, source) with Fuel's fields ``split``, ``source``, ``start``,
    ``stop``, ``indices``, ``available`` and ``comment``.
    """
    from fuel.datasets.hdf5 import H5PYDataset

    return H5PYDataset.create_split_array(split_dict)


def fill_hdf5_file(h5file: Any, data: Sequence[tuple]) -> None:
    """Fill an HDF5 file in an H5PYDataset-compatible manner (Fuel's function).

    Parameters
    ----------
    h5file : h5py.File
        File to fill.
    data : sequence of tuples
        One ``(split_name, source_name, data_array[, comment])`` per split and
        source. Splits of one source are stored one after the other in the
        order given; they must share dtype and per-example shape, and all
        sources of a split must have the same length.

    Raises
    ------
    ValueError
        A split's sources vary in length, or a source's splits vary in dtype
        or shape.

    Examples
    --------
    >>> import h5py, numpy, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.hdf5")
    >>> with h5py.File(path, "w") as f:
    ...     fill_hdf5_file(f, [("train", "x", numpy.zeros((3, 2))), ("test", "x", numpy.ones((1, 2)))])
    ...     f["x"].shape
    (4, 2)
    """
    split_names = list(dict.fromkeys(t[0] for t in data))
    for name in split_names:
        lengths = {len(t[2]) for t in data if t[0] == name}
        if len(lengths) > 1:
            raise ValueError(f"split '{name}' has sources that vary in length: {sorted(lengths)}")
    split_dict: dict[str, dict[str, tuple]] = {name: {} for name in split_names}
    for source in dict.fromkeys(t[1] for t in data):
        splits = [t for t in data if t[1] == source]
        first = splits[0][2]
        if not all(t[2].dtype == first.dtype for t in splits):
            raise ValueError(f"source '{source}' has splits that vary in dtype: {[str(t[2].dtype) for t in splits]}")
        if not all(t[2].shape[1:] == first.shape[1:] for t in splits):
            raise ValueError(f"source '{source}' has splits that vary in shapes: {[t[2].shape for t in splits]}")
        total = sum(len(t[2]) for t in splits)
        dataset = h5file.create_dataset(source, (total,) + first.shape[1:], dtype=first.dtype)
        start = 0
        for split in splits:
            stop = start + len(split[2])
            if stop > start:
                dataset.write_direct(_contiguous(split[2]), dest_sel=_slice(start, stop))
            split_dict[split[0]][source] = (start, stop, None, split[3]) if len(split) == 4 else (start, stop)
            start = stop
    h5file.attrs["split"] = create_split_array(split_dict)


def _slice(start: int, stop: int) -> Any:
    import numpy

    return numpy.s_[start:stop]


def _contiguous(array: Any) -> Any:
    import numpy

    return numpy.ascontiguousarray(array)


def set_axis_labels(h5file: Any, labels: Mapping[str, Sequence[str]]) -> None:
    """Label the axes of sources through HDF5 dimension labels (what H5PYDataset reads).

    Examples
    --------
    >>> set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width")})  # doctest: +SKIP
    """
    for source, names in labels.items():
        dataset = h5file[source]
        if len(names) != len(dataset.dims):
            raise ValueError(f"source {source!r} has {len(dataset.dims)} axes, got {len(names)} labels {names}")
        for dim, name in zip(dataset.dims, names):
            dim.label = name


def write_vlen_source(
    h5file: Any, name: str, examples: Sequence[Any], dtype: Any, shape_labels: Sequence[str]
) -> None:
    """Write a variable-length source in Fuel's layout.

    Each example is stored flattened in a 1-D variable-length dataset; its
    shape goes to ``<name>_shapes``, attached to axis 0 as the dimension
    scale ``shapes``, and the axis names to ``<name>_shape_labels``
    (scale ``shape_labels``). Axis 0 is labelled ``batch``.

    Parameters
    ----------
    h5file : h5py.File
        Output file.
    name : str
        Source name.
    examples : sequence of numpy.ndarray
        One array per example, all with ``len(shape_labels)`` dimensions.
    dtype : numpy dtype
        Element dtype.
    shape_labels : sequence of str
        Names of the per-example axes, e.g. ``("channel", "height", "width")``.
    """
    import h5py
    import numpy

    count = len(examples)
    dataset = h5file.create_dataset(name, (count,), dtype=h5py.vlen_dtype(numpy.dtype(dtype)))
    shapes = h5file.create_dataset(f"{name}_shapes", (count, len(shape_labels)), dtype="int32")
    for i, example in enumerate(examples):
        example = numpy.asarray(example, dtype=dtype)
        if example.ndim != len(shape_labels):
            raise ValueError(f"example {i} of {name!r} has {example.ndim} axes, expected {len(shape_labels)}")
        dataset[i] = example.ravel()
        shapes[i] = example.shape
    labels = h5file.create_dataset(f"{name}_shape_labels", (len(shape_labels),),
                                   dtype=f"S{max(len(s) for s in shape_labels)}")
    labels[...] = [s.encode("utf8") for s in shape_labels]
    shapes.make_scale("shapes")
    labels.make_scale("shape_labels")
    dataset.dims[0].attach_scale(shapes)
    dataset.dims[0].attach_scale(labels)
    dataset.dims[0].label = "batch"


def _provenance(h5file: Any, path: str, directory: str | None, inputs: Iterable[str], command: str | None) -> None:
    from fuel.converters import __version__
    from fuel.downloaders.manifest import verification_status

    h5file.attrs["h5py_interface_version"] = H5PY_INTERFACE_VERSION
    h5file.attrs["fuel_convert_version"] = __version__
    h5file.attrs["fuel_convert_command"] = command if command is not None else convert_command()
    inputs = list(inputs)
    if directory is not None and inputs:
        verified, notes = verification_status(directory, inputs)
        h5file.attrs["fuel_inputs_verified"] = verified
        h5file.attrs["fuel_inputs_unverified"] = "; ".join(notes) if notes else "."
        if not verified:
            logger.warning("%s: inputs not verified: %s", path, "; ".join(notes))


@contextlib.contextmanager
def output_hdf5(
    path: str,
    *,
    directory: str | None = None,
    inputs: Iterable[str] = (),
    command: str | None = None,
) -> Iterator[Any]:
    """Open an HDF5 file for writing that appears at ``path`` only when complete.

    The file is written under a temporary name in the same directory; when the
    block ends without error the provenance attributes are written and the file
    is renamed to ``path`` (replacing an older one). On error the temporary
    file is deleted and ``path`` is left untouched.

    Parameters
    ----------
    path : str
        Final path. Its directory must exist.
    directory : str, optional
        The input directory; with ``inputs`` its download record
        (``fuel_downloads.json``) tells whether the inputs were verified,
        written as ``fuel_inputs_verified`` and ``fuel_inputs_unverified``.
    inputs : iterable of str
        Input file names.
    command : str, optional
        Command line to record (default: :func:`convert_command`).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.hdf5")
    >>> with output_hdf5(path) as h5file:
    ...     _ = h5file.create_dataset("x", data=[1, 2, 3])
    >>> os.path.exists(path)
    True
    """
    import h5py

    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir):
        raise ValueError(f"output directory {out_dir} does not exist; create it or pass another -o DIR")
    fd, tmp = make_temporary(out_dir, prefix=f".{os.path.basename(path)}.", suffix=".incomplete")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5file:
            yield h5file
            _provenance(h5file, path, directory, inputs, command)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
