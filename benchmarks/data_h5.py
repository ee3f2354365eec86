"""Fuel data-loading figures on a CIFAR-10-shaped HDF5 file.

Every figure is measured against a baseline in the same run, interleaved
(baseline, candidate, baseline, candidate, ...), over >= 15 paired repeats;
the median and the range of the paired ratios are printed.

1. Shuffled out-of-core epoch of a contiguous file (H5PYDataset, rows read
   with pread into private buffers, no file mapping) vs in-memory numpy fancy
   indexing of the same requests, throughput ratio (target >= 0.9): with
   sorted indices in each batch (ShuffledScheme(sorted_indices=True)) and
   with a true random permutation (indices in random order in each batch);
   and the same random order read through the opt-in file mapping
   (``H5PYDataset(memory_map=True)``). 1b: the pread reader on rows of
   12 KiB and 48 KiB (3 x 64 x 64 and 3 x 128 x 128 uint8), random order. 1c: what bounds
   figure 1: ``H5PYDataset(load_in_memory=True)`` vs numpy (the dataset's own cost per
   batch) and a bare loop of one ``preadv`` per row, features only (the floor of any
   reader making one system call per scattered row); no targets.
2. Sequential out-of-core epoch vs raw h5py slice reads (target >= 0.9).
3. Overhead per batch of each one-to-one transformer (and of a transformer
   written for Fuel, overriding ``get_data``), measured as the extra
   time of a stream with the transformer over the same stream without it
   (each repeat: fastest of 7 interleaved epochs of each; tiny batches of 8
   examples so the transformer's own arithmetic is negligible; target <= 20 us).
4. Background loading (MultiProcessing) of a 5 ms/batch reader under a
   5 ms/batch consumer vs the serial loop (speed-up, target >= 1.8x). The
   reader and consumer sleep, i.e. simulate I/O-bound work.
5. Checksummed files (``fuel-convert --checksum``: Fletcher-32 chunks, read
   through h5py) vs the same data contiguous (read with pread), shuffled and
   sequential epochs, and vs the same chunks without checksums (the cost of
   Fletcher-32 alone). Throughput ratios; no target (the price of detection).
6. A variable-length source (sequences of 5 to 60 steps of 3 floats, Fuel's
   layout with a ``shapes`` scale): shuffled epoch of H5PYDataset (which
   checks the global heap behind the rows before libhdf5 reads them, and each
   example's size against its shape) vs raw h5py reads of the same sorted
   requests reshaped with the ``shapes`` array read once (target >= 0.8).

Usage::

    python benchmarks/data_h5.py            # full run (50 000 x 3 x 32 x 32 uint8, batch 128)
    python benchmarks/data_h5.py --quick    # smoke run for CI (seconds)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import h5py
import numpy as np

from fuel.datasets import H5PYDataset, IndexableDataset
from fuel.iterator import DataIterator
from fuel.schemes import SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import (
    Cast,
    Filter,
    FilterSources,
    Flatten,
    ForceFloatX,
    Mapping,
    MultiProcessing,
    RandomFixedSizeCrop,
    Rename,
    ScaleAndShift,
    Transformer,
)


def make_file(path: str, num_examples: int) -> None:
    """A CIFAR-10-shaped file in Fuel's layout (contiguous, uncompressed, like fuel-convert wrote it)."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        features = f.create_dataset("features", (num_examples, 3, 32, 32), dtype="uint8")
        step = 5000
        for start in range(0, num_examples, step):
            stop = min(start + step, num_examples)
            features[start:stop] = rng.integers(0, 256, size=(stop - start, 3, 32, 32), dtype=np.uint8)
        f.create_dataset("targets", data=rng.integers(0, 10, size=(num_examples, 1), dtype=np.uint8))
        for i, label in enumerate(("batch", "channel", "height", "width")):
            f["features"].dims[i].label = label
        f["targets"].dims[0].label = "batch"
        f["targets"].dims[1].label = "index"
        f.attrs["split"] = H5PYDataset.create_split_array(
            {"train": {"features": (0, num_examples), "targets": (0, num_examples)}}
        )


def paired(baseline: Callable[[], object], candidate: Callable[[], object], repeats: int) -> list[tuple[float, float]]:
    """Interleaved timings ``(baseline_s, candidate_s)``."""
    baseline(), candidate()  # warm up (page cache, memory maps)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        candidate()
        t2 = time.perf_counter()
        out.append((t1 - t0, t2 - t1))
    return out


