"""Dogs vs. Cats: 25,000 photos of cats and dogs (Microsoft's Asirra archive, the Kaggle competition's source).

``fuel-download dogs_vs_cats`` fetches ``kagglecatsanddogs_3367a.zip``
(``PetImages/Cat/*.jpg``, ``PetImages/Dog/*.jpg``); ``fuel-convert
dogs_vs_cats`` decodes every image (the few that cannot be decoded are skipped
and counted in the ``skipped_images`` attribute) and writes ``dogs_vs_cats.hdf5``:
a seeded shuffle split into ``train`` and ``test`` (last 20 % by default),
sources ``image_features`` (variable-size (channel, height, width) uint8, Fuel's
variable-length layout) and ``targets`` (0 cat, 1 dog). Kaggle's own test set
has no labels and needs a Kaggle login, so both splits come from the labelled
archive.
"""

from __future__ import annotations

import logging
import os
import zipfile
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, output_hdf5, set_axis_labels
from fuel.converters.base import create_split_array
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader
from fuel_datasets._images import VlenAppender, decode_image

__all__ = ["ARCHIVE", "FILES", "DogsVsCats", "convert_dogs_vs_cats", "fill_convert_subparser",
           "fill_download_subparser"]

logger = logging.getLogger(__name__)

ARCHIVE = "kagglecatsanddogs_3367a.zip"
FILES: dict[str, FileSpec] = {
    ARCHIVE: FileSpec(
        ARCHIVE,
        ("https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
         "kagglecatsanddogs_3367a.zip",),
        "f9553e426bd725354ed3a27e3c6920caadb55c835d1ebd880d2e56d3f1fbb22b", 824894548),
}
"""The archive with its sha256 and size (as TensorFlow Datasets publishes them)."""

CLASSES = ("Cat", "Dog")

fill_download_subparser = files_downloader(lambda: list(FILES.values()))


@check_exists(required_files=[ARCHIVE])
def convert_dogs_vs_cats(directory: str, output_directory: str, output_filename: str = "dogs_vs_cats.hdf5",
                         seed: int = 1, test_fraction: float = 0.2) -> tuple[str]:
    """Convert the archive to ``dogs_vs_cats.hdf5``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    path = os.path.join(output_directory, output_filename)
    with zipfile.ZipFile(os.path.join(directory, ARCHIVE)) as archive, \
            output_hdf5(path, directory=directory, inputs=[ARCHIVE]) as h5file:
        members = []
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            parts = info.filename.split("/")
            if len(parts) == 3 and parts[1] in CLASSES and parts[2].lower().endswith(".jpg"):
                members.append((info, CLASSES.index(parts[1])))
        if not members:
            raise ValueError(f"{ARCHIVE} holds no PetImages/Cat/*.jpg or PetImages/Dog/*.jpg")
        order = numpy.random.default_rng(seed).permutation(len(members))
        images = VlenAppender(h5file, "image_features", numpy.uint8, ("channel", "height", "width"))
        labels = []
        skipped = 0
        for index in order:
            info, label = members[index]
            image = decode_image(archive.read(info))
            if image is None:
                skipped += 1
                continue
            images.append(image)
            labels.append(label)
        images.finish()
        if skipped:
            logger.warning("skipped %d images that cannot be decoded", skipped)
        h5file.create_dataset("targets", data=numpy.array(labels, dtype=numpy.uint8).reshape(-1, 1))
        set_axis_labels(h5file, {"targets": ("batch", "index")})
        h5file.attrs["skipped_images"] = skipped
        count = len(labels)
        train = count - max(1, int(round(count * test_fraction)))
        h5file.attrs["split"] = create_split_array({
            "train": {"image_features": (0, train), "targets": (0, train)},
            "test": {"image_features": (train, count), "targets": (train, count)},
        })
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """Arguments of ``fuel-convert dogs_vs_cats``."""
    subparser.add_argument("--seed", type=int, default=1, help="seed of the shuffle (default 1)")
    subparser.add_argument("--test-fraction", type=float, default=0.2, help="fraction held out as test (0.2)")
    return convert_dogs_vs_cats


class DogsVsCats(DataPathDataset):
    """Dogs vs. Cats (``dogs_vs_cats.hdf5``): variable-size images, scaled to [0, 1] by default.

    Parameters
    ----------
    which_sets : tuple of str
        ``("train",)``, ``("test",)`` or both.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> DogsVsCats(("train",))  # doctest: +SKIP
    """

    filename = "dogs_vs_cats.hdf5"
    scaled_sources = ("image_features",)
    cast_scaled = False
