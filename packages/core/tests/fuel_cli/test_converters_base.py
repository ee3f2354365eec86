"""fuel.converters.base against raw h5py and H5PYDataset: layout, provenance, atomic output."""

from __future__ import annotations

import os

import h5py
import numpy
import pytest

from fuel.converters import (
    MissingInputFiles,
    check_exists,
    fill_hdf5_file,
    output_hdf5,
    set_axis_labels,
    using_command,
    write_vlen_source,
)
from fuel.datasets import H5PYDataset
from fuel.downloaders import manifest


def test_fill_hdf5_file_matches_a_raw_h5py_layout(tmp_path):
    rng = numpy.random.default_rng(0)
    train_x, test_x = rng.random((5, 3)), rng.random((2, 3))
    train_y, test_y = numpy.arange(5)[:, None], numpy.arange(2)[:, None]
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as h5file:
        fill_hdf5_file(h5file, [("train", "x", train_x), ("test", "x", test_x, "held out"),
                                ("train", "y", train_y), ("test", "y", test_y)])
    reference = H5PYDataset.create_split_array({"train": {"x": (0, 5), "y": (0, 5)},
                                                "test": {"x": (5, 7, None, "held out"), "y": (5, 7)}})
    with h5py.File(path, "r") as h5file:
        numpy.testing.assert_array_equal(h5file["x"][()], numpy.concatenate([train_x, test_x]))
        numpy.testing.assert_array_equal(h5file["y"][()], numpy.concatenate([train_y, test_y]))
        split = h5file.attrs["split"]
        for field in ("split", "source", "start", "stop", "available", "comment"):
            assert sorted(split[field].tolist()) == sorted(reference[field].tolist()), field
    dataset = H5PYDataset(str(path), ("test",), load_in_memory=True)
    numpy.testing.assert_array_equal(dataset.get_data(request=slice(0, 2))[0], test_x)


def test_fill_hdf5_file_rejects_inconsistent_data(tmp_path):
    with h5py.File(tmp_path / "a.hdf5", "w") as h5file:
        with pytest.raises(ValueError, match="split 'train' has sources that vary in length"):
            fill_hdf5_file(h5file, [("train", "x", numpy.zeros(3)), ("train", "y", numpy.zeros(2))])
    with h5py.File(tmp_path / "b.hdf5", "w") as h5file:
        with pytest.raises(ValueError, match="source 'x' has splits that vary in dtype"):
            fill_hdf5_file(h5file, [("train", "x", numpy.zeros(3)), ("test", "x", numpy.zeros(2, "int32"))])
    with h5py.File(tmp_path / "c.hdf5", "w") as h5file:
        with pytest.raises(ValueError, match="source 'x' has splits that vary in shapes"):
            fill_hdf5_file(h5file, [("train", "x", numpy.zeros((3, 2))), ("test", "x", numpy.zeros((2, 3)))])


def test_axis_labels_and_vlen_sources_are_read_by_h5pydataset(tmp_path):
    images = [numpy.full((3, h, w), h * w, numpy.uint8) for h, w in ((2, 3), (4, 1), (1, 1))]
    path = tmp_path / "v.hdf5"
    with h5py.File(path, "w") as h5file:
        write_vlen_source(h5file, "images", images, numpy.uint8, ("channel", "height", "width"))
        h5file.create_dataset("targets", data=numpy.arange(3)[:, None])
        set_axis_labels(h5file, {"targets": ("batch", "index")})
        h5file.attrs["split"] = H5PYDataset.create_split_array({"all": {"images": (0, 3), "targets": (0, 3)}})
        with pytest.raises(ValueError, match="has 2 axes, got 1 labels"):
            set_axis_labels(h5file, {"targets": ("batch",)})
    dataset = H5PYDataset(str(path), ("all",))
    assert dataset.axis_labels["images"] == ("batch", "channel", "height", "width")
    assert dataset.axis_labels["targets"] == ("batch", "index")
    got, _ = dataset.get_data(request=[0, 1, 2])
    for value, image in zip(got, images):
        numpy.testing.assert_array_equal(value, image)


def test_output_hdf5_writes_provenance_and_renames(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.gz").write_bytes(b"a")
    manifest.record(str(tmp_path / "in"), "a.gz", sha256="0" * 64, verified=True, reason="sha256+size")
    path = str(tmp_path / "out.hdf5")
    with using_command("fuel-convert demo -d in"):
        with output_hdf5(path, directory=str(tmp_path / "in"), inputs=["a.gz"]) as h5file:
            h5file.create_dataset("x", data=[1])
            assert not os.path.exists(path)
    with h5py.File(path, "r") as h5file:
        assert dict(h5file.attrs) == {
            "h5py_interface_version": "0.3", "fuel_convert_version": "0.2",
            "fuel_convert_command": "fuel-convert demo -d in", "fuel_inputs_verified": True,
            "fuel_inputs_unverified": ".",
        }


def test_failed_conversion_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.hdf5"
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with output_hdf5(str(path)) as h5file:
            h5file.create_dataset("x", data=[1])
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["out.hdf5"]


def test_output_directory_must_exist(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        with output_hdf5(str(tmp_path / "nowhere" / "x.hdf5")):
            pass


def test_unrecorded_inputs_are_unverified(tmp_path):
    path = str(tmp_path / "o.hdf5")
    with output_hdf5(path, directory=str(tmp_path), inputs=["hand.tar"]):
        pass
    with h5py.File(path, "r") as h5file:
        assert not h5file.attrs["fuel_inputs_verified"]
        assert h5file.attrs["fuel_inputs_unverified"] == "hand.tar: not checked by fuel-download"


def test_check_exists_positional_and_keyword(tmp_path):
    @check_exists(required_files=["a", "b"])
    def convert(directory, output_directory):
        return "ran"

    (tmp_path / "a").write_text("")
    with pytest.raises(MissingInputFiles, match="missing from .*: b; did you forget to run fuel-download") as err:
        convert(str(tmp_path), "out")
    assert err.value.filenames == ["b"]
    (tmp_path / "b").write_text("")
    assert convert(directory=str(tmp_path), output_directory="out") == "ran"
