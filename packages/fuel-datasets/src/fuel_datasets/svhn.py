"""SVHN, the Street View House Numbers, in both formats.

Format 1 (``train.tar.gz``, ``test.tar.gz``, ``extra.tar.gz``): full house-number
images of varying size with their digit bounding boxes, described by
``digitStruct.mat`` (a MATLAB 7.3 file, i.e. HDF5, read with h5py). Written to
``svhn_format_1.hdf5`` with variable-length sources ``features`` (channel,
height, width) and ``bbox_heights``, ``bbox_lefts``, ``bbox_tops``,
``bbox_widths``, ``bbox_labels`` (one entry per digit).

Format 2 (``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``, MATLAB 5
files read with ``scipy.io.loadmat``): 32×32 crops centred on one digit, written
to ``svhn_format_2.hdf5`` with sources ``features`` (batch, channel, height,
width) and ``targets``.

Splits ``train``, ``test`` and ``extra``. SVHN labels the digit 0 as 10; the
converters store it as 0.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from typing import Any, Callable, Iterator, Sequence

import numpy

from fuel.converters import MissingInputFiles, fill_hdf5_file, output_hdf5, set_axis_labels, write_vlen_source
from fuel.converters.base import create_split_array
from fuel.datasets.data_path import DataPathDataset
from fuel.downloaders import FileSpec, default_downloader, register_known_files

__all__ = ["FILES", "SPLITS", "SVHN", "convert_svhn", "fill_convert_subparser", "fill_download_subparser",
           "fill_subparser", "read_digit_struct", "svhn_downloader"]

SPLITS = ("train", "test", "extra")
_BASE = "http://ufldl.stanford.edu/housenumbers/"
FILES: dict[str, FileSpec] = {
    "train_32x32.mat": FileSpec("train_32x32.mat", (_BASE + "train_32x32.mat",),
                                "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8", 182040794),
    "test_32x32.mat": FileSpec("test_32x32.mat", (_BASE + "test_32x32.mat",),
                               "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b", 64275384),
    "extra_32x32.mat": FileSpec("extra_32x32.mat", (_BASE + "extra_32x32.mat",),
                                "a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3", 1329278602),
    # format 1: no checksum is published; the sha256 is recorded on download (reported as unverified)
    "train.tar.gz": FileSpec("train.tar.gz", (_BASE + "train.tar.gz",)),
    "test.tar.gz": FileSpec("test.tar.gz", (_BASE + "test.tar.gz",)),
    "extra.tar.gz": FileSpec("extra.tar.gz", (_BASE + "extra.tar.gz",)),
}
"""All SVHN files (format 2 with the sha256 and sizes TensorFlow Datasets publishes)."""


def _format_files(which_format: int) -> list[str]:
    if which_format == 1:
        return [f"{s}.tar.gz" for s in SPLITS]
    if which_format == 2:
        return [f"{s}_32x32.mat" for s in SPLITS]
    raise ValueError(f"which_format must be 1 or 2, got {which_format!r}")


def download_svhn(which_format: int, **kwargs: Any) -> list[str]:
    """Download the files of one format."""
    return default_downloader(files=[FILES[name] for name in _format_files(which_format)], **kwargs)


def fill_download_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-download svhn {1,2}``."""
    subparser.add_argument("which_format", type=int, choices=(1, 2),
                           help="1: full images with bounding boxes; 2: 32x32 cropped digits")
    return download_svhn


register_known_files(FILES.values())


def svhn_downloader(which_format: int, directory: str, clear: bool = False, **kwargs: Any) -> list[str]:
    """Fuel's SVHN downloader: Fuel's ``default_downloader`` call (``urls``, ``filenames``, ``url_prefix``).

    The files are registered known files, so they are checked against their
    published checksums where there are any.
    """
    return default_downloader(directory=directory, urls=[None] * len(SPLITS), filenames=_format_files(which_format),
                              url_prefix=_BASE, clear=clear, **kwargs)


def fill_subparser(subparser: Any) -> Callable[..., Any]:
    """Fuel's ``fill_subparser``: the ``which_format`` argument; returns :func:`svhn_downloader`."""
    subparser.add_argument("which_format", type=int, choices=(1, 2),
                           help="1: full images with bounding boxes; 2: 32x32 cropped digits")
    return svhn_downloader


def _check(directory: str, names: Sequence[str]) -> None:
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise MissingInputFiles(
            f"required files missing from {directory}: {', '.join(missing)}; did you forget to run fuel-download?",
            missing,
        )


def _labels(values: numpy.ndarray) -> numpy.ndarray:
    labels = numpy.asarray(values, dtype=numpy.uint8).copy()
    labels[labels == 10] = 0
    return labels


def _convert_format_2(directory: str, path: str) -> None:
    from scipy.io import loadmat

    data = []
    targets = []
    for split in SPLITS:
        mat = loadmat(os.path.join(directory, f"{split}_32x32.mat"))
        data.append((split, "features", numpy.ascontiguousarray(mat["X"].transpose(3, 2, 0, 1))))
        targets.append((split, "targets", _labels(mat["y"]).reshape(-1, 1)))
        del mat
    with output_hdf5(path, directory=directory, inputs=_format_files(2)) as h5file:
        fill_hdf5_file(h5file, data + targets)
        set_axis_labels(h5file, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})


