"""``fuel-convert DATASET [-d DIR] [-o DIR] [-r NAME] [--checksum]``: downloaded files → an H5PYDataset file.

One subcommand per dataset registered through ``register_datasets`` with a
``convert=`` function. The output is written to a temporary file and renamed
when complete, with the provenance attributes ``h5py_interface_version``,
``fuel_convert_version`` and ``fuel_convert_command`` (shown by ``fuel-info``).
``--checksum`` then rewrites it with every dataset in Fletcher-32 checksummed
chunks (:func:`fuel.converters.checksum.checksum_hdf5`).
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any, Sequence

from blocks.cli._fuel_datasets import DatasetCommand, function_kwargs

__all__ = ["main"]

_SUFFIXES = (".hdf5", ".hdf", ".h5")


def _add_common(parser: Any, defaults: bool) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("-d", "--directory", default=default("."),
                        help="directory holding the downloaded files (default: current directory)")
    parser.add_argument("-o", "--output-directory", dest="output_directory", default=default("."),
                        help="where to write the converted file (must exist; default: current directory)")
    parser.add_argument("-r", "--output-filename", "--output_filename", dest="output_filename",
                        default=default(None), help="output file name (.hdf5 is appended to HDF5 outputs if needed)")
    parser.add_argument("--checksum", action="store_true", default=default(False),
                        help="store every dataset in chunks with a Fletcher-32 checksum, so that a damaged chunk is "
                        "an error when read instead of wrong numbers (read through h5py, slower than contiguous)")


COMMAND = DatasetCommand(
    "fuel-convert", "convert",
    "Convert downloaded files into an HDF5 file that fuel.datasets.H5PYDataset (and the dataset's class) reads.",
    _add_common,
)


def _writes_hdf5(func: Any) -> bool:
    """Whether a converter writes an HDF5 file (default ``output_filename`` without an HDF5 suffix: a folder)."""
    import inspect

    try:
        parameter = inspect.signature(func).parameters.get("output_filename")
    except (TypeError, ValueError):
        return True
    default = getattr(parameter, "default", None)
    return not isinstance(default, str) or os.path.splitext(default)[1] in _SUFFIXES


def _call(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from fuel.converters.base import using_command

    if not os.path.isdir(args.output_directory):
        raise ValueError(f"output directory {args.output_directory} does not exist; create it first")
    kwargs = function_kwargs(args, drop=("checksum",))
    if kwargs.get("output_filename") is None:
        kwargs.pop("output_filename", None)
    elif os.path.splitext(kwargs["output_filename"])[1] not in _SUFFIXES and _writes_hdf5(args.func):
        kwargs["output_filename"] += ".hdf5"
    from fuel.converters.inputs import DAMAGED_INPUT_ERRORS, damaged_inputs_message

    with using_command(shlex.join(["fuel-convert", *argv])):
        try:
            paths = args.func(**kwargs)
        except DAMAGED_INPUT_ERRORS as err:  # a converter that did not name the file (reading_input does)
            raise ValueError(damaged_inputs_message(args.directory, err)) from err
    if args.checksum:
        _add_checksums(paths or ())
    for path in paths or ():
        print(path)
    return 0


def _add_checksums(paths: Sequence[str]) -> None:
    """Rewrite each HDF5 output with Fletcher-32 chunk checksums (``--checksum``)."""
    import h5py

    from fuel.converters.checksum import checksum_hdf5

    hdf5 = [path for path in paths if os.path.isfile(path) and h5py.is_hdf5(path)]
    if not hdf5:
        raise ValueError("--checksum: the converter wrote no HDF5 file to checksum")
    for path in hdf5:
        checksum_hdf5(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fuel-convert``."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    return COMMAND.run(argv, lambda args: _call(args, argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
