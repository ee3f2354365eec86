"""Adult (census income): predict whether income exceeds $50K/year (UCI ``adult.data``, ``adult.test``).

``fuel-convert adult`` writes ``adult.hdf5``: splits ``train`` (32,561) and
``test`` (16,281); ``features`` (batch, feature; float32) hold the six
continuous attributes followed by a one-hot encoding of the eight categorical
ones (categories as found in the training file, ``?`` included; the names are
in the ``feature_names`` attribute of ``features``); ``targets`` (batch, index)
is 1 for ``>50K``.
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
    "COLUMNS",
    "FILES",
    "Adult",
    "convert_adult",
    "fill_convert_subparser",
    "fill_download_subparser",
    "fill_subparser",
]

_BASE = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
FILES: dict[str, FileSpec] = {
    "adult.data": FileSpec("adult.data", (_BASE + "adult.data",),
                           "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d", 3974305),
    "adult.test": FileSpec("adult.test", (_BASE + "adult.test",),
                           "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05", 2003153),
}
"""UCI's files with their sha256 and sizes (as TensorFlow Datasets publishes them)."""

COLUMNS = (
    ("age", False), ("workclass", True), ("fnlwgt", False), ("education", True), ("education-num", False),
    ("marital-status", True), ("occupation", True), ("relationship", True), ("race", True), ("sex", True),
    ("capital-gain", False), ("capital-loss", False), ("hours-per-week", False), ("native-country", True),
)
"""The 14 attributes and whether each is categorical."""

fill_download_subparser = files_downloader(lambda: list(FILES.values()))

_FUEL_NAMES = ["adult.data", "adult.test"]
_FUEL_URLS = [_BASE + name for name in _FUEL_NAMES]
register_known_files(FILES.values())
fill_subparser = fuel_fill_subparser(_FUEL_URLS, _FUEL_NAMES)


def _read(path: str) -> list[list[str]]:
    rows = []
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("|"):
                continue
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != len(COLUMNS) + 1:
                raise ValueError(f"{path} line {number}: expected {len(COLUMNS) + 1} fields, got {len(fields)}")
            rows.append(fields)
    return rows


@check_exists(required_files=list(FILES))
def convert_adult(directory: str, output_directory: str, output_filename: str = "adult.hdf5") -> tuple[str]:
    """Convert ``adult.data`` and ``adult.test`` to ``adult.hdf5``."""
    train = _read(os.path.join(directory, "adult.data"))
    test = _read(os.path.join(directory, "adult.test"))
    categories = {i: sorted({row[i] for row in train}) for i, (_, categorical) in enumerate(COLUMNS) if categorical}
    names = [name for name, categorical in COLUMNS if not categorical]
    for i, values in categories.items():
        names += [f"{COLUMNS[i][0]}={value}" for value in values]

    def encode(rows: list[list[str]]) -> tuple[numpy.ndarray, numpy.ndarray]:
        features = numpy.zeros((len(rows), len(names)), dtype=numpy.float32)
        continuous = [i for i, (_, categorical) in enumerate(COLUMNS) if not categorical]
        offsets, start = {}, len(continuous)
        for i, values in categories.items():
            offsets[i] = (start, {v: k for k, v in enumerate(values)})
            start += len(values)
        for r, row in enumerate(rows):
            for c, i in enumerate(continuous):
                features[r, c] = float(row[i])
            for i, (offset, index) in offsets.items():
                if row[i] in index:  # a category absent from the training file stays all-zero
                    features[r, offset + index[row[i]]] = 1.0
        targets = numpy.array([[row[-1].rstrip(".") == ">50K"] for row in rows], dtype=numpy.uint8)
        return features, targets

    train_x, train_y = encode(train)
    test_x, test_y = encode(test)
    path = os.path.join(output_directory, output_filename)
    with output_hdf5(path, directory=directory, inputs=list(FILES)) as h5file:
        fill_hdf5_file(h5file, (("train", "features", train_x), ("test", "features", test_x),
                                ("train", "targets", train_y), ("test", "targets", test_y)))
        set_axis_labels(h5file, {"features": ("batch", "feature"), "targets": ("batch", "index")})
        h5file["features"].attrs["feature_names"] = numpy.array([n.encode("utf8") for n in names])
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert adult`` takes no extra arguments."""
    return convert_adult


class Adult(DataPathDataset):
    """The Adult census-income dataset (``adult.hdf5``), in memory by default.

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("test",)`` or both.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> Adult(("train",)).num_examples  # doctest: +SKIP
    32561
    """

    filename = "adult.hdf5"

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = True, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