_BOX_KEYS = ("height", "left", "top", "width", "label")
_BOX_AXIS = {"height": "height", "left": "x", "top": "y", "width": "width", "label": "index"}


def read_digit_struct(path: str) -> list[tuple[str, dict[str, list[float]]]]:
    """``(image name, {height, left, top, width, label: [one value per digit]})`` from a ``digitStruct.mat``."""
    import h5py

    out = []
    with h5py.File(path, "r") as h5file:
        names = h5file["digitStruct/name"]
        boxes = h5file["digitStruct/bbox"]
        for i in range(names.shape[0]):
            name = "".join(chr(int(c)) for c in h5file[names[i, 0]][()].ravel())
            group = h5file[boxes[i, 0]]
            values = {}
            for key in _BOX_KEYS:
                field = group[key]
                if field.shape[0] == 1 and field.dtype != h5py.ref_dtype:
                    values[key] = [float(field[0, 0])]
                else:
                    values[key] = [float(h5file[field[j, 0]][()].ravel()[0]) for j in range(field.shape[0])]
            out.append((name, values))
    return out


class _Images(Sequence):
    """Decoded images (channel, height, width) of a list of PNG paths, read one at a time."""

    def __init__(self, paths: list[str]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Any:
        from PIL import Image

        with Image.open(self.paths[index]) as image:
            return numpy.asarray(image.convert("RGB")).transpose(2, 0, 1)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


def _convert_format_1(directory: str, path: str, output_directory: str) -> None:
    with tempfile.TemporaryDirectory(prefix=".svhn-", dir=output_directory) as scratch:
        paths: list[str] = []
        boxes: dict[str, list[numpy.ndarray]] = {key: [] for key in _BOX_KEYS}
        counts = {}
        for split in SPLITS:
            with tarfile.open(os.path.join(directory, f"{split}.tar.gz"), "r:gz") as tar:
                tar.extractall(scratch, filter="data")
            split_dir = os.path.join(scratch, split)
            struct = read_digit_struct(os.path.join(split_dir, "digitStruct.mat"))
            counts[split] = len(struct)
            for name, values in struct:
                paths.append(os.path.join(split_dir, name))
                for key in _BOX_KEYS:
                    column = numpy.maximum(0, numpy.asarray(values[key])).reshape(-1, 1)  # boxes may stick out
                    boxes[key].append(_labels(column) if key == "label" else column.astype(numpy.uint16))
        with output_hdf5(path, directory=directory, inputs=_format_files(1)) as h5file:
            write_vlen_source(h5file, "features", _Images(paths), numpy.uint8, ("channel", "height", "width"))
            for key in _BOX_KEYS:
                dtype = numpy.uint8 if key == "label" else numpy.uint16
                write_vlen_source(h5file, f"bbox_{key}s", boxes[key], dtype, ("bounding_box", _BOX_AXIS[key]))
            split_dict: dict[str, dict[str, tuple]] = {}
            start = 0
            for split in SPLITS:
                stop = start + counts[split]
                split_dict[split] = {source: (start, stop) for source in
                                     ["features", *(f"bbox_{key}s" for key in _BOX_KEYS)]}
                start = stop
            h5file.attrs["split"] = create_split_array(split_dict)


def convert_svhn(which_format: int, directory: str, output_directory: str,
                 output_filename: str | None = None) -> tuple[str]:
    """Convert SVHN format 1 or 2 to ``svhn_format_{which_format}.hdf5``."""
    names = _format_files(which_format)
    _check(directory, names)
    path = os.path.join(output_directory, output_filename or f"svhn_format_{which_format}.hdf5")
    if which_format == 1:
        _convert_format_1(directory, path, output_directory)
    else:
        _convert_format_2(directory, path)
    return (path,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert svhn {1,2}``."""
    subparser.add_argument("which_format", type=int, choices=(1, 2),
                           help="1: full images with bounding boxes; 2: 32x32 cropped digits")
    return convert_svhn


class SVHN(DataPathDataset):
    """SVHN in format 1 or 2 (``svhn_format_{1,2}.hdf5``).

    Parameters
    ----------
    which_format : int
        1 (full numbers, variable-size images and bounding boxes) or 2 (32×32
        digits; default transformers scale pixels to [0, 1] and cast to
        ``floatX``).
    which_sets : tuple of str
        Among ``train``, ``test``, ``extra``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset`.

    Examples
    --------
    >>> SVHN(2, ("test",)).num_examples  # doctest: +SKIP
    26032
    """

    def __init__(self, which_format: int, which_sets: tuple[str, ...], **kwargs: Any):
        if which_format not in (1, 2):
            raise ValueError(f"which_format must be 1 or 2, got {which_format!r}")
        self.which_format = which_format
        self.filename = f"svhn_format_{which_format}.hdf5"
        self.scaled_sources = ("features",) if which_format == 2 else ()
        super().__init__(which_sets, **kwargs)


