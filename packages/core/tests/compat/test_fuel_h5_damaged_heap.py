"""A damaged global heap (issue 17 item 9): libhdf5 loops forever on it; we stop before it does, or report it.

Variable-length data and variable-length string attributes live in HDF5's global heap. libhdf5 parses a heap
collection by walking its list of objects, and one whose free-space object has size 0 makes that walk loop
forever (100 % CPU in ``H5HG__cache_heap_deserialize``; plain h5py hangs the same way on
``f["features"][0]`` or on ``f.attrs["fuel_convert_command"]``). The deep fuzzer found it with a zeroed span;
:func:`_zero_free_space` makes the same damage deterministically: the size of the free-space object of the
file's first collection set to 0.

Every case that could hang runs in a forked child that is killed after ``BOUND`` seconds (a hang is then a
failure, not a stuck test run).
"""

from __future__ import annotations

import os
import select
import signal
import struct

import h5py
import numpy as np
import pytest

from blocks.cli import fuel_info
from fuel.converters import write_vlen_source
from fuel.datasets.hdf5 import DamagedFileError, H5PYDataset
from fuel.datasets.hdf5_check import check_file
from fuel.datasets.hdf5_heap import HeapCheck

BOUND = 60.0  # seconds a child may take before it counts as hung (it needs well under one)

SEQUENCES = [np.random.default_rng(0).standard_normal((n, 2)).astype("float32") for n in (3, 1, 4, 2, 5)]


def _zero_free_space(data: bytes) -> bytes:
    """``data`` with the size of the free-space object (index 0) of its first heap collection set to 0."""
    position = data.index(b"GCOL") + 16  # signature, version, 3 reserved bytes, the collection's size
    while True:
        (index,) = struct.unpack_from("<H", data, position)
        (size,) = struct.unpack_from("<Q", data, position + 8)
        if index == 0:
            break
        position += 16 + (size + 7) // 8 * 8
    out = bytearray(data)
    out[position + 8 : position + 16] = bytes(8)
    return bytes(out)


def _write_vlen(path, sequences=SEQUENCES):
    with h5py.File(path, "w") as f:
        write_vlen_source(f, "features", sequences, "float32", ("time", "feature"))
        f["targets"] = np.arange(len(sequences))
        n = len(sequences)
        f.attrs["split"] = H5PYDataset.create_split_array(
            {"train": {"features": (0, n - 1), "targets": (0, n - 1)}, "test": {"features": (n - 1, n),
                                                                                "targets": (n - 1, n)}})


def _write_plain_with_provenance(path):
    with h5py.File(path, "w") as f:
        f["features"] = np.arange(10, dtype="float32").reshape(5, 2)
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, 5)}})
        f.attrs["fuel_convert_command"] = "fuel-convert toy"  # a str: a variable-length string in the global heap


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heap")
    made = {}
    for name, write in (("vlen", _write_vlen), ("plain", _write_plain_with_provenance)):
        good = folder / f"{name}.hdf5"
        write(good)
        bad = folder / f"{name}-looping-heap.hdf5"
        bad.write_bytes(_zero_free_space(good.read_bytes()))
        made[name] = (good, bad)
    return made


