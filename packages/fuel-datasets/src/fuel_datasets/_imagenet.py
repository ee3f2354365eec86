"""ImageNet (ILSVRC) conversion shared by ILSVRC2010 and ILSVRC2012: JPEG bytes stored as they are.

The archives are read as streams (they are far larger than memory): the
training tar holds one tar per class (``n01440764.tar``) of JPEGs; the
validation and test tars hold the JPEGs directly, numbered, labelled by the
ground-truth files. Labels are the 0-based ``ILSVRC20xx_ID`` of the devkit's
``meta.mat`` (read with ``scipy.io.loadmat``).
"""

from __future__ import annotations

import os
import tarfile
from typing import Any, Iterator

import numpy

from fuel.converters import output_hdf5, set_axis_labels
from fuel.converters.base import create_split_array
from fuel_datasets._images import VlenAppender

__all__ = ["convert_imagenet", "manual_instructions", "read_devkit"]


def read_devkit(path: str, year: int) -> tuple[dict[str, int], list[int], list[str]]:
    """``(wnid → 0-based label, validation labels, class descriptions)`` from a devkit archive."""
    import io

    from scipy.io import loadmat

    meta = truth = None
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            base = os.path.basename(member.name)
            if base == "meta.mat":
                meta = tar.extractfile(member).read()  # type: ignore[union-attr]
            elif base == f"ILSVRC{year}_validation_ground_truth.txt":
                truth = tar.extractfile(member).read()  # type: ignore[union-attr]
    if meta is None or truth is None:
        raise ValueError(f"{path}: no data/meta.mat or ILSVRC{year}_validation_ground_truth.txt; is it the devkit?")
    synsets = loadmat(io.BytesIO(meta), squeeze_me=True)["synsets"]
    ids = numpy.asarray(synsets[f"ILSVRC{year}_ID"]).astype(int).ravel()
    wnids = [str(w) for w in numpy.asarray(synsets["WNID"]).ravel()]
    words = [str(w) for w in numpy.asarray(synsets["words"]).ravel()]
    leaves = sorted((i, w, d) for i, w, d in zip(ids, wnids, words) if 1 <= i <= 1000)
    labels = {wnid: i - 1 for i, wnid, _ in leaves}
    return labels, [int(v) - 1 for v in truth.split()], [d for _, _, d in leaves]


def _number(name: str) -> int:
    return int(os.path.splitext(os.path.basename(name))[0].rsplit("_", 1)[1])


def _flat_images(path: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            if member.isfile() and member.name.lower().endswith((".jpeg", ".jpg")):
                yield os.path.basename(member.name), tar.extractfile(member).read()  # type: ignore[union-attr]


def _train_images(path: str) -> Iterator[tuple[str, str, bytes]]:
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if member.name.endswith(".tar"):
                wnid = os.path.splitext(os.path.basename(member.name))[0]
                inner = tar.extractfile(member)
                with tarfile.open(fileobj=inner, mode="r|*") as class_tar:
                    for image in class_tar:
                        if image.isfile():
                            yield wnid, os.path.basename(image.name), class_tar.extractfile(image).read()  # type: ignore[union-attr]
            elif member.name.lower().endswith((".jpeg", ".jpg")):
                wnid = os.path.basename(member.name).split("_")[0]
                yield wnid, os.path.basename(member.name), tar.extractfile(member).read()  # type: ignore[union-attr]


def convert_imagenet(year: int, directory: str, path: str, archives: dict[str, str], devkit: str,
                     test_truth: str | None, inputs: list[str]) -> str:
    """Write ``path`` from the archives: ``archives`` maps split (train/valid/test) to a tar file name."""
    labels, valid_truth, descriptions = read_devkit(os.path.join(directory, devkit), year)
    truth = {"valid": valid_truth}
    if test_truth is not None:
        with open(os.path.join(directory, test_truth), encoding="ascii") as handle:
            truth["test"] = [int(v) - 1 for v in handle.read().split()]
    with output_hdf5(path, directory=directory, inputs=inputs) as h5file:
        images = VlenAppender(h5file, "encoded_images", numpy.uint8)
        targets: list[int] = []
        filenames: list[bytes] = []
        split_dict, start = {}, 0
        for split, archive in archives.items():
            source = os.path.join(directory, archive)
            if split == "train":
                for wnid, name, data in _train_images(source):
                    if wnid not in labels:
                        raise ValueError(f"{archive}: {name} belongs to {wnid}, which the devkit does not list")
                    images.append(numpy.frombuffer(data, dtype=numpy.uint8))
                    targets.append(labels[wnid])
                    filenames.append(name.encode("ascii"))
            else:
                for name, data in _flat_images(source):
                    number = _number(name)
                    if not 1 <= number <= len(truth[split]):
                        raise ValueError(f"{archive}: {name} has no ground-truth label")
                    images.append(numpy.frombuffer(data, dtype=numpy.uint8))
                    targets.append(truth[split][number - 1])
                    filenames.append(name.encode("ascii"))
            split_dict[split] = {s: (start, images.count) for s in ("encoded_images", "targets", "filenames")}
            start = images.count
        images.finish()
        h5file.create_dataset("targets", data=numpy.array(targets, dtype=numpy.int16).reshape(-1, 1))
        width = max((len(f) for f in filenames), default=1)
        h5file.create_dataset("filenames", data=numpy.array(filenames, dtype=f"S{width}").reshape(-1, 1))
        set_axis_labels(h5file, {"targets": ("batch", "index"), "filenames": ("batch", "index")})
        h5file["targets"].attrs["class_descriptions"] = numpy.array([d.encode("utf8") for d in descriptions])
        h5file.attrs["split"] = create_split_array(split_dict)
    return path


def manual_instructions(year: int, files: list[Any], page: str) -> str:
    """What ``fuel-download ilsvrc20xx`` prints when files are missing."""
    listing = "\n".join(f"  - {spec.filename}" for spec in files)
    return (
        f"ILSVRC{year} (ImageNet) has no public download URL: its terms of access require an account.\n"
        "1. Create an account at https://image-net.org/ (with an institutional e-mail) and accept the terms.\n"
        f"2. From {page} download:\n{listing}\n"
        "3. Put the files, unchanged (do not extract them), in the download directory shown below.\n"
        "An institutional mirror can be used instead: fuel-download ... --mirror URL (or FUEL_MIRRORS)."
    )

