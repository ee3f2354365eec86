"""CalTech 101 Silhouettes (Marlin et al.): binary object silhouettes at 16×16 or 28×28, 101 classes.

``fuel-download caltech101_silhouettes {16,28}`` fetches
``caltech101_silhouettes_{size}_split1.mat`` (MATLAB 5, read with
``scipy.io.loadmat``); ``fuel-convert`` writes ``caltech101_silhouettes{size}.hdf5``
with splits ``train``, ``valid``, ``test`` and sources ``features`` (batch,
channel, height, width; uint8 0/1; the MATLAB column-major images are
transposed to row-major) and ``targets`` (0-based class index).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy

from fuel.converters import MissingInputFiles, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, default_downloader, register_known_files

__all__ = ["FILES", "CalTech101Silhouettes", "convert_silhouettes", "fill_convert_subparser",
           "fill_download_subparser", "fill_subparser", "silhouettes_downloader"]

_BASE = "https://people.cs.umass.edu/~marlin/data/"
FILES: dict[str, FileSpec] = {
    f"caltech101_silhouettes_{size}_split1.mat": FileSpec(
        f"caltech101_silhouettes_{size}_split1.mat", (f"{_BASE}caltech101_silhouettes_{size}_split1.mat",))
    for size in (16, 28)
}
"""The two files (no checksum is published: the sha256 is recorded on download and reported as unverified)."""


def _filename(size: int) -> str:
    if size not in (16, 28):
        raise ValueError(f"size must be 16 or 28, got {size!r}")
    return f"caltech101_silhouettes_{size}_split1.mat"


def download_silhouettes(size: int, **kwargs: Any) -> list[str]:
    """Download the file of one size."""
    return default_downloader(files=[FILES[_filename(size)]], **kwargs)


def fill_download_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-download caltech101_silhouettes {16,28}``."""
    subparser.add_argument("size", type=int, choices=(16, 28), help="height and width of the images")
    return download_silhouettes


register_known_files(FILES.values())


def silhouettes_downloader(size: int, **kwargs: Any) -> list[str]:
    """Fuel's downloader: ``default_downloader`` with the file's URL and name (a registered known file)."""
    name = _filename(size)
    return default_downloader(urls=list(FILES[name].urls), filenames=[name], **kwargs)


def fill_subparser(subparser: Any) -> Callable[..., Any]:
    """Fuel's ``fill_subparser``: the ``size`` argument (16 or 28); returns :func:`silhouettes_downloader`."""
    subparser.add_argument("size", type=int, choices=(16, 28), help="height and width of the images")
    return silhouettes_downloader


def convert_silhouettes(size: int, directory: str, output_directory: str,
                        output_filename: str | None = None) -> tuple[str]:
    """Convert ``caltech101_silhouettes_{size}_split1.mat`` to ``caltech101_silhouettes{size}.hdf5``."""
    from scipy.io import loadmat

    name = _filename(size)
    source = os.path.join(directory, name)
    if not os.path.isfile(source):
        raise MissingInputFiles(f"required files missing from {directory}: {name}; "
                                "did you forget to run fuel-download?", [name])
    mat = loadmat(source)
    features, targets = [], []
    for split, key in (("train", "train"), ("valid", "val"), ("test", "test")):
        images = numpy.asarray(mat[f"{key}_data"]).reshape(-1, size, size).transpose(0, 2, 1)
        features.append((split, "features", numpy.ascontiguousarray(images[:, None]).astype(numpy.uint8)))
        labels = numpy.asarray(mat[f"{key}_labels"]).reshape(-1, 1).astype(numpy.int64) - 1
        targets.append((split, "targets", labels.astype(numpy.uint8)))
    path = os.path.join(output_directory, output_filename or f"caltech101_silhouettes{size}.hdf5")
    with output_hdf5(path, directory=directory, inputs=[name]) as h5file:
        fill_hdf5_file(h5file, features + targets)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})
        if "classnames" in mat:
            h5file["targets"].attrs["class_names"] = numpy.array(
                [str(numpy.asarray(c).ravel()[0]).encode("utf8") for c in numpy.asarray(mat["classnames"]).ravel()])
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert caltech101_silhouettes {16,28}``."""
    subparser.add_argument("size", type=int, choices=(16, 28), help="height and width of the images")
    return convert_silhouettes


class CalTech101Silhouettes(DataPathDataset):
    """CalTech 101 Silhouettes (``caltech101_silhouettes{16,28}.hdf5``), in memory by default.

    Parameters
    ----------
    which_sets : tuple of str
        Among ``train``, ``valid``, ``test``.
    size : int
        16 or 28.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> CalTech101Silhouettes(("train",), size=28)  # doctest: +SKIP
    """

    cast_sources = ("features",)

    def __init__(self, which_sets: tuple[str, ...], size: int = 28, load_in_memory: bool = True, **kwargs: Any):
        _filename(size)
        self.size = size
        self.filename = f"caltech101_silhouettes{size}.hdf5"
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
