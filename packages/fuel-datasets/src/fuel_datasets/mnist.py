"""MNIST: 70,000 28×28 handwritten digits (IDX files, gzip-compressed).

``fuel-download mnist`` fetches the four IDX files (mirrors: the PyTorch S3
copy, Google's CVDF copy, then LeCun's original site), ``fuel-convert mnist``
writes ``mnist.hdf5`` with splits ``train`` (60,000) and ``test`` (10,000) and
sources ``features`` (batch, channel, height, width; uint8 by default) and
``targets`` (batch, index).
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.converters.inputs import reading_input
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader, register_known_files, urls_under
from fuel_datasets._common import fuel_fill_subparser

__all__ = ["FILES", "MNIST", "convert_mnist", "fill_convert_subparser", "fill_download_subparser", "fill_subparser",
           "read_mnist_images", "read_mnist_labels"]

_BASES = ("https://ossci-datasets.s3.amazonaws.com/mnist", "https://storage.googleapis.com/cvdf-datasets/mnist",
          "http://yann.lecun.com/exdb/mnist")
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

FILES: dict[str, FileSpec] = {
    TRAIN_IMAGES: FileSpec(TRAIN_IMAGES, urls_under(TRAIN_IMAGES, *_BASES),
                           "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    TRAIN_LABELS: FileSpec(TRAIN_LABELS, urls_under(TRAIN_LABELS, *_BASES),
                           "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    TEST_IMAGES: FileSpec(TEST_IMAGES, urls_under(TEST_IMAGES, *_BASES),
                          "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    TEST_LABELS: FileSpec(TEST_LABELS, urls_under(TEST_LABELS, *_BASES),
                          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}
"""The files, with their published sha256 and sizes (from TensorFlow Datasets' checksum list)."""

fill_download_subparser = files_downloader(lambda: list(FILES.values()))

_FUEL_NAMES = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
_FUEL_URLS = [f"http://yann.lecun.com/exdb/mnist/{name}" for name in _FUEL_NAMES]
register_known_files(FILES.values())
fill_subparser = fuel_fill_subparser(_FUEL_URLS, _FUEL_NAMES)


def _read_idx(path: str, magic: int, ndim: int) -> numpy.ndarray:
    with open(path, "rb") as handle, reading_input(path):
        raw = gzip.decompress(handle.read())
        header = 4 + 4 * ndim
        found, *shape = struct.unpack(f">{1 + ndim}i", raw[:header])
    if found != magic:
        raise ValueError(f"{path}: wrong IDX magic number {found} (expected {magic}); is it an MNIST file?")
    if len(raw) - header != int(numpy.prod(shape)):
        raise ValueError(f"{path}: truncated: header says {shape}, got {len(raw) - header} bytes of data")
    return numpy.frombuffer(raw, dtype=numpy.uint8, offset=header).reshape(shape)


def read_mnist_images(path: str, dtype: str | None = None) -> numpy.ndarray:
    """Images of an IDX3 file as (N, 1, 28, 28): uint8, or bool (binarized at 0.5), or float scaled to [0, 1]."""
    images = _read_idx(path, 2051, 3)[:, None]
    if dtype is None or dtype == "uint8":
        return images
    if dtype == "bool":
        return images >= 128
    if dtype in ("float32", "float64"):
        return (images / numpy.array(255, dtype=dtype)).astype(dtype)
    raise ValueError(f"unknown dtype {dtype!r}; valid: uint8, bool, float32, float64")


def read_mnist_labels(path: str) -> numpy.ndarray:
    """Labels of an IDX1 file as (N, 1) uint8."""
    return _read_idx(path, 2049, 1)[:, None]


@check_exists(required_files=list(FILES))
def convert_mnist(directory: str, output_directory: str, output_filename: str = "mnist.hdf5",
                  dtype: str | None = None) -> tuple[str]:
    """Convert the IDX files in ``directory`` to ``output_directory/output_filename``.

    Parameters
    ----------
    directory : str
        Holds the four downloaded files.
    output_directory : str
        Where to write.
    output_filename : str
        Output name (default ``mnist.hdf5``).
    dtype : str, optional
        ``uint8`` (default), ``bool``, ``float32`` or ``float64``.

    Returns
    -------
    tuple of str
        The output path.
    """
    path = os.path.join(output_directory, output_filename)
    data = (
        ("train", "features", read_mnist_images(os.path.join(directory, TRAIN_IMAGES), dtype)),
        ("test", "features", read_mnist_images(os.path.join(directory, TEST_IMAGES), dtype)),
        ("train", "targets", read_mnist_labels(os.path.join(directory, TRAIN_LABELS))),
        ("test", "targets", read_mnist_labels(os.path.join(directory, TEST_LABELS))),
    )
    with output_hdf5(path, directory=directory, inputs=list(FILES)) as h5file:
        fill_hdf5_file(h5file, data)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """Arguments of ``fuel-convert mnist``."""
    subparser.add_argument("--dtype", choices=("uint8", "float32", "float64", "bool"), default=None,
                           help="dtype of the stored images (default uint8)")
    return convert_mnist


class MNIST(DataPathDataset):
    """The MNIST dataset of handwritten digits (``mnist.hdf5``).

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("test",)`` or both.
    load_in_memory : bool
        Read the requested splits into memory (default ``True``, as in Fuel).
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> train = MNIST(("train",))  # doctest: +SKIP
    >>> train.num_examples  # doctest: +SKIP
    60000
    """

    filename = "mnist.hdf5"
    scaled_sources = ("features",)

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = True, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
