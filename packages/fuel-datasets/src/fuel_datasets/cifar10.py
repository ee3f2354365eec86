"""CIFAR-10: 60,000 32×32 colour images in 10 classes, from the *binary* archive (never the pickled one).

``fuel-convert cifar10`` reads ``cifar-10-binary.tar.gz`` (records of one label
byte and 3,072 pixel bytes) and writes ``cifar10.hdf5``: splits ``train``
(50,000) and ``test`` (10,000), sources ``features`` (batch, channel, height,
width; uint8) and ``targets`` (batch, index).
"""

from __future__ import annotations

import os
import tarfile
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, fill_hdf5_file, output_hdf5, set_axis_labels
from fuel.converters.inputs import reading_input
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader

__all__ = ["ARCHIVE", "CIFAR10", "FILES", "convert_cifar10", "fill_convert_subparser", "fill_download_subparser",
           "read_binary_batches"]

ARCHIVE = "cifar-10-binary.tar.gz"
FILES: dict[str, FileSpec] = {
    ARCHIVE: FileSpec(ARCHIVE, ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
                      "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170052171),
}
"""The binary archive with its published sha256 and size."""

TRAIN_MEMBERS = tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6))
TEST_MEMBERS = ("cifar-10-batches-bin/test_batch.bin",)

fill_download_subparser = files_downloader(lambda: list(FILES.values()))


def read_binary_batches(
    archive: str, members: dict[str, tuple[str, ...]], label_bytes: int
) -> dict[str, numpy.ndarray]:
    """Records of the CIFAR binary batches in a tar.gz, one (N, label_bytes + 3072) uint8 array per group.

    The archive is read in one pass (members in any order); no pickle is involved.
    """
    wanted = {name: group for group, names in members.items() for name in names}
    chunks: dict[str, dict[str, bytes]] = {group: {} for group in members}
    with reading_input(archive), tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            group = wanted.get(member.name)
            if group is None or not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            chunks[group][member.name] = handle.read()
    record = label_bytes + 3072
    out = {}
    for group, names in members.items():
        missing = [n for n in names if n not in chunks[group]]
        if missing:
            raise ValueError(f"{archive} lacks {', '.join(missing)}; is it the binary version of the archive?")
        raw = b"".join(chunks[group][n] for n in names)
        if len(raw) % record:
            raise ValueError(f"{archive}: {group} data is not a whole number of {record}-byte records")
        out[group] = numpy.frombuffer(raw, dtype=numpy.uint8).reshape(-1, record)
    return out


@check_exists(required_files=[ARCHIVE])
def convert_cifar10(directory: str, output_directory: str, output_filename: str = "cifar10.hdf5") -> tuple[str]:
    """Convert ``cifar-10-binary.tar.gz`` to ``cifar10.hdf5``."""
    batches = read_binary_batches(os.path.join(directory, ARCHIVE),
                                  {"train": TRAIN_MEMBERS, "test": TEST_MEMBERS}, label_bytes=1)
    path = os.path.join(output_directory, output_filename)
    data = []
    for split in ("train", "test"):
        records = batches[split]
        data.append((split, "features", records[:, 1:].reshape(-1, 3, 32, 32)))
    for split in ("train", "test"):
        data.append((split, "targets", batches[split][:, :1]))
    with output_hdf5(path, directory=directory, inputs=[ARCHIVE]) as h5file:
        fill_hdf5_file(h5file, data)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert cifar10`` takes no extra arguments."""
    return convert_cifar10


class CIFAR10(DataPathDataset):
    """CIFAR-10 (``cifar10.hdf5``): uint8 images scaled to [0, 1] and cast to ``floatX`` by default.

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("test",)`` or both.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset` (``load_in_memory``, ...).

    Examples
    --------
    >>> CIFAR10(("test",)).num_examples  # doctest: +SKIP
    10000
    """

    filename = "cifar10.hdf5"
    scaled_sources = ("features",)
