"""Binarized MNIST (Larochelle & Murray's fixed binarization): 50,000 / 10,000 / 10,000 28×28 binary images.

``fuel-convert binarized_mnist`` reads the three ``.amat`` text files and
writes ``binarized_mnist.hdf5``: splits ``train``, ``valid``, ``test``, source
``features`` (batch, channel, height, width; uint8 0/1).
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
    "BinarizedMNIST",
    "FILES",
    "convert_binarized_mnist",
    "fill_convert_subparser",
    "fill_download_subparser",
    "fill_subparser",
    "read_amat",
]

_BASE = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
FILES: dict[str, FileSpec] = {
    "binarized_mnist_train.amat": FileSpec(
        "binarized_mnist_train.amat", (_BASE + "binarized_mnist_train.amat",),
        "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d", 78400000),
    "binarized_mnist_valid.amat": FileSpec(
        "binarized_mnist_valid.amat", (_BASE + "binarized_mnist_valid.amat",),
        "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2", 15680000),
    "binarized_mnist_test.amat": FileSpec(
        "binarized_mnist_test.amat", (_BASE + "binarized_mnist_test.amat",),
        "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c", 15680000),
}
"""The three files with their sha256 and sizes (as TensorFlow Datasets publishes them)."""

fill_download_subparser = files_downloader(lambda: list(FILES.values()))

_FUEL_NAMES = [f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")]
_FUEL_URLS = [_BASE + name for name in _FUEL_NAMES]
register_known_files(FILES.values())
fill_subparser = fuel_fill_subparser(_FUEL_URLS, _FUEL_NAMES)


def read_amat(path: str) -> numpy.ndarray:
    """Images of an ``.amat`` file (one line of 784 space-separated 0/1 per image) as (N, 1, 28, 28) uint8."""
    with open(path, "rb") as handle:
        raw = numpy.frombuffer(handle.read(), dtype=numpy.uint8)
    digits = raw[(raw == ord("0")) | (raw == ord("1"))] - ord("0")
    lines = int(numpy.count_nonzero(raw == ord("\n")))
    if digits.size % 784 or (lines and digits.size // 784 != lines):
        raise ValueError(f"{path}: expected lines of 784 binary values, got {digits.size} values on {lines} lines")
    return digits.reshape(-1, 1, 28, 28)


@check_exists(required_files=list(FILES))
def convert_binarized_mnist(directory: str, output_directory: str,
                            output_filename: str = "binarized_mnist.hdf5") -> tuple[str]:
    """Convert the ``.amat`` files to ``binarized_mnist.hdf5``."""
    data = [(split, "features", read_amat(os.path.join(directory, f"binarized_mnist_{split}.amat")))
            for split in ("train", "valid", "test")]
    path = os.path.join(output_directory, output_filename)
    with output_hdf5(path, directory=directory, inputs=list(FILES)) as h5file:
        fill_hdf5_file(h5file, data)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width")})
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert binarized_mnist`` takes no extra arguments."""
    return convert_binarized_mnist


class BinarizedMNIST(DataPathDataset):
    """Binarized MNIST (``binarized_mnist.hdf5``), in memory by default; features cast to ``floatX``.

    Parameters
    ----------
    which_sets : tuple of str
        Among ``train``, ``valid``, ``test``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> BinarizedMNIST(("valid",)).num_examples  # doctest: +SKIP
    10000
    """

    filename = "binarized_mnist.hdf5"
    cast_sources = ("features",)

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = True, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
