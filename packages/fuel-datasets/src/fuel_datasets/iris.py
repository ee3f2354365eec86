"""Iris: Fisher's 150 flowers, 4 measurements, 3 species (UCI ``iris.data``).

``fuel-convert iris`` writes ``iris.hdf5`` with one split ``all`` and sources
``features`` (batch, feature; float32) and ``targets`` (batch, index; 0 setosa,
1 versicolor, 2 virginica), as Fuel's Iris.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader, register_known_files
from fuel_datasets._common import fuel_fill_subparser

__all__ = [
    "CLASSES",
    "FILES",
    "Iris",
    "convert_iris",
    "fill_convert_subparser",
    "fill_download_subparser",
    "fill_subparser",
]

FILES: dict[str, FileSpec] = {
    "iris.data": FileSpec("iris.data", ("https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data",),
                          "6f608b71a7317216319b4d27b4d9bc84e6abd734eda7872b71a458569e2656c0", 4551),
}
"""UCI's file with its sha256 and size (as TensorFlow Datasets publishes them)."""

CLASSES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")

fill_download_subparser = files_downloader(lambda: list(FILES.values()))

_FUEL_NAMES = ["iris.data"]
_FUEL_URLS = ["https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data"]
register_known_files(FILES.values())
fill_subparser = fuel_fill_subparser(_FUEL_URLS, _FUEL_NAMES)


@check_exists(required_files=list(FILES))
def convert_iris(directory: str, output_directory: str, output_filename: str = "iris.hdf5") -> tuple[str]:
    """Convert ``iris.data`` to ``iris.hdf5`` (split ``all``)."""
    features, targets = [], []
    with open(os.path.join(directory, "iris.data"), encoding="ascii") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            *values, label = line.strip().split(",")
            if len(values) != 4 or label not in CLASSES:
                raise ValueError(f"iris.data line {number}: expected 4 numbers and one of {CLASSES}, got {line!r}")
            features.append([float(v) for v in values])
            targets.append([CLASSES.index(label)])
    path = os.path.join(output_directory, output_filename)
    with output_hdf5(path, directory=directory, inputs=list(FILES)) as h5file:
        fill_hdf5_file(h5file, (("all", "features", numpy.array(features, dtype=numpy.float32)),
                                ("all", "targets", numpy.array(targets, dtype=numpy.uint8))))
        set_axis_labels(h5file, {"features": ("batch", "feature"), "targets": ("batch", "index")})
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert iris`` takes no extra arguments."""
    return convert_iris


class Iris(DataPathDataset):
    """The Iris dataset (``iris.hdf5``), in memory by default.

    Parameters
    ----------
    which_sets : tuple of str
        ``("all",)`` (150 examples).
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> Iris(("all",)).num_examples  # doctest: +SKIP
    150
    """

    filename = "iris.hdf5"

    def __init__(self, which_sets: tuple[str, ...] = ("all",), load_in_memory: bool = True, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
