"""CelebA: 202,599 aligned celebrity faces with 40 binary attributes.

``fuel-download celeba`` fetches ``img_align_celeba.zip``,
``list_attr_celeba.txt`` and ``list_eval_partition.txt`` from Google Drive (its
virus-scan confirmation page for large files is followed; a quota or error page
is reported as such: then use ``--mirror`` or place the files by hand). ``fuel-convert
celeba {aligned_cropped,64}`` writes ``celeba_{format}.hdf5``: splits ``train``,
``valid``, ``test`` from the official partition file, sources ``features``
(batch, channel, height, width; uint8; 218×178, or a centred 178×178 crop
resized to 64×64) and ``targets`` (batch, attribute; 0/1, names in the
``attribute_names`` attribute).
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, Callable

import numpy

from fuel.converters import check_exists, output_hdf5, set_axis_labels
from fuel.converters.base import create_split_array
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, files_downloader, register_known_files
from fuel_datasets._common import fuel_fill_subparser

__all__ = [
    "FILES",
    "FORMATS",
    "CelebA",
    "convert_celeba",
    "fill_convert_subparser",
    "fill_download_subparser",
    "fill_subparser",
]

_DRIVE = "https://drive.google.com/uc?export=download&id="
FILES: dict[str, FileSpec] = {
    "img_align_celeba.zip": FileSpec("img_align_celeba.zip", (_DRIVE + "0B7EVK8r0v71pZjFTYXZWM3FlRnM",),
                                     "46fb89443c578308acf364d7d379fe1b9efb793042c0af734b6112e4fd3a8c74", 1443490838),
    "list_attr_celeba.txt": FileSpec("list_attr_celeba.txt", (_DRIVE + "0B7EVK8r0v71pblRyaVFSWGxPY0U",),
                                     "f0e5da289d5ccf75ffe8811132694922b60f2af59256ed362afa03fefba324d0", 26721026),
    "list_eval_partition.txt": FileSpec("list_eval_partition.txt", (_DRIVE + "0B7EVK8r0v71pY0NSMzRuSXJEVkk",),
                                        "fc955bcb3ef8fbdf7d5640d9a8693a8431b5f2ee291a5c1449a1549e7e073fe7", 2836386),
}
"""The files with their sha256 and sizes (as TensorFlow Datasets publishes them)."""

FORMATS = ("aligned_cropped", "64")
SPLITS = ("train", "valid", "test")

fill_download_subparser = files_downloader(lambda: list(FILES.values()))

_FUEL_NAMES = ["list_attr_celeba.txt", "img_align_celeba.zip"]
_FUEL_URLS = [
    "https://www.dropbox.com/sh/8oqt9vytwxb3s4r/AAC7-uCaJkmPmvLX2_P5qy0ga/Anno/list_attr_celeba.txt?dl=1",
    "https://www.dropbox.com/sh/8oqt9vytwxb3s4r/AADIKlz8PR9zr6Y20qbkunrba/Img/img_align_celeba.zip?dl=1",
]
register_known_files(FILES.values(), aliases=dict(zip(_FUEL_NAMES, ([u] for u in _FUEL_URLS))))
fill_subparser = fuel_fill_subparser(_FUEL_URLS, _FUEL_NAMES)


def _read_attributes(path: str) -> tuple[list[str], dict[str, numpy.ndarray]]:
    with open(path, encoding="ascii") as handle:
        count = int(handle.readline())
        names = handle.readline().split()
        rows = {}
        for line in handle:
            fields = line.split()
            if fields:
                rows[fields[0]] = (numpy.array(fields[1:], dtype=numpy.int8) + 1) // 2
    if len(rows) != count:
        raise ValueError(f"{path}: header announces {count} images, found {len(rows)}")
    return names, rows


def _read_partition(path: str) -> dict[str, list[str]]:
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            fields = line.split()
            if fields:
                splits[SPLITS[int(fields[1])]].append(fields[0])
    return splits


def _image(data: bytes, which_format: str) -> numpy.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        if which_format == "64":
            width, height = image.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((64, 64), Image.BILINEAR)
        return numpy.asarray(image).transpose(2, 0, 1)


@check_exists(required_files=list(FILES))
def convert_celeba(which_format: str, directory: str, output_directory: str,
                   output_filename: str | None = None) -> tuple[str]:
    """Convert CelebA to ``celeba_{which_format}.hdf5``."""
    if which_format not in FORMATS:
        raise ValueError(f"which_format must be one of {FORMATS}, got {which_format!r}")
    names, attributes = _read_attributes(os.path.join(directory, "list_attr_celeba.txt"))
    partition = _read_partition(os.path.join(directory, "list_eval_partition.txt"))
    order = [name for split in SPLITS for name in partition[split]]
    path = os.path.join(output_directory, output_filename or f"celeba_{which_format}.hdf5")
    with zipfile.ZipFile(os.path.join(directory, "img_align_celeba.zip")) as archive, \
            output_hdf5(path, directory=directory, inputs=list(FILES)) as h5file:
        members = {os.path.basename(info.filename): info for info in archive.infolist() if not info.is_dir()}
        missing = [name for name in order if name not in members]
        if missing:
            raise ValueError(f"img_align_celeba.zip lacks {len(missing)} listed images (first: {missing[0]})")
        first = _image(archive.read(members[order[0]]), which_format)
        features = h5file.create_dataset("features", (len(order),) + first.shape, dtype=numpy.uint8,
                                         chunks=(min(256, len(order)),) + first.shape)
        targets = h5file.create_dataset("targets", (len(order), len(names)), dtype=numpy.uint8)
        chunk = 1024
        for start in range(0, len(order), chunk):
            batch = order[start:start + chunk]
            features[start:start + len(batch)] = numpy.stack(
                [_image(archive.read(members[name]), which_format) for name in batch])
            targets[start:start + len(batch)] = numpy.stack([attributes[name] for name in batch])
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"),
                                 "targets": ("batch", "attribute")})
        targets.attrs["attribute_names"] = numpy.array([n.encode("utf8") for n in names])
        split_dict, start = {}, 0
        for split in SPLITS:
            stop = start + len(partition[split])
            split_dict[split] = {"features": (start, stop), "targets": (start, stop)}
            start = stop
        h5file.attrs["split"] = create_split_array(split_dict)
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert celeba {aligned_cropped,64}``."""
    subparser.add_argument("which_format", choices=FORMATS,
                           help="aligned_cropped: 218x178 aligned faces; 64: centred crop resized to 64x64")
    return convert_celeba


class CelebA(DataPathDataset):
    """CelebA (``celeba_{aligned_cropped,64}.hdf5``); targets are the 40 binary attributes.

    Parameters
    ----------
    which_format : str
        ``"aligned_cropped"`` or ``"64"``.
    which_sets : tuple of str
        Among ``train``, ``valid``, ``test``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> CelebA("64", ("valid",)).num_examples  # doctest: +SKIP
    19867
    """

    scaled_sources = ("features",)

    def __init__(self, which_format: str, which_sets: tuple[str, ...], **kwargs: Any):
        if which_format not in FORMATS:
            raise ValueError(f"which_format must be one of {FORMATS}, got {which_format!r}")
        self.which_format = which_format
        self.filename = f"celeba_{which_format}.hdf5"
        super().__init__(which_sets, **kwargs)
