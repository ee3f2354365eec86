"""Every converter on tiny files in the real upstream formats (checked with raw h5py), and the provenance it writes."""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy
import pytest

from blocks.cli import fuel_convert, fuel_info
from fuel.downloaders import manifest

# key -> (registry name, convert arguments, output file)
CONVERTIBLE = {
    "adult": ("adult", [], "adult.hdf5"),
    "binarized_mnist": ("binarized_mnist", [], "binarized_mnist.hdf5"),
    "caltech101_silhouettes": ("caltech101_silhouettes", ["16"], "caltech101_silhouettes16.hdf5"),
    "celeba": ("celeba", ["64"], "celeba_64.hdf5"),
    "cifar10": ("cifar10", [], "cifar10.hdf5"),
    "cifar100": ("cifar100", [], "cifar100.hdf5"),
    "dogs_vs_cats": ("dogs_vs_cats", [], "dogs_vs_cats.hdf5"),
    "ilsvrc2010": ("ilsvrc2010", [], "ilsvrc2010.hdf5"),
    "ilsvrc2012": ("ilsvrc2012", [], "ilsvrc2012.hdf5"),
    "iris": ("iris", [], "iris.hdf5"),
    "mnist": ("mnist", [], "mnist.hdf5"),
    "svhn1": ("svhn", ["1"], "svhn_format_1.hdf5"),
    "svhn2": ("svhn", ["2"], "svhn_format_2.hdf5"),
}