def report(name: str, values: list[float], unit: str, target: str) -> None:
    print(
        f"{name:<58} median {statistics.median(values):8.3f}{unit}  range [{min(values):.3f}, {max(values):.3f}]"
        f"  (target {target})"
    )


def shuffled_figure(path: str, batch_size: int, repeats: int, sorted_indices: bool, memory_map: bool = False) -> None:
    dataset = H5PYDataset(path, which_sets=("train",), memory_map=memory_map)
    n = dataset.num_examples
    scheme = ShuffledScheme(n, batch_size, rng=0, sorted_indices=sorted_indices)
    stream = DataStream(dataset, iteration_scheme=scheme)
    with h5py.File(path, "r") as f:
        features, targets = f["features"][...], f["targets"][...]
    requests = list(scheme.get_request_iterator(epoch=0, native=True))

    def in_memory() -> None:
        for request in requests:
            features[request], targets[request]

    def out_of_core() -> None:
        for _ in DataIterator(stream, stream.open_cursor(0)):  # epoch 0 every time: the same requests
            pass

    timings = paired(in_memory, out_of_core, repeats)
    order = "sorted batches" if sorted_indices else "random order"
    how = "memory_map" if memory_map else "pread"
    ratios = [b / c for b, c in timings]
    report(f"shuffled epoch ({order}, {how}): out-of-core / in-memory numpy", ratios, "x", ">= 0.9")


def ceiling_figures(path: str, batch_size: int, repeats: int) -> None:
    """Figure 1c: what bounds figure 1, random order: the dataset in memory, and a bare preadv loop.

    ``H5PYDataset(load_in_memory=True).get_data`` / numpy is the cost of the dataset's own work per batch
    (subset mapping, checks); a bare loop of one ``os.preadv`` per row into a new array, no checks, is the
    floor of any reader that makes one system call per scattered row.
    """
    memory = H5PYDataset(path, which_sets=("train",), load_in_memory=True)
    with h5py.File(path, "r") as f:
        features, targets = f["features"][...], f["targets"][...]
        offset, shape = f["features"].id.get_offset(), f["features"].shape
    requests = list(ShuffledScheme(shape[0], batch_size, rng=0, sorted_indices=False).get_request_iterator(0))
    row = int(np.prod(shape[1:]))
    fd = os.open(path, os.O_RDONLY)

    def in_memory() -> None:
        for request in requests:
            features[request], targets[request]

    def dataset_in_memory() -> None:
        for request in requests:
            memory.get_data(None, request)

    def features_in_memory() -> None:
        for request in requests:
            features[request]

    def bare_preadv() -> None:
        for request in requests:
            out = np.empty((len(request), *shape[1:]), dtype=np.uint8)
            view = memoryview(out.reshape(-1))
            for i, r in enumerate(request):
                os.preadv(fd, [view[i * row:(i + 1) * row]], offset + int(r) * row)

    try:
        timings = paired(in_memory, dataset_in_memory, repeats)
        report("shuffled epoch: H5PYDataset(load_in_memory) / numpy", [b / c for b, c in timings], "x", "none")
        timings = paired(features_in_memory, bare_preadv, repeats)
        report("shuffled epoch: bare preadv loop / numpy (features only)", [b / c for b, c in timings], "x", "none")
    finally:
        os.close(fd)


def row_size_figure(directory: str, side: int, batch_size: int, repeats: int, quick: bool) -> None:
    """Figure 1b: the pread reader on bigger rows (3 x side x side uint8), random order, ~150 MB of data."""
    num_examples = 200 if quick else (150 << 20) // (3 * side * side)
    path = os.path.join(directory, f"rows_{side}.hdf5")
    rng = np.random.default_rng(side)
    with h5py.File(path, "w") as f:
        f["features"] = rng.integers(0, 256, size=(num_examples, 3, side, side), dtype=np.uint8)
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, num_examples)}})
    dataset = H5PYDataset(path, which_sets=("train",))
    with h5py.File(path, "r") as f:
        features = f["features"][...]
    requests = list(ShuffledScheme(num_examples, batch_size, rng=0, sorted_indices=False).get_request_iterator(0))

    def in_memory() -> None:
        for request in requests:
            features[request]

    def out_of_core() -> None:
        for request in requests:
            dataset.get_data(None, request)

    timings = paired(in_memory, out_of_core, repeats)
    row = 3 * side * side // 1024
    report(f"shuffled epoch ({row} KiB rows, pread): out-of-core / in-memory", [b / c for b, c in timings], "x", "none")
    dataset.close_file()
    os.remove(path)


