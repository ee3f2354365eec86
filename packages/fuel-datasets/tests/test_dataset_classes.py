"""Every dataset class on its converted file, found through fuel.config.data_path; default transformers applied."""

from __future__ import annotations

import importlib
import os
from typing import Any

import h5py
import numpy
import pytest

from blocks.cli import fuel_convert
from fuel.downloaders import manifest

# key -> (module, class, constructor args, convert args, expected num_examples by split)
CLASSES = {
    "adult": ("adult", "Adult", [], [], {"train": 3, "test": 2}),
    "binarized_mnist": ("binarized_mnist", "BinarizedMNIST", [], [], {"train": 4, "valid": 2, "test": 3}),
    "caltech101_silhouettes": ("caltech101_silhouettes", "CalTech101Silhouettes", [], ["16"],
                               {"train": 3, "valid": 2, "test": 2}),
    "celeba": ("celeba", "CelebA", ["64"], ["64"], {"train": 3, "valid": 1, "test": 1}),
    "cifar10": ("cifar10", "CIFAR10", [], [], {"train": 10, "test": 2}),
    "cifar100": ("cifar100", "CIFAR100", [], [], {"train": 3, "test": 2}),
    "dogs_vs_cats": ("dogs_vs_cats", "DogsVsCats", [], [], {"train": 5, "test": 1}),
    "ilsvrc2010": ("ilsvrc2010", "ILSVRC2010", [], [], {"train": 4, "valid": 3, "test": 2}),
    "ilsvrc2012": ("ilsvrc2012", "ILSVRC2012", [], [], {"train": 4, "valid": 3}),
    "iris": ("iris", "Iris", [], [], {"all": 4}),
    "mnist": ("mnist", "MNIST", [], [], {"train": 5, "test": 3}),
    "svhn1": ("svhn", "SVHN", [1], ["1"], {"train": 2, "test": 1, "extra": 1}),
    "svhn2": ("svhn", "SVHN", [2], ["2"], {"train": 3, "test": 2, "extra": 2}),
}


def converted(key: str, upstream: Any, tmp_path: Any, data_path: str) -> str:
    module, _, _, convert_args, _ = CLASSES[key]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for name, data in upstream[key]().files.items():
        (downloads / name).write_bytes(data)
        manifest.record(str(downloads), name, sha256="0" * 64, verified=True, reason="sha256+size")
    assert fuel_convert.main([module, *convert_args, "-d", str(downloads), "-o", data_path]) == 0
    (path,) = [os.path.join(data_path, f) for f in os.listdir(data_path)]
    return path


def dataset(key: str, which_sets: tuple[str, ...], **kwargs: Any) -> Any:
    module, cls, args, _, _ = CLASSES[key]
    if key == "caltech101_silhouettes":
        kwargs["size"] = 16
    return getattr(importlib.import_module(f"fuel_datasets.{module}"), cls)(*args, which_sets, **kwargs)


@pytest.mark.parametrize("key", sorted(CLASSES))
def test_dataset_class_reads_the_converted_file(key, fuel_datasets_host, upstream, tmp_path, data_path):
    path = converted(key, upstream, tmp_path, data_path)
    counts = CLASSES[key][4]
    with h5py.File(path, "r") as h5file:
        rows = {(r["split"].decode(), r["source"].decode()): (int(r["start"]), int(r["stop"]))
                for r in h5file.attrs["split"] if r["available"]}
        for split, count in counts.items():
            data = dataset(key, (split,))
            assert data.num_examples == count
            values = data.get_data(request=list(range(count)))
            for source, value in zip(data.sources, values):
                start, stop = rows[split, source]
                reference = h5file[source][start:stop]
                if h5file[source].dtype.kind == "O":  # variable length: compare flattened examples
                    assert [numpy.asarray(v).ravel().tolist() for v in value] == [r.tolist() for r in reference]
                else:
                    numpy.testing.assert_array_equal(value, reference, err_msg=f"{key} {split} {source}")


@pytest.mark.parametrize("key", ["mnist", "cifar10", "svhn2", "celeba"])
def test_default_stream_scales_pixels_to_floatx(key, fuel_datasets_host, upstream, tmp_path, data_path):
    import fuel
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    converted(key, upstream, tmp_path, data_path)
    data = dataset(key, ("train",))
    raw = dict(zip(data.sources, data.get_data(request=slice(0, 2))))["features"]
    stream = DataStream.default_stream(data, iteration_scheme=SequentialScheme(data.num_examples, 2))
    batch = next(stream.get_epoch_iterator(as_dict=True))
    assert batch["features"].dtype == numpy.dtype(fuel.config.floatX)
    numpy.testing.assert_allclose(batch["features"], raw / 255.0, rtol=1e-6)


def test_imagenet_default_transformers_decode_jpeg(fuel_datasets_host, upstream, tmp_path, data_path):
    from fuel.schemes import SequentialExampleScheme
    from fuel.streams import DataStream

    converted("ilsvrc2012", upstream, tmp_path, data_path)
    data = dataset("ilsvrc2012", ("valid",), sources=("encoded_images", "targets"))
    stream = DataStream.default_stream(data, iteration_scheme=SequentialExampleScheme(data.num_examples))
    image, target = next(stream.get_epoch_iterator())
    assert image.shape == (3, 4, 5) and image.dtype == numpy.uint8
    assert abs(int(image.mean()) - 30 * (int(target[0]) + 1)) <= 3  # class k images are filled with 30 (k + 1)


def test_missing_file_error_says_how_to_make_it(fuel_datasets_host, data_path):
    from fuel_datasets.cifar10 import CIFAR10

    with pytest.raises(ValueError, match=r"'cifar10.hdf5' not found in fuel.config.data_path.*fuel-download"):
        CIFAR10(("train",))


def test_local_data_path_caches_a_copy(fuel_datasets_host, upstream, tmp_path, data_path):
    import fuel
    from fuel_datasets.iris import Iris

    converted("iris", upstream, tmp_path, data_path)
    cache = tmp_path / "cache"
    with fuel.config.override(local_data_path=str(cache)):
        data = Iris()
        copy = os.path.join(str(cache), os.path.abspath(data_path).lstrip(os.sep), "iris.hdf5")
        assert os.path.isfile(copy) and os.path.abspath(data.path) == copy
        assert data.num_examples == 4
        stamp = os.stat(copy).st_mtime_ns
        assert os.path.abspath(Iris().path) == copy and os.stat(copy).st_mtime_ns == stamp  # reused, not recopied


def test_svhn_rejects_unknown_format(fuel_datasets_host, data_path):
    from fuel_datasets.svhn import SVHN

    with pytest.raises(ValueError, match="which_format must be 1 or 2"):
        SVHN(3, ("train",))
