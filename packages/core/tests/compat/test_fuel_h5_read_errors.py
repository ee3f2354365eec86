"""What libhdf5 raises on a damaged file reaches the user as one error naming the file (issue 17 item 9).

h5py reports a damaged file with ``OSError``, ``KeyError`` ("unable to determine object type"),
``RuntimeError`` or ``UnicodeDecodeError`` and messages that do not name the file. Each boundary where
H5PYDataset calls h5py turns them into :class:`DamagedFileError` (an ``OSError`` and a ``ValueError``) naming
the file; here each boundary is made to fail the way a damaged file makes h5py fail. The fuzz target
(``tests/fuzz/test_fuzz_hdf5.py``) finds the same with real damaged bytes.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from fuel.converters import write_vlen_source
from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset, LayoutError
from fuel.datasets.hdf5_layout import split_rows

SEQUENCES = [np.arange(6, dtype="float32").reshape(3, 2), np.arange(2, dtype="float32").reshape(1, 2),
             np.arange(8, dtype="float32").reshape(4, 2)]


def _vlen_file(path, with_provenance=True):
    with h5py.File(path, "w") as f:
        write_vlen_source(f, "features", SEQUENCES, "float32", ("time", "feature"))
        f["targets"] = np.arange(3)
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 3), "targets": (0, 3)}})
        if with_provenance:
            f.attrs["fuel_convert_command"] = "fuel-convert toy"
    return str(path)


def _failing(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def _assert_names_the_file(caught, path):
    assert str(path) in str(caught.value), str(caught.value)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ValueError)


def test_damaged_file_error_is_an_oserror_and_a_valueerror():
    assert issubclass(DamagedFileError, OSError) and issubclass(DamagedFileError, ValueError)
    assert str(DamagedFileError("a message")) == "a message"


@pytest.mark.parametrize("error", [RuntimeError("Can't check attribute existence"),
                                   KeyError("Unable to synchronously open object (unable to determine object type)"),
                                   OSError("Unable to synchronously open attribute (bad object header)")])
def test_the_split_attribute_check_names_the_file(tmp_path, monkeypatch, error):
    path = _vlen_file(tmp_path / "f.hdf5")
    monkeypatch.setattr(h5py.AttributeManager, "__contains__", _failing(error))
    with pytest.raises(DamagedFileError, match="the root attributes cannot be read") as caught:
        H5PYDataset(path, which_sets=("train",))
    _assert_names_the_file(caught, path)
    with h5py.File(path, "r") as f, pytest.raises(DamagedFileError):
        split_rows(f)


def test_opening_a_source_that_fails_names_the_file(tmp_path, monkeypatch):
    path = _vlen_file(tmp_path / "f.hdf5")
    real_get = h5py.Group.get

    def get(self, name, *args, **kwargs):
        if name == "targets":
            raise KeyError("Unable to synchronously open object (unable to determine object type)")
        return real_get(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "get", get)
    with pytest.raises(DamagedFileError, match="source 'targets' cannot be opened.*unable to determine") as caught:
        H5PYDataset(path, which_sets=("train",))
    _assert_names_the_file(caught, path)


def test_provenance_is_read_when_asked_for_and_a_failure_names_the_file(tmp_path, monkeypatch):
    path = _vlen_file(tmp_path / "f.hdf5")
    dataset = H5PYDataset(path, which_sets=("train",))
    real_getitem = h5py.AttributeManager.__getitem__

    def getitem(self, name):
        if name == "fuel_convert_command":
            raise OSError("Can't synchronously read data (bad global heap collection signature)")
        return real_getitem(self, name)

    monkeypatch.setattr(h5py.AttributeManager, "__getitem__", getitem)
    built = H5PYDataset(path, which_sets=("train",))  # the provenance is not read here
    with pytest.raises(DamagedFileError, match="root attribute 'fuel_convert_command'.*bad global heap") as caught:
        built.provenance
    _assert_names_the_file(caught, path)
    monkeypatch.undo()
    assert dataset.provenance["fuel_convert_command"] == "fuel-convert toy"
    assert dataset.provenance["fuel_convert_version"] is None


def test_reading_and_loading_vlen_sources_never_use_the_dimension_scale_api(tmp_path, monkeypatch):
    path = _vlen_file(tmp_path / "f.hdf5")
    # every use of h5py's dimension-scale API starts at Dataset.dims (it reads the source's DIMENSION_LIST)
    monkeypatch.setattr(h5py.Dataset, "dims", property(_failing(AssertionError("a dimension scale API was used"))))
    dataset = H5PYDataset(path, which_sets=("train",))
    assert dataset.vlen_sources == ("features",)
    for got, want in zip(dataset.get_data(None, [2, 0])[0], [SEQUENCES[2], SEQUENCES[0]]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(dataset.get_data(None, 1)[0], SEQUENCES[1])
    loaded = H5PYDataset(path, which_sets=("train",), load_in_memory=True).get_data(None, slice(0, 3))[0]
    for got, want in zip(loaded, SEQUENCES):
        np.testing.assert_array_equal(got, want)
    with h5py.File(path, "r") as f:
        assert H5PYDataset.get_vlen_sources(f) == ("features",)


def test_vlen_sources_found_from_the_scales_match_the_dimension_scale_api(tmp_path):
    path = tmp_path / "scales.hdf5"
    with h5py.File(path, "w") as f:
        write_vlen_source(f, "features", SEQUENCES, "float32", ("time", "feature"))
        f.create_dataset("strings", (3,), dtype=h5py.string_dtype())  # vlen without a 'shapes' scale
        f.create_dataset("tagged", (3,), dtype=h5py.vlen_dtype(np.dtype("int8")))  # vlen with another scale
        f["tags"] = np.arange(3)
        f["tags"].make_scale("tags")
        f["tagged"].dims[0].attach_scale(f["tags"])
        group = f.create_group("elsewhere")
        write_vlen_source(group, "tokens", SEQUENCES, "float32", ("time", "feature"))
        f["tokens"] = group["tokens"]  # a hard link: the same dataset, its scales in a group
        f["other"] = np.zeros((3, 2))
        f["other_scale"] = np.zeros(3)
        f["other_scale"].make_scale("shapes")
        f["other"].dims[1].attach_scale(f["other_scale"])  # a 'shapes' scale on axis 1 does not count
        f.attrs["split"] = H5PYDataset.create_split_array(
            {"train": {name: (0, 3) for name in ("features", "strings", "tagged", "tokens", "other")}})
    with h5py.File(path, "r") as f:
        by_api = tuple(name for name in ("features", "other", "strings", "tagged", "tokens")
                       if h5py.check_vlen_dtype(f[name].dtype) is not None and "shapes" in f[name].dims[0])
    assert by_api == ("features", "tokens")
    assert H5PYDataset(str(path), which_sets=("train",)).vlen_sources == by_api
    with h5py.File(path, "r") as f:
        assert H5PYDataset.get_vlen_sources(f) == ("features", "tokens")


@pytest.mark.parametrize("damage, error, message", [
    ("class", LayoutError, "has a 'shape_labels' scale but no 'shapes' scale"),
    ("back links", DamagedFileError, "has dimension scales attached .* but no dimension scale of the file lists it"),
])
def test_a_vlen_source_whose_shapes_scale_is_damaged_is_never_read_flat(tmp_path, damage, error, message):
    path = _vlen_file(tmp_path / "f.hdf5")
    with h5py.File(path, "r+") as f:
        if damage == "class":  # what one damaged byte did in a fuzz case (deep mode, seed 8075)
            f["features_shapes"].attrs.modify("CLASS", np.bytes_(b"\xea\r\x07hNSION_SCALE"))
        else:
            for scale in ("features_shapes", "features_shape_labels"):
                del f[scale].attrs["REFERENCE_LIST"]
    dataset = H5PYDataset(path, which_sets=("train",))
    with pytest.raises(error, match=message) as caught:
        dataset.get_data(None, [0, 1])
    assert str(path) in str(caught.value)
    with pytest.raises(error, match=message):
        H5PYDataset(path, which_sets=("train",), load_in_memory=True)


def test_axis_labels_that_fail_name_the_file(tmp_path, monkeypatch):
    path = _vlen_file(tmp_path / "f.hdf5")
    dataset = H5PYDataset(path, which_sets=("train",))
    real_getitem = h5py.AttributeManager.__getitem__

    def getitem(self, name):
        if name == "DIMENSION_LABELS":
            raise OSError("Can't synchronously read data (ran off end of input buffer while decoding)")
        return real_getitem(self, name)

    monkeypatch.setattr(h5py.AttributeManager, "__getitem__", getitem)
    with pytest.raises(DamagedFileError, match=r"axis labels \(attribute DIMENSION_LABELS\) of source 'features'"
                       r" cannot be read \(Can't synchronously read data") as caught:
        dataset.axis_labels
    _assert_names_the_file(caught, path)


def test_axis_labels_match_the_dimension_scale_api(tmp_path):
    path = tmp_path / "labels.hdf5"
    with h5py.File(path, "w") as f:
        write_vlen_source(f, "features", SEQUENCES, "float32", ("time", "feature"))
        f["partly"] = np.zeros((3, 2, 2))
        f["partly"].dims[1].label = "middle"
        f["unlabelled"] = np.zeros((3, 2))
        f["cleared"] = np.zeros(3)
        f["cleared"].dims[0].label = "batch"
        f["cleared"].dims[0].label = ""
        f["unicode"] = np.zeros((3, 1))
        f["unicode"].dims[0].label = "lot"
        f["unicode"].dims[1].label = "größe"
        names = ("features", "partly", "unlabelled", "cleared", "unicode")
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {name: (0, 3) for name in names}})
        expected = {name: tuple(dim.label for dim in f[name].dims) for name in names}
        expected["features"] += tuple(x.decode() for x in f["features"].dims[0]["shape_labels"][()])
    expected = {name: value for name, value in expected.items() if any(value)}
    assert expected == {"features": ("batch", "time", "feature"), "partly": ("", "middle", ""),
                        "unicode": ("lot", "größe")}
    assert H5PYDataset(str(path), which_sets=("train",)).axis_labels == expected
    with h5py.File(path, "r") as f:
        assert H5PYDataset.get_axis_labels(f) == expected


def test_axis_labels_of_the_wrong_length_are_a_layout_error(tmp_path):
    path = tmp_path / "labels.hdf5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros((3, 2))
        f["x"].attrs["DIMENSION_LABELS"] = np.array(["batch", "feature", "extra"], dtype=h5py.string_dtype())
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"x": (0, 3)}})
    with pytest.raises(LayoutError, match="source 'x' has 2 axes but 3 axis labels") as caught:
        H5PYDataset(str(path), which_sets=("train",)).axis_labels
    assert str(path) in str(caught.value)


def test_examples_that_do_not_fit_their_shapes_name_the_file(tmp_path):
    path = _vlen_file(tmp_path / "f.hdf5")
    with h5py.File(path, "r+") as f:
        f["features_shapes"][1] = [2, 2]  # 4 values recorded, 2 stored
    dataset = H5PYDataset(path, which_sets=("train",))
    np.testing.assert_array_equal(dataset.get_data(None, 2)[0], SEQUENCES[2])
    for request in (1, slice(0, 3), [2, 1]):
        with pytest.raises(DamagedFileError, match=r"2 values does not fit its recorded shape \(2, 2\)") as caught:
            dataset.get_data(None, request)
        _assert_names_the_file(caught, path)
    with pytest.raises(DamagedFileError, match="does not fit"):
        H5PYDataset(path, which_sets=("train",), load_in_memory=True)


@pytest.mark.parametrize("shapes, message", [
    (np.array([3, 1, 4], dtype="int32"), r"shape \(3, ndim\).*got shape \(3,\)"),
    (np.array([[3, 2], [1, 2]], dtype="int32"), r"got shape \(2, 2\)"),
    (np.array([[3.0, 2.0], [1.0, 2.0], [4.0, 2.0]]), "integer array"),
    (np.array([[3, 2], [-1, -2], [4, 2]], dtype="int32"), "negative sizes"),
])
def test_a_malformed_shapes_scale_is_a_layout_error(tmp_path, shapes, message):
    path = tmp_path / "f.hdf5"
    with h5py.File(path, "w") as f:
        features = f.create_dataset("features", (3,), dtype=h5py.vlen_dtype(np.dtype("float32")))
        for i, sequence in enumerate(SEQUENCES):
            features[i] = sequence.ravel()
        f["features_shapes"] = shapes
        f["features_shapes"].make_scale("shapes")
        features.dims[0].attach_scale(f["features_shapes"])
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 3)}})
    dataset = H5PYDataset(str(path), which_sets=("train",))
    with pytest.raises(LayoutError, match=message) as caught:
        dataset.get_data(None, [0])
    assert str(path) in str(caught.value)


def test_a_read_error_of_libhdf5_names_the_file_and_stays_an_oserror(tmp_path, monkeypatch):
    path = _vlen_file(tmp_path / "f.hdf5")
    dataset = H5PYDataset(path, which_sets=("train",))
    monkeypatch.setattr(h5py.Dataset, "__getitem__",
                        _failing(OSError("Can't synchronously read data (bad global heap collection signature)")))
    with pytest.raises(OSError, match="source 'features' cannot be read.*bad global heap") as caught:
        dataset.get_data(None, [0, 1])
    _assert_names_the_file(caught, path)