def sequential_figure(path: str, batch_size: int, repeats: int) -> None:
    dataset = H5PYDataset(path, which_sets=("train",))
    n = dataset.num_examples
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(n, batch_size))
    handle = h5py.File(path, "r")
    raw_features, raw_targets = handle["features"], handle["targets"]

    def raw_h5py() -> None:
        for start in range(0, n, batch_size):
            raw_features[start : start + batch_size], raw_targets[start : start + batch_size]

    def fuel_stream() -> None:
        for _ in stream.get_epoch_iterator():
            pass

    timings = paired(raw_h5py, fuel_stream, repeats)
    handle.close()
    report("sequential epoch: out-of-core / raw h5py slices (throughput)", [b / c for b, c in timings], "x", ">= 0.9")


def _identity(data: tuple) -> tuple:
    return data


def _keep(data: tuple) -> bool:
    return True


class _FuelStyleIdentity(Transformer):
    """A transformer written for Fuel (get_data reading child_epoch_iterator): the compatibility path's cost."""

    def get_data(self, request: object = None) -> tuple:
        return next(self.child_epoch_iterator)


def transformer_figures(batch_size: int, num_batches: int, repeats: int) -> None:
    n = batch_size * num_batches
    data = {
        "features": np.zeros((n, 4), dtype="float32"),
        "targets": np.zeros((n, 1), dtype="uint8"),
        "images": np.zeros((n, 1, 4, 4), dtype="uint8"),
    }
    dataset = IndexableDataset(data, axis_labels={"images": ("batch", "channel", "height", "width")})

    def base() -> DataStream:
        return DataStream(dataset, iteration_scheme=SequentialScheme(n, batch_size))

    candidates = {
        "Mapping(identity)": lambda: Mapping(base(), _identity),
        "Filter(always)": lambda: Filter(base(), _keep),
        "Rename": lambda: Rename(base(), {"features": "x"}),
        "FilterSources": lambda: FilterSources(base(), ("features",)),
        "Cast(float32, already float32)": lambda: Cast(base(), "float32", which_sources=("features",)),
        "ForceFloatX": lambda: ForceFloatX(base()),
        "Flatten": lambda: Flatten(base(), which_sources=("features",)),
        "ScaleAndShift (4 floats/example)": lambda: ScaleAndShift(base(), 2.0, 1.0, which_sources=("features",)),
        "RandomFixedSizeCrop (8 images 4x4 -> 2x2)": lambda: RandomFixedSizeCrop(
            base(), (2, 2), which_sources=("images",), rng=0
        ),
        "Fuel-style get_data override (identity)": lambda: _FuelStyleIdentity(base()),
    }
    for name, build in candidates.items():
        plain, wrapped = base(), build()

        def epoch_time(stream: object) -> float:
            t0 = time.perf_counter()
            for _ in stream.get_epoch_iterator():  # type: ignore[attr-defined]
                pass
            return time.perf_counter() - t0

        epoch_time(plain), epoch_time(wrapped)
        overheads = []
        for _ in range(repeats):
            # one paired repeat = the fastest of 7 interleaved epochs of each (filters scheduler noise)
            pairs = [(epoch_time(plain), epoch_time(wrapped)) for _ in range(7)]
            best_plain = min(p for p, _ in pairs)
            best_wrapped = min(w for _, w in pairs)
            overheads.append((best_wrapped - best_plain) / num_batches * 1e6)
        report(f"transformer overhead per batch: {name}", overheads, "us", "<= 20 us")


def _slow_read(data: tuple) -> tuple:
    time.sleep(0.005)
    return data


def background_figure(batch_size: int, num_batches: int, repeats: int) -> None:
    n = batch_size * num_batches
    dataset = IndexableDataset({"features": np.zeros((n, 3, 32, 32), dtype="uint8"), "targets": np.zeros((n, 1))})

    def reader() -> Mapping:
        return Mapping(DataStream(dataset, iteration_scheme=SequentialScheme(n, batch_size)), _slow_read)

    serial_stream = reader()
    background_stream = MultiProcessing(reader(), max_store=4)

    def consume(stream: object) -> None:
        for _ in stream.get_epoch_iterator():  # type: ignore[attr-defined]
            time.sleep(0.005)

    timings = paired(lambda: consume(serial_stream), lambda: consume(background_stream), repeats)
    report("background loading: serial / MultiProcessing (speed-up)", [b / c for b, c in timings], "x", ">= 1.8")


