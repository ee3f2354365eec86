"""Checksummed files (issue 17 item 10): fuel-convert --checksum stores every dataset in Fletcher-32 chunks,
so a damaged chunk is an error naming the file instead of different numbers read back silently."""

from __future__ import annotations

import os
import stat
import types

import h5py
import numpy as np
import pytest

from blocks import hookimpl
from blocks.cli import fuel_convert, fuel_info
from fuel.converters import fill_hdf5_file, set_axis_labels, write_vlen_source
from fuel.converters.checksum import checksum_hdf5, checksum_status, chunk_shape
from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset

RNG = np.random.default_rng(3)
FEATURES = RNG.integers(0, 255, (300, 3, 8, 8), dtype=np.uint8)
TARGETS = RNG.integers(0, 10, (300, 1), dtype=np.uint8)
SEQUENCES = [np.arange(i % 7 + 1, dtype="int32") for i in range(300)]


def _write(path):
    with h5py.File(path, "w") as f:
        fill_hdf5_file(f, [("train", "features", FEATURES[:250]), ("test", "features", FEATURES[250:]),
                           ("train", "targets", TARGETS[:250]), ("test", "targets", TARGETS[250:])])
        set_axis_labels(f, {"features": ("batch", "channel", "height", "width"), "targets": ("batch", "index")})
        write_vlen_source(f, "sequences", SEQUENCES, "int32", ("time",))
        picked = f.create_dataset("picked_indices", data=[7, 3, 200])
        split = H5PYDataset.create_split_array({
            "train": {"features": (0, 250), "targets": (0, 250), "sequences": (0, 250)},
            "test": {"features": (250, 300), "targets": (250, 300), "sequences": (250, 300)},
            "picked": {"features": (-1, -1, picked.ref), "targets": (-1, -1, picked.ref)},
        })
        f.attrs["split"] = split
        f.attrs["fuel_convert_command"] = "fuel-convert toy"


def _everything(path):
    out = {}
    for split in ("train", "test", "picked"):
        dataset = H5PYDataset(path, which_sets=(split,))
        out[split] = (dataset.get_data(None, slice(0, dataset.num_examples)), dataset.axis_labels)
    return out


def test_checksum_keeps_everything_and_checksums_every_fixed_size_dataset(tmp_path):
    path = tmp_path / "toy.hdf5"
    _write(path)
    os.chmod(path, 0o640)
    before = _everything(path)
    checksum_hdf5(path)
    after = _everything(path)
    for split in before:
        (data_before, labels_before), (data_after, labels_after) = before[split], after[split]
        assert labels_before == labels_after
        for old, new in zip(data_before, data_after):
            if old.dtype == object:
                assert all(np.array_equal(a, b) for a, b in zip(old, new))
            else:
                np.testing.assert_array_equal(old, new)
    with h5py.File(path, "r") as f:
        assert f.attrs["fuel_convert_command"] == "fuel-convert toy" and f.attrs["fuel_checksum"] == "fletcher32"
        assert all(f[name].fletcher32 for name in f if name != "sequences")  # vlen data cannot be filtered
        assert checksum_status(f) == (len(f) - 1, len(f))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["toy.hdf5"]  # no temporary left


def _flip_inside_chunk(path, source, chunk=1):
    with h5py.File(path, "r") as f:
        info = f[source].id.get_chunk_info(chunk)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_damaged_chunk_is_an_error_naming_the_file_not_a_different_number(tmp_path):
    plain, checked = tmp_path / "plain.hdf5", tmp_path / "checked.hdf5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=np.arange(40000, dtype="int32").reshape(4000, 10), chunks=(500, 10))
        f.attrs["split"] = H5PYDataset.create_split_array({"all": {"x": (0, 4000)}})
    checked.write_bytes(plain.read_bytes())
    checksum_hdf5(checked)
    for path in (plain, checked):
        _flip_inside_chunk(path, "x")
    wrong = H5PYDataset(plain, which_sets=("all",)).get_data(None, slice(0, 4000))[0]
    assert not np.array_equal(wrong, np.arange(40000).reshape(4000, 10))  # what happens without checksums
    dataset = H5PYDataset(checked, which_sets=("all",))
    np.testing.assert_array_equal(dataset.get_data(None, [0, 1])[0], [np.arange(10), np.arange(10, 20)])
    with pytest.raises(DamagedFileError, match="Fletcher-32 checksum") as caught:
        dataset.get_data(None, slice(0, 4000))
    assert str(checked) in str(caught.value)
    with pytest.raises(DamagedFileError, match="Fletcher-32"):
        H5PYDataset(checked, which_sets=("all",), load_in_memory=True)


