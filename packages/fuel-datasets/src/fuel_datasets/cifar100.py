"""CIFAR-100: 60,000 32×32 colour images in 100 fine / 20 coarse classes, from the *binary* archive.

``fuel-convert cifar100`` reads ``cifar-100-binary.tar.gz`` (records of a
coarse label byte, a fine label byte and 3,072 pixel bytes; no pickle) and
writes ``cifar100.hdf5``: splits ``train`` (50,000) and ``test`` (10,000),
sources ``features``, ``coarse_labels`` and ``fine_labels``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from fuel.converters import check_exists, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader
from fuel_datasets.cifar10 import read_binary_batches

__all__ = ["ARCHIVE", "CIFAR100", "FILES", "convert_cifar100", "fill_convert_subparser", "fill_download_subparser"]

ARCHIVE = "cifar-100-binary.tar.gz"
FILES: dict[str, FileSpec] = {
    ARCHIVE: FileSpec(ARCHIVE, ("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",),
                      "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec", 168513733),
}
"""The binary archive with its published sha256 and size."""

fill_download_subparser = files_downloader(lambda: list(FILES.values()))


@check_exists(required_files=[ARCHIVE])
def convert_cifar100(directory: str, output_directory: str, output_filename: str = "cifar100.hdf5") -> tuple[str]:
    """Convert ``cifar-100-binary.tar.gz`` to ``cifar100.hdf5``."""
    batches = read_binary_batches(
        os.path.join(directory, ARCHIVE),
        {"train": ("cifar-100-binary/train.bin",), "test": ("cifar-100-binary/test.bin",)}, label_bytes=2,
    )
    data = [(s, "features", batches[s][:, 2:].reshape(-1, 3, 32, 32)) for s in ("train", "test")]
    data += [(s, "coarse_labels", batches[s][:, 0:1]) for s in ("train", "test")]
    data += [(s, "fine_labels", batches[s][:, 1:2]) for s in ("train", "test")]
    path = os.path.join(output_directory, output_filename)
    with output_hdf5(path, directory=directory, inputs=[ARCHIVE]) as h5file:
        fill_hdf5_file(h5file, data)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"),
                                 "coarse_labels": ("batch", "index"), "fine_labels": ("batch", "index")})
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert cifar100`` takes no extra arguments."""
    return convert_cifar100


class CIFAR100(DataPathDataset):
    """CIFAR-100 (``cifar100.hdf5``): sources ``features``, ``coarse_labels``, ``fine_labels``.

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("test",)`` or both.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> CIFAR100(("train",), sources=("features", "fine_labels"))  # doctest: +SKIP
    """

    filename = "cifar100.hdf5"
    scaled_sources = ("features",)
