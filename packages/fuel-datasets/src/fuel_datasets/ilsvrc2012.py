"""ILSVRC2012 (ImageNet, 1,000 classes): manual download, JPEG bytes stored, decoded by default transformers.

The files cannot be downloaded without an ImageNet account: ``fuel-download
ilsvrc2012`` prints precise instructions, then verifies (md5, as published by
torchvision) the files placed by hand. ``fuel-convert ilsvrc2012`` writes
``ilsvrc2012.hdf5``: splits ``train`` (1,281,167) and ``valid`` (50,000; the
test labels were never released), sources ``encoded_images`` (the JPEG
bytes), ``targets`` (0-based ``ILSVRC2012_ID``) and ``filenames``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from fuel.converters import check_exists
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, manual_downloader
from fuel_datasets._imagenet import convert_imagenet, manual_instructions

__all__ = ["FILES", "ILSVRC2012", "convert_ilsvrc2012", "fill_convert_subparser", "fill_download_subparser"]

TRAIN, VALID, DEVKIT = "ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz"
FILES: dict[str, FileSpec] = {
    TRAIN: FileSpec(TRAIN, md5="1d675b47d978889d74fa0da5fadfb00e"),
    VALID: FileSpec(VALID, md5="29b22e2961454d5413ddabcf34fc5622"),
    DEVKIT: FileSpec(DEVKIT, md5="fa75699e90414af021442c21a62c3abf"),
}
"""The files (no public URL) with the md5 sums torchvision publishes."""

PAGE = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"


def download_ilsvrc2012(directory: str, **kwargs: Any) -> list[str]:
    """Verify hand-placed files (or fetch them from a mirror); print instructions when missing."""
    files = list(FILES.values())
    return manual_downloader(directory, files, manual_instructions(2012, files, PAGE), **kwargs)


def fill_download_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-download ilsvrc2012``: no public URL; see the instructions it prints."""
    return download_ilsvrc2012


@check_exists(required_files=list(FILES))
def convert_ilsvrc2012(directory: str, output_directory: str, output_filename: str = "ilsvrc2012.hdf5") -> tuple[str]:
    """Convert the archives to ``ilsvrc2012.hdf5`` (JPEG bytes, not decoded)."""
    path = os.path.join(output_directory, output_filename)
    convert_imagenet(2012, directory, path, {"train": TRAIN, "valid": VALID}, DEVKIT, None, list(FILES))
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert ilsvrc2012`` takes no extra arguments."""
    return convert_ilsvrc2012


class ILSVRC2012(DataPathDataset):
    """ILSVRC2012 (``ilsvrc2012.hdf5``): JPEG bytes decoded to RGB (channel, height, width) by default transformers.

    Out of memory by default (the file is ~140 GB).

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("valid",)`` or both.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> ILSVRC2012(("valid",)).num_examples  # doctest: +SKIP
    50000
    """

    filename = "ilsvrc2012.hdf5"
    decoded_sources = ("encoded_images",)

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = False, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