def checksum_figures(path: str, batch_size: int, repeats: int) -> None:
    import shutil

    from fuel.converters.checksum import checksum_hdf5

    directory = os.path.dirname(path)
    checked = os.path.join(directory, "checksummed.hdf5")
    shutil.copyfile(path, checked)
    checksum_hdf5(checked)
    chunked = os.path.join(directory, "chunked.hdf5")  # the same chunks, no checksum
    with h5py.File(checked, "r") as source, h5py.File(chunked, "w") as target:
        for name in ("features", "targets"):
            target.create_dataset(name, data=source[name][...], chunks=source[name].chunks)
        target.attrs["split"] = source.attrs["split"]
    n = H5PYDataset(path, which_sets=("train",)).num_examples

    def epoch(file: str, shuffled: bool) -> Callable[[], None]:
        scheme = (ShuffledScheme(n, batch_size, rng=0, sorted_indices=True) if shuffled
                  else SequentialScheme(n, batch_size))
        stream = DataStream(H5PYDataset(file, which_sets=("train",)), iteration_scheme=scheme)

        def run() -> None:
            stream._epochs_started = 0
            for _ in stream.get_epoch_iterator():
                pass

        return run

    for shuffled in (True, False):
        order = "shuffled" if shuffled else "sequential"
        timings = paired(epoch(path, shuffled), epoch(checked, shuffled), repeats)
        report(f"{order} epoch: checksummed / contiguous (pread)", [b / c for b, c in timings], "x", "none")
    timings = paired(epoch(chunked, True), epoch(checked, True), repeats)
    report("shuffled epoch: checksummed / same chunks unchecksummed", [b / c for b, c in timings], "x", "none")


def vlen_figure(directory: str, num_examples: int, batch_size: int, repeats: int) -> None:
    from fuel.converters import write_vlen_source

    path = os.path.join(directory, "vlen.hdf5")
    rng = np.random.default_rng(0)
    sequences = [rng.standard_normal((int(n), 3)).astype("float32") for n in rng.integers(5, 61, num_examples)]
    with h5py.File(path, "w") as f:
        write_vlen_source(f, "features", sequences, "float32", ("time", "feature"))
        f.attrs["split"] = H5PYDataset.create_split_array({"train": {"features": (0, num_examples)}})
    scheme = ShuffledScheme(num_examples, batch_size, rng=0, sorted_indices=True)
    requests = [np.asarray(r) for r in scheme.get_request_iterator(epoch=0, native=True)]
    dataset = H5PYDataset(path, which_sets=("train",))
    handle = h5py.File(path, "r")
    raw, shapes = handle["features"], handle["features_shapes"][()]

    def raw_h5py() -> None:
        for request in requests:
            [values.reshape(shape) for values, shape in zip(raw[request], shapes[request])]

    def fuel_dataset() -> None:
        for request in requests:
            dataset.get_data(None, request)

    timings = paired(raw_h5py, fuel_dataset, repeats)
    handle.close()
    dataset.close_file()
    report("vlen shuffled epoch: H5PYDataset (heap checked) / raw h5py", [b / c for b, c in timings], "x", ">= 0.8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=None, help="paired repeats (default 15; 3 with --quick)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 15)
    num_examples = 2000 if args.quick else 50000
    batch_size = 128
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "cifar10_like.hdf5")
        make_file(path, num_examples)
        print(f"file: {num_examples} x 3x32x32 uint8 + uint8 labels, batch {batch_size}, {repeats} paired repeats")
        shuffled_figure(path, batch_size, repeats, sorted_indices=True)
        shuffled_figure(path, batch_size, repeats, sorted_indices=False)
        shuffled_figure(path, batch_size, repeats, sorted_indices=False, memory_map=True)
        ceiling_figures(path, batch_size, repeats)
        for side in (64, 128) if not args.quick else (64,):
            row_size_figure(directory, side, batch_size, repeats, quick=args.quick)
        sequential_figure(path, batch_size, repeats)
        checksum_figures(path, batch_size, repeats)
        vlen_figure(directory, 500 if args.quick else 20000, batch_size, repeats)
    transformer_figures(batch_size=8, num_batches=50, repeats=repeats)
    background_figure(batch_size=batch_size, num_batches=8 if args.quick else 40, repeats=repeats)


if __name__ == "__main__":
    main()
