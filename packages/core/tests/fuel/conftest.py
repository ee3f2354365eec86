"""Fixtures for the Fuel tests: HDF5 files laid out exactly as Fuel's converters wrote them."""

from __future__ import annotations

import h5py
import numpy as np
import pytest


def fuel_fill_hdf5_file(h5file, data):
    """A line-by-line copy of Fuel 0.2's ``fuel.converters.base.fill_hdf5_file`` (the reference layout)."""
    from fuel.datasets.hdf5 import H5PYDataset

    split_names = {t[0] for t in data}
    split_dict = {name: {} for name in split_names}
    source_names = sorted({t[1] for t in data})
    for name in source_names:
        splits = [s for s in data if s[1] == name]
        indices = np.cumsum([0] + [len(s[2]) for s in splits])
        dataset = h5file.create_dataset(
            name, (sum(len(s[2]) for s in splits),) + splits[0][2].shape[1:], dtype=splits[0][2].dtype
        )
        dataset[...] = np.concatenate([s[2] for s in splits], axis=0)
        for i, j, s in zip(indices[:-1], indices[1:], splits):
            if len(s) == 4:
                split_dict[s[0]][name] = (i, j, None, s[3])
            else:
                split_dict[s[0]][name] = (i, j)
    h5file.attrs["split"] = H5PYDataset.create_split_array(split_dict)


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