def test_files_checksum_hdf5_cannot_copy_faithfully_are_left_untouched(tmp_path):
    path = tmp_path / "linked.hdf5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(4)
        f["alias"] = h5py.SoftLink("/x")
    content = path.read_bytes()
    with pytest.raises(ValueError, match="SoftLink"):
        checksum_hdf5(path)
    assert path.read_bytes() == content and [p.name for p in tmp_path.iterdir()] == ["linked.hdf5"]


def test_chunks_are_whole_examples_of_about_16_kib():
    assert chunk_shape((50000, 3, 32, 32), 1) == (5, 3, 32, 32)
    assert chunk_shape((50000, 3, 32, 32), 1, target=64 << 10) == (21, 3, 32, 32)
    assert chunk_shape((10, 4), 8) == (10, 4)
    assert chunk_shape((0, 5), 4) == (1, 5)


def _fill_convert(subparser):
    def convert(directory, output_directory, output_filename="toy.hdf5"):
        path = os.path.join(output_directory, output_filename)
        _write(path)  # a converter written for Fuel: plain h5py, no output_hdf5
        return (path,)

    return convert


def test_fuel_convert_checksum_and_fuel_info(register_plugin, tmp_path, capsys):
    module = types.ModuleType("checksum_toy")

    @hookimpl
    def register_datasets(register):
        register("toy", "fractions:Fraction", convert=_fill_convert, description="toy")

    module.register_datasets = register_datasets
    register_plugin(module, "checksum_toy")
    assert fuel_convert.main(["toy", "-d", str(tmp_path), "-o", str(tmp_path), "--checksum"]) == 0
    with h5py.File(tmp_path / "toy.hdf5", "r") as f:
        assert f["features"].fletcher32 and f["targets"].fletcher32
    assert fuel_info.main([str(tmp_path / "toy.hdf5")]) == 0
    assert "Checksums: Fletcher-32 per chunk (5 of 6 datasets)" in capsys.readouterr().out
    assert fuel_convert.main(["toy", "-d", str(tmp_path), "-o", str(tmp_path), "-r", "plain.hdf5"]) == 0
    assert fuel_info.main([str(tmp_path / "plain.hdf5")]) == 0
    assert "Checksums: none" in capsys.readouterr().out
    _flip_inside_chunk(tmp_path / "toy.hdf5", "features", chunk=0)
    assert fuel_info.main(["--check", str(tmp_path / "toy.hdf5")]) == 2
    out = capsys.readouterr().out
    assert "Check: DAMAGED" in out and "features" in out


@pytest.mark.parametrize(("chunk_rows", "compression"), [(1, None), (3, "gzip"), (7, None), (64, None)])
def test_scattered_rows_of_chunked_datasets_match_numpy(tmp_path, chunk_rows, compression):
    data = np.random.default_rng(chunk_rows).integers(0, 1000, (200, 5)).astype("int32")
    path = tmp_path / "chunked.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(chunk_rows, 5), compression=compression, fletcher32=True)
        f.attrs["split"] = H5PYDataset.create_split_array({"all": {"x": (0, 200)}, "tail": {"x": (150, 200)}})
    rng = np.random.default_rng(0)
    dataset, tail = H5PYDataset(path, which_sets=("all",)), H5PYDataset(path, which_sets=("tail",))
    for _ in range(30):
        request = rng.integers(0, 200, rng.integers(1, 40))  # unsorted, with repeats
        np.testing.assert_array_equal(dataset.get_data(None, request)[0], data[request])
        np.testing.assert_array_equal(dataset.get_data(None, np.sort(request))[0], data[np.sort(request)])
        within = rng.integers(0, 50, 10)
        np.testing.assert_array_equal(tail.get_data(None, within)[0], data[150:][within])