def place(files: dict[str, bytes], directory: Any, verified: bool = True) -> None:
    """Put upstream files in ``directory`` as fuel-download leaves them (with its record)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
        manifest.record(str(directory), name, sha256="0" * 64, verified=verified,
                        reason="sha256+size" if verified else "--no-verify")


def convert(key: str, tmp_path: Any, upstream: Any, verified: bool = True) -> tuple[str, Any]:
    name, args, output = CONVERTIBLE[key]
    generated = upstream[key]()
    place(generated.files, tmp_path / "downloads", verified)
    out = tmp_path / "data"
    out.mkdir(exist_ok=True)
    argv = [name, *args, "-d", str(tmp_path / "downloads"), "-o", str(out)]
    assert fuel_convert.main(argv) == 0
    path = str(out / output)
    assert os.listdir(out) == [output], "only the converted file remains (no temporary file)"
    return path, generated.expected


def split_rows(h5file: h5py.File) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r["split"].decode(), r["source"].decode()): (int(r["start"]), int(r["stop"]))
            for r in h5file.attrs["split"] if r["available"]}


def read_split(h5file: h5py.File, source: str, split: str) -> numpy.ndarray:
    start, stop = split_rows(h5file)[split, source]
    return h5file[source][start:stop]


def check_arrays(path: str, expected: dict[str, dict[str, numpy.ndarray]]) -> None:
    with h5py.File(path, "r") as h5file:
        for source, splits in expected.items():
            for split, array in splits.items():
                numpy.testing.assert_array_equal(read_split(h5file, source, split), array, err_msg=f"{source}/{split}")


@pytest.mark.parametrize("key", sorted(CONVERTIBLE))
def test_converter_writes_fuel_layout_with_provenance(key, fuel_datasets_host, upstream, tmp_path):
    path, expected = convert(key, tmp_path, upstream)
    name, args, _ = CONVERTIBLE[key]
    with h5py.File(path, "r") as h5file:
        assert h5file.attrs["h5py_interface_version"] == "0.3"
        assert h5file.attrs["fuel_convert_version"] == "0.2"
        assert h5file.attrs["fuel_convert_command"].startswith(f"fuel-convert {name} {' '.join(args)}".strip())
        assert bool(h5file.attrs["fuel_inputs_verified"]) is True
        rows = split_rows(h5file)
        for (split, source), (start, stop) in rows.items():
            assert 0 <= start <= stop <= len(h5file[source]), (split, source)
        assert "batch" == h5file[next(iter(h5file.attrs["split"]))["source"].decode()].dims[0].label


def test_mnist_cifar_svhn2_iris_binarized_arrays(fuel_datasets_host, upstream, tmp_path):
    for key in ("mnist", "cifar10", "cifar100", "svhn2", "iris", "binarized_mnist", "caltech101_silhouettes"):
        path, expected = convert(key, tmp_path / key, upstream)
        check_arrays(path, expected)
        with h5py.File(path, "r") as h5file:
            if "features" in h5file and h5file["features"].ndim == 4:
                assert [d.label for d in h5file["features"].dims] == ["batch", "channel", "height", "width"]


def test_svhn_format_1_variable_length_sources(fuel_datasets_host, upstream, tmp_path):
    path, expected = convert("svhn1", tmp_path, upstream)
    with h5py.File(path, "r") as h5file:
        for split, images in expected["features"].items():
            start, stop = split_rows(h5file)[split, "features"]
            shapes = h5file["features"].dims[0]["shapes"][start:stop]
            for flat, shape, image in zip(h5file["features"][start:stop], shapes, images):
                numpy.testing.assert_array_equal(flat.reshape(shape), image)
            for source in ("bbox_labels", "bbox_lefts", "bbox_tops"):
                box_shapes = h5file[source].dims[0]["shapes"][start:stop]
                for got, shape, want in zip(h5file[source][start:stop], box_shapes, expected[source][split]):
                    assert got.dtype == want.dtype
                    numpy.testing.assert_array_equal(got.reshape(shape), want)
        labels = [label.decode() for label in h5file["features"].dims[0]["shape_labels"][()]]
        assert labels == ["channel", "height", "width"]
        labels = [label.decode() for label in h5file["bbox_lefts"].dims[0]["shape_labels"][()]]
        assert labels == ["bounding_box", "x"]


def test_adult_one_hot_and_targets(fuel_datasets_host, upstream, tmp_path):
    path, expected = convert("adult", tmp_path, upstream)
    check_arrays(path, expected)
    with h5py.File(path, "r") as h5file:
        names = [n.decode() for n in h5file["features"].attrs["feature_names"]]
        train = read_split(h5file, "features", "train")
        test = read_split(h5file, "features", "test")
    assert names[:6] == ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    assert train[:, 0].tolist() == [39, 50, 38] and test[1, names.index("capital-gain")] == 7688
    assert train[2, names.index("workclass=?")] == 1
    assert test[1, 6:].sum() == 6  # its occupation and country (Peru) are not in the training file: all-zero blocks
    categorical = train[:, 6:]
    assert categorical.sum(axis=1).tolist() == [8, 8, 8]


def test_celeba_splits_and_attributes(fuel_datasets_host, upstream, tmp_path):
    path, expected = convert("celeba", tmp_path, upstream)
    check_arrays(path, {"targets": expected["targets"]})
    with h5py.File(path, "r") as h5file:
        assert h5file["features"].shape == (5, 3, 64, 64)
        assert len(h5file["targets"].attrs["attribute_names"]) == 40


def test_dogs_vs_cats_skips_undecodable_images(fuel_datasets_host, upstream, tmp_path):
    path, expected = convert("dogs_vs_cats", tmp_path, upstream)
    with h5py.File(path, "r") as h5file:
        assert h5file.attrs["skipped_images"] == expected["skipped"]
        rows = split_rows(h5file)
        assert rows["train", "targets"][1] == rows["test", "targets"][0]
        assert rows["test", "targets"][1] == expected["count"] == len(h5file["targets"])
        shapes = h5file["image_features"].dims[0]["shapes"][()]
        targets = h5file["targets"][:, 0]
        # cats are 9 wide, dogs 10 wide in the generated archive
        assert [int(s[2]) for s in shapes] == [9 + int(t) for t in targets]


@pytest.mark.parametrize("year", [2010, 2012])
def test_imagenet_stores_jpeg_bytes_with_labels(year, fuel_datasets_host, upstream, tmp_path):
    key = f"ilsvrc{year}"
    path, expected = convert(key, tmp_path, upstream)
    with h5py.File(path, "r") as h5file:
        for split, labels in expected["targets"].items():
            start, stop = split_rows(h5file)[split, "targets"]
            names = [n.decode() for n in h5file["filenames"][start:stop, 0]]
            got = dict(zip(names, h5file["targets"][start:stop, 0].tolist()))
            if split == "valid":
                assert [got[n] for n in sorted(got)] == [0, 1, 0]  # numbers 1, 2, 3 -> ground truth 1, 2, 1
            else:
                assert sorted(got.values()) == sorted(labels)
        first = bytes(h5file["encoded_images"][split_rows(h5file)["valid", "encoded_images"][0]])
        assert first[:2] == b"\xff\xd8"  # JPEG bytes, not decoded


def test_interrupted_conversion_leaves_no_file(fuel_datasets_host, upstream, tmp_path, monkeypatch):
    import fuel_datasets.mnist as mnist

    place(upstream["mnist"]().files, tmp_path / "downloads")
    (tmp_path / "data").mkdir()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist, "set_axis_labels", broken)
    assert fuel_convert.main(["mnist", "-d", str(tmp_path / "downloads"), "-o", str(tmp_path / "data")]) == 130
    assert os.listdir(tmp_path / "data") == []


def test_missing_inputs_say_run_fuel_download(fuel_datasets_host, tmp_path, capsys):
    assert fuel_convert.main(["cifar10", "-d", str(tmp_path), "-o", str(tmp_path)]) == 2
    assert "did you forget to run fuel-download" in capsys.readouterr().err


def test_unverified_inputs_are_recorded_and_shown_by_fuel_info(fuel_datasets_host, upstream, tmp_path, capsys):
    path, _ = convert("iris", tmp_path, upstream, verified=False)
    with h5py.File(path, "r") as h5file:
        assert bool(h5file.attrs["fuel_inputs_verified"]) is False
        assert "--no-verify" in h5file.attrs["fuel_inputs_unverified"]
    capsys.readouterr()
    assert fuel_info.main([path]) == 0
    out = capsys.readouterr().out
    assert "Inputs verified: NO" in out and "Command: fuel-convert iris" in out and "all: features[4]" in out


def test_output_filename_gets_hdf5_suffix(fuel_datasets_host, upstream, tmp_path):
    place(upstream["iris"]().files, tmp_path / "downloads")
    out = tmp_path / "data"
    out.mkdir()
    assert fuel_convert.main(["iris", "-d", str(tmp_path / "downloads"), "-o", str(out), "-r", "flowers"]) == 0
    assert os.listdir(out) == ["flowers.hdf5"]


def test_digits_end_to_end_offline(fuel_datasets_host, tmp_path, data_path):
    from blocks.cli import fuel_download
    from fuel_datasets.digits import Digits, read_digits, sklearn_digits_path

    assert fuel_download.main(["digits", "-d", str(tmp_path)]) == 0
    assert fuel_convert.main(["digits", "-d", str(tmp_path), "-o", data_path]) == 0
    features, targets = read_digits(sklearn_digits_path())
    train, test = Digits(("train",)), Digits(("test",))
    assert (train.num_examples, test.num_examples) == (1437, 360)
    x_train, y_train = train.get_data(request=slice(0, train.num_examples))
    x_test, y_test = test.get_data(request=slice(0, test.num_examples))
    both = numpy.concatenate([x_train, x_test]).reshape(len(features), -1)
    # the split is a permutation of scikit-learn's data: same rows, same labels
    order = numpy.lexsort(both.T)
    reference = numpy.lexsort(features.reshape(len(features), -1).T)
    numpy.testing.assert_array_equal(both[order], features.reshape(len(features), -1)[reference])
    numpy.testing.assert_array_equal(numpy.concatenate([y_train, y_test])[order], targets[reference])


def test_one_billion_word_extracts_text_atomically_and_reads_with_textfile(fuel_datasets_host, upstream, tmp_path,
                                                                          data_path):
    from fuel_datasets.one_billion_word import OneBillionWord, partition_path

    place(upstream["one_billion_word"]().files, tmp_path / "downloads")
    assert fuel_convert.main(["one_billion_word", "-d", str(tmp_path / "downloads"), "-o", data_path]) == 0
    assert os.listdir(data_path) == ["1-billion-word"]
    heldout = os.path.join(data_path, partition_path("heldout", 0))
    assert open(heldout).read() == "the dog sat .\n"
    vocabulary = {"<S>": 0, "</S>": 1, "<UNK>": 2, "the": 3, "dog": 4, "cat": 5, "sat": 6, ".": 7}
    data = OneBillionWord("training", [1], vocabulary)
    state = data.open()
    assert data.get_data(state) == ([0, 3, 5, 6, 7, 1],)
    assert data.get_data(state) == ([0, 2, 4, 2, 7, 1],)
    data.close(state)
    # -r names the output folder (no .hdf5 suffix for a folder)
    argv = ["one_billion_word", "-d", str(tmp_path / "downloads"), "-o", data_path, "-r", "lm1b"]
    assert fuel_convert.main(argv) == 0
    assert sorted(os.listdir(data_path)) == ["1-billion-word", "lm1b"]
    with pytest.raises(ValueError, match="training partitions are 1..99"):
        OneBillionWord("training", [0], vocabulary)
    with pytest.raises(ValueError, match="which_set must be 'training' or 'heldout'"):
        OneBillionWord("test", [1], vocabulary)


@pytest.mark.parametrize("dtype", ["bool", "float32", "float64"])
def test_mnist_dtype_option(dtype, fuel_datasets_host, upstream, tmp_path):
    generated = upstream["mnist"]()
    place(generated.files, tmp_path / "downloads")
    (tmp_path / "data").mkdir()
    argv = ["mnist", "-d", str(tmp_path / "downloads"), "-o", str(tmp_path / "data"), "--dtype", dtype]
    assert fuel_convert.main(argv) == 0
    with h5py.File(tmp_path / "data" / "mnist.hdf5", "r") as h5file:
        features = read_split(h5file, "features", "train")
    raw = generated.expected["features"]["train"]
    assert features.dtype == numpy.dtype(dtype)
    reference = raw >= 128 if dtype == "bool" else raw / numpy.array(255, dtype)
    numpy.testing.assert_array_equal(features, reference.astype(dtype))


@pytest.mark.parametrize(
    ("key", "victim", "damage"),
    [
        ("mnist", "train-images-idx3-ubyte.gz", lambda data: data[: len(data) // 2]),  # truncated gzip: EOFError
        ("mnist", "t10k-labels-idx1-ubyte.gz", lambda data: b"<html>quota exceeded</html>"),  # BadGzipFile
        ("cifar10", "cifar-10-binary.tar.gz", lambda data: data[: len(data) // 3]),  # cut tar.gz
    ],
)
def test_a_damaged_input_is_named_with_its_download_record(
    key, victim, damage, fuel_datasets_host, upstream, tmp_path, capsys
):
    """Before: a raw BadGzipFile/EOFError traceback that named no file."""
    name, args, _ = CONVERTIBLE[key]
    files = dict(upstream[key]().files)
    files[victim] = damage(files[victim])
    place(files, tmp_path / "downloads", verified=False)
    (tmp_path / "data").mkdir()
    status = fuel_convert.main([name, *args, "-d", str(tmp_path / "downloads"), "-o", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert status != 0 and "Traceback" not in err
    assert f"{tmp_path / 'downloads' / victim} is damaged or truncated" in err
    assert "it was not verified when downloaded (--no-verify)" in err and "run fuel-download again" in err
    assert os.listdir(tmp_path / "data") == [], "nothing half-written"
