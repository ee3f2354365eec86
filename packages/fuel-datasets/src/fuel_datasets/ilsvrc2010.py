"""ILSVRC2010 (ImageNet, 1,000 classes, labelled test set): manual download, JPEG bytes stored.

The files cannot be downloaded without an ImageNet account: ``fuel-download
ilsvrc2010`` prints precise instructions and checks the files placed by hand
(no checksum is published for them: they are recorded as unverified).
``fuel-convert ilsvrc2010`` writes ``ilsvrc2010.hdf5``: splits ``train``,
``valid`` and ``test``, sources ``encoded_images`` (the JPEG bytes),
``targets`` (0-based ``ILSVRC2010_ID``) and ``filenames``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from fuel.converters import check_exists
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, manual_downloader
from fuel_datasets._imagenet import convert_imagenet, manual_instructions

__all__ = ["FILES", "ILSVRC2010", "convert_ilsvrc2010", "fill_convert_subparser", "fill_download_subparser"]

TRAIN, VALID, TEST = "ILSVRC2010_images_train.tar", "ILSVRC2010_images_val.tar", "ILSVRC2010_images_test.tar"
DEVKIT, TEST_TRUTH = "ILSVRC2010_devkit-1.0.tar.gz", "ILSVRC2010_test_ground_truth.txt"
FILES: dict[str, FileSpec] = {name: FileSpec(name) for name in (TRAIN, VALID, TEST, DEVKIT, TEST_TRUTH)}
"""The files (no public URL, no published checksum)."""

PAGE = "https://image-net.org/challenges/LSVRC/2010/2010-downloads.php"


def download_ilsvrc2010(directory: str, **kwargs: Any) -> list[str]:
    """Check hand-placed files (or fetch them from a mirror); print instructions when missing."""
    files = list(FILES.values())
    return manual_downloader(directory, files, manual_instructions(2010, files, PAGE), **kwargs)


def fill_download_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-download ilsvrc2010``: no public URL; see the instructions it prints."""
    return download_ilsvrc2010


@check_exists(required_files=list(FILES))
def convert_ilsvrc2010(directory: str, output_directory: str, output_filename: str = "ilsvrc2010.hdf5") -> tuple[str]:
    """Convert the archives to ``ilsvrc2010.hdf5`` (JPEG bytes, not decoded)."""
    path = os.path.join(output_directory, output_filename)
    convert_imagenet(2010, directory, path, {"train": TRAIN, "valid": VALID, "test": TEST}, DEVKIT, TEST_TRUTH,
                     list(FILES))
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert ilsvrc2010`` takes no extra arguments."""
    return convert_ilsvrc2010


class ILSVRC2010(DataPathDataset):
    """ILSVRC2010 (``ilsvrc2010.hdf5``): JPEG bytes decoded to RGB (channel, height, width) by default transformers.

    Parameters
    ----------
    which_sets : tuple of str
        Among ``train``, ``valid``, ``test``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset` (out of memory by default).

    Examples
    --------
    >>> ILSVRC2010(("test",)).num_examples  # doctest: +SKIP
    150000
    """

    filename = "ilsvrc2010.hdf5"
    decoded_sources = ("encoded_images",)

    def __init__(self, which_sets: tuple[str, ...], load_in_memory: bool = False, **kwargs: Any):
        super().__init__(which_sets, load_in_memory=load_in_memory, **kwargs)
