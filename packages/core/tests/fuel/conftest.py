"""Fixtures for the Fuel tests: HDF5 files laid out exactly as Fuel's converters wrote them."""

from __future__ import annotations

import h5py
import numpy as np
import pytest


def fuel_fill_hdf5_file(h5file, data):
    """Write ``(split, source, array[, comment])`` tuples in the HDF5 layout of Fuel's converters, with raw h5py.

    An independent writer of the reference layout, so that our reader is checked against files laid out as
    Fuel wrote them: per source one dataset holding its splits one after another in the order given, and a
    ``split`` attribute with one row per (split, source) pair (a comment when the tuple has a fourth item).
    """
    from fuel.datasets.hdf5 import H5PYDataset

    rows = {}
    for source in sorted({entry[1] for entry in data}):
        parts = [entry for entry in data if entry[1] == source]
        arrays = [np.asarray(entry[2]) for entry in parts]
        h5file.create_dataset(source, data=np.concatenate(arrays, axis=0))
        start = 0
        for entry, array in zip(parts, arrays):
            stop = start + len(array)
            rows.setdefault(entry[0], {})[source] = (start, stop) if len(entry) == 3 else (start, stop, None, entry[3])
            start = stop
    h5file.attrs["split"] = H5PYDataset.create_split_array(rows)


@pytest.fixture
def mnist_like(tmp_path):
    """train (8) / test (4) splits, features (b,c,h,w) uint8 and targets; test targets 'unavailable'."""
    rng = np.random.default_rng(0)
    features = rng.integers(0, 255, size=(12, 1, 3, 3), dtype=np.uint8)
    targets = np.arange(12, dtype=np.uint8).reshape(12, 1)
    path = tmp_path / "mnist_like.hdf5"
    with h5py.File(path, "w") as f:
        fuel_fill_hdf5_file(
            f,
            (
                ("train", "features", features[:8], "train features"),
                ("test", "features", features[8:]),
                ("train", "targets", targets[:8]),
            ),
        )
        for i, label in enumerate(("batch", "channel", "height", "width")):
            f["features"].dims[i].label = label
        f["targets"].dims[0].label = "batch"
        f["targets"].dims[1].label = "index"
        f.attrs["h5py_interface_version"] = "0.3"
        f.attrs["fuel_convert_version"] = "0.2"
        f.attrs["fuel_convert_command"] = "fuel-convert mnist"
    return path, features, targets


@pytest.fixture
def vlen_file(tmp_path):
    """A variable-length source (sequences of 2-vectors of different lengths) plus fixed targets."""
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)).astype("float32") for n in (3, 1, 4, 2, 5)]
    path = tmp_path / "vlen.hdf5"
    with h5py.File(path, "w") as f:
        dtype = h5py.vlen_dtype(np.dtype("float32"))
        features = f.create_dataset("features", (5,), dtype=dtype)
        for i, s in enumerate(seqs):
            features[i] = s.ravel()
        shapes = f.create_dataset("features_shapes", (5, 2), dtype="int32")
        shapes[...] = np.array([s.shape for s in seqs])
        shape_labels = f.create_dataset("features_shape_labels", (2,), dtype="S7")
        shape_labels[...] = [b"time", b"feature"]
        shapes.make_scale("shapes")
        features.dims[0].attach_scale(shapes)
        shape_labels.make_scale("shape_labels")
        features.dims[0].attach_scale(shape_labels)
        features.dims[0].label = "batch"
        f["targets"] = np.arange(5, dtype="int64")
        f.attrs["split"] = H5PYDatasetSplit.create({"train": {"features": (0, 4), "targets": (0, 4)},
                                                    "valid": {"features": (4, 5), "targets": (4, 5)}})
    return path, seqs


class H5PYDatasetSplit:
    @staticmethod
    def create(split_dict):
        from fuel.datasets.hdf5 import H5PYDataset

        return H5PYDataset.create_split_array(split_dict)