def _bounded(work, seconds=BOUND):
    """Run ``work()`` in a forked child: ``"ok: <result>"``, ``"<ErrorType>: <message>"``, or ``"hang"``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            text = f"ok: {work()}"
        except Exception as err:  # noqa: BLE001 - the outcome is reported to the parent
            text = f"{type(err).__name__}: {err}"
        os.write(write_end, text.encode("utf-8", "replace")[:4000])
        os._exit(0)
    os.close(write_end)
    try:
        if not select.select([read_end], [], [], seconds)[0]:
            os.kill(pid, signal.SIGKILL)
            return "hang"
        return os.read(read_end, 8192).decode("utf-8", "replace")
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


def test_the_damaged_files_make_plain_h5py_loop(files):
    good, bad = files["vlen"]
    differing = [i for i, (a, b) in enumerate(zip(good.read_bytes(), bad.read_bytes())) if a != b]
    assert good.stat().st_size == bad.stat().st_size and 1 <= len(differing) <= 8

    def plain_h5py():
        with h5py.File(bad, "r") as f:
            return f["features"][0]

    # the premise: libhdf5 itself never returns from this read (a fixed libhdf5 would raise an OSError instead)
    outcome = _bounded(plain_h5py, seconds=2)
    assert outcome == "hang" or outcome.startswith("OSError"), outcome


def test_reading_vlen_data_from_a_looping_heap_is_an_error_naming_the_file(files):
    _, bad = files["vlen"]

    def out_of_core():
        dataset = H5PYDataset(str(bad), which_sets=("train",))
        assert dataset.num_examples == 4 and dataset.vlen_sources == ("features",)
        return dataset.get_data(None, slice(0, 4))

    for work in (out_of_core, lambda: H5PYDataset(str(bad), which_sets=("train",), load_in_memory=True)):
        outcome = _bounded(work)
        assert outcome.startswith("DamagedFileError:"), outcome
        assert str(bad) in outcome and "global heap collection" in outcome and "has size 0" in outcome


def test_opening_and_listing_a_file_with_a_looping_heap_never_reads_the_heap(files):
    _, vlen_bad = files["vlen"]
    _, plain_bad = files["plain"]

    def listing():
        with h5py.File(vlen_bad, "r") as f:
            return (H5PYDataset.get_all_splits(f), H5PYDataset.get_all_sources(f),
                    H5PYDataset.get_provided_sources(f, ("train",)), H5PYDataset.get_vlen_sources(f))

    assert _bounded(listing) == "ok: (('train', 'test'), ('features', 'targets'), ('features', 'targets'), " \
                                "('features',))"

    def plain():  # the provenance (a variable-length string) is read only when asked for
        dataset = H5PYDataset(str(plain_bad), which_sets=("train",))
        return dataset.get_data(None, [4, 0])[0].tolist()

    assert _bounded(plain) == "ok: [[8.0, 9.0], [0.0, 1.0]]"


def test_fuel_info_check_reports_a_looping_heap_in_bounded_time(files, capsys):
    _, vlen_bad = files["vlen"]
    _, plain_bad = files["plain"]
    report = check_file(str(vlen_bad), stall_timeout=BOUND)  # the heap is checked before libhdf5 reads it
    assert not report.ok and not report.crashed and "has size 0" in report.problem
    # a variable-length string attribute in a looping heap cannot be checked first: the stall detection stops it
    assert fuel_info.main(["--check", "--stall-timeout", "4", str(plain_bad)]) == 2
    out = capsys.readouterr().out
    assert "Check: DAMAGED" in out and "no progress for 4 s" in out and "root attributes" in out
    assert str(plain_bad) in out


def test_the_stall_timeout_defaults_to_seconds_not_minutes(capsys):
    import inspect

    assert inspect.signature(check_file).parameters["stall_timeout"].default == 20
    with pytest.raises(SystemExit):
        fuel_info.main(["--help"])
    assert "default 20)" in " ".join(capsys.readouterr().out.split())


def test_the_heap_check_accepts_sound_files_and_reads_what_h5py_reads(tmp_path):
    rng = np.random.default_rng(1)
    # small rows share collections, rows over 64 KiB get one each: many collections, objects of every size
    lengths = ([int(n) for n in rng.integers(1, 40, 60)] + [int(n) for n in rng.integers(1000, 2000, 8)]
               + [int(n) for n in rng.integers(17000, 20000, 4)])
    sequences = [rng.standard_normal((n, 1)).astype("float32") for n in rng.permutation(lengths)]
    path = tmp_path / "many.hdf5"
    _write_vlen(path, sequences)
    dataset = H5PYDataset(str(path), which_sets=("train",))
    order = rng.permutation(dataset.num_examples)
    got = [x for batch in np.array_split(order, 9) for x in dataset.get_data(None, batch)[0]]
    for x, i in zip(got, [int(i) for batch in np.array_split(order, 9) for i in batch]):
        np.testing.assert_array_equal(x, sequences[i])
    heap = dataset._readers[0].heap
    assert heap is not None and len(heap.collections) >= 6
    with h5py.File(path, "r") as f:
        raw = f["features"][()]
    memory = H5PYDataset(str(path), which_sets=("train", "test"), load_in_memory=True).get_data(None, slice(0, 72))[0]
    for x, flat in zip(memory, raw):
        np.testing.assert_array_equal(x.ravel(), flat)


@pytest.mark.parametrize("field, value, message", [
    ("length", 2**32 - 1, "points to an object of"),  # libhdf5 would first allocate 16 GiB for the row
    ("length", 7, "points to an object of"),
    ("index", 300, "has no such object"),
    ("address", 2**40, "past the end of the file"),
    ("address", 2**64 - 1, "past the end of the file"),
])
def test_the_heap_check_refuses_rows_pointing_at_wrong_objects(tmp_path, field, value, message):
    path = tmp_path / "rows.hdf5"
    _write_vlen(path)
    with h5py.File(path, "r") as f:
        offset = f["features"].id.get_offset()
    data = bytearray(path.read_bytes())
    at, form = {"length": (0, "<I"), "address": (4, "<Q"), "index": (12, "<I")}[field]
    struct.pack_into(form, data, offset + 16 * 2 + at, value)  # row 2: length, collection address, object index
    path.write_bytes(bytes(data))
    dataset = H5PYDataset(str(path), which_sets=("train",))
    np.testing.assert_array_equal(dataset.get_data(None, 1)[0], SEQUENCES[1])
    with pytest.raises(DamagedFileError, match=message) as caught:
        dataset.get_data(None, slice(0, 4))
    assert str(path) in str(caught.value) and "source 'features'" in str(caught.value)


def test_the_heap_check_is_skipped_where_it_cannot_read_descriptors(tmp_path):
    path = tmp_path / "chunked.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", (3,), dtype=h5py.vlen_dtype(np.dtype("int16")), chunks=(2,))
        f["y"] = np.arange(3)
    with h5py.File(path, "r") as f:
        assert HeapCheck.of(f["x"], "x") is None  # descriptors inside chunks (maybe compressed): libhdf5 reads them
        assert HeapCheck.of(f["y"], "y") is None  # not variable-length
