"""digits: the 1,797 8×8 handwritten digits (UCI optdigits test set) that scikit-learn ships.

No network at all: ``fuel-download digits`` copies ``digits.csv.gz`` from the
installed scikit-learn package (found without importing it), checked against
its sha256 and size; ``fuel-convert digits`` writes ``digits.hdf5`` with
splits ``train`` (1,437) and ``test`` (360), a fixed seeded shuffle, and
sources ``features`` (batch, channel, height, width; uint8, values 0–16) and
``targets`` (batch, index). This is the offline default of the quickstart.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
from importlib import metadata
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.converters.inputs import reading_input
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import ChecksumError, FileSpec, verify_file
from fuel.downloaders import manifest as download_record

__all__ = ["DIGITS_FILE", "Digits", "convert_digits", "download_digits", "fill_convert_subparser",
           "fill_download_subparser", "sklearn_digits_path"]

DIGITS_FILE = FileSpec("digits.csv.gz", (), "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22", 57523)
"""The file as scikit-learn ships it (``sklearn/datasets/data/digits.csv.gz``)."""

NUM_EXAMPLES = 1797
NUM_TEST = 360


def sklearn_digits_path() -> str:
    """Path of ``digits.csv.gz`` inside the installed scikit-learn (which is not imported)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("scikit-learn is not installed; `pip install scikit-learn` provides the digits data")
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "datasets", "data", DIGITS_FILE.filename)
        if os.path.isfile(path):
            return path
    raise ValueError(f"scikit-learn is installed but has no datasets/data/{DIGITS_FILE.filename}; reinstall it")


def download_digits(directory: str, clear: bool = False, verify: bool = True, **unused: Any) -> list[str]:
    """Copy scikit-learn's digits file into ``directory`` (no network), verified."""
    target = os.path.join(directory, DIGITS_FILE.filename)
    if clear:
        if os.path.isfile(target):
            os.remove(target)
        download_record.forget(directory, DIGITS_FILE.filename)
        return []
    source = sklearn_digits_path()
    os.makedirs(directory, exist_ok=True)
    tmp = target + ".part"
    shutil.copyfile(source, tmp)
    try:
        version = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        version = "unknown"
    problem, actual = verify_file(tmp, DIGITS_FILE) if verify else (None, "")
    if problem is not None:
        os.remove(tmp)
        raise ChecksumError(
            f"{source} (scikit-learn {version}) {problem}; this scikit-learn ships a different digits file. "
            "Reinstall scikit-learn, or rerun with --no-verify to use it anyway (recorded in the converted file)"
        )
    os.replace(tmp, target)
    download_record.record(
        directory, DIGITS_FILE.filename, sha256=actual or "", verified=verify,
        reason=f"sha256+size (copied from scikit-learn {version})" if verify else "--no-verify", url=source,
    )
    return [target]


def fill_download_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-download digits`` takes no extra arguments."""
    return download_digits


def read_digits(path: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Images (N, 1, 8, 8) uint8 and labels (N, 1) uint8 of ``digits.csv.gz``."""
    with reading_input(path), gzip.open(path, "rt") as handle:
        table = numpy.loadtxt(handle, delimiter=",", dtype=numpy.int64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"{path}: expected rows of 64 pixels and a label, got shape {table.shape}")
    return table[:, :64].reshape(-1, 1, 8, 8).astype(numpy.uint8), table[:, 64:].astype(numpy.uint8)


@check_exists(required_files=[DIGITS_FILE.filename])
def convert_digits(directory: str, output_directory: str, output_filename: str = "digits.hdf5",
                   seed: int = 1, test_size: int = NUM_TEST) -> tuple[str]:
    """Write ``digits.hdf5``: a seeded shuffle, the last ``test_size`` examples as ``test``."""
    features, targets = read_digits(os.path.join(directory, DIGITS_FILE.filename))
    if not 0 < test_size < len(features):
        raise ValueError(f"test_size must be between 1 and {len(features) - 1}, got {test_size}")
    order = numpy.random.default_rng(seed).permutation(len(features))
    train, test = order[:-test_size], order[-test_size:]
    path = os.path.join(output_directory, output_filename)
    with output_hdf5(path, directory=directory, inputs=[DIGITS_FILE.filename]) as h5file:
        fill_hdf5_file(h5file, (
            ("train", "features", features[train]), ("test", "features", features[test]),
            ("train", "targets", targets[train]), ("test", "targets", targets[test]),
        ))
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})
        h5file.attrs["split_seed"] = seed
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """Arguments of ``fuel-convert digits``."""
    subparser.add_argument("--seed", type=int, default=1, help="seed of the train/test shuffle (default 1)")
    subparser.add_argument("--test-size", type=int, default=NUM_TEST, help=f"test examples (default {NUM_TEST})")
    return convert_digits


class Digits(DataPathDataset):
    """scikit-learn's 8×8 handwritten digits (``digits.hdf5``), in memory by default.

    Sources ``features`` (uint8 0–16; default transformers scale by 1/16 and
    cast to ``floatX``) and ``targets``.

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)`` (1,437 examples), ``("test",)`` (360) or both.
    load_in_memory : bool
        Default ``True``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> Digits(("test",)).num_examples  # doctest: +SKIP
    360
    """

    filename = "digits.hdf5"
    scaled_sources = ("features",)
    pixel_maximum = 16.0

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = True, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
