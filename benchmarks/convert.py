"""fuel-convert cost: MNIST and CIFAR-10 conversion as a ratio to plain unpack + h5py write.

Generates full-size upstream files in their real formats (MNIST: four
gzip-compressed IDX files, 60,000 + 10,000 images with a zero background like
the real digits; CIFAR-10: ``cifar-10-binary.tar.gz`` with five training
batches and a test batch of 10,000 records each), then, interleaved, for each
repeat and each dataset:

* **converter**: ``fuel_datasets.<dataset>.convert_<dataset>`` (temporary file,
  Fuel's split layout, axis labels, provenance, rename);
* **baseline**: decompress / unpack the same files and write the same arrays
  with plain h5py (``create_dataset(data=...)``), nothing else.

Prints the median and range of the paired ratios converter / baseline (target
<= 1.5). Usage: ``python benchmarks/convert.py [--repeats N]`` (default 15);
``--quick`` converts tiny files (a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import statistics
import struct
import sys
import tarfile
import tempfile
import time
from typing import Callable

import h5py
import numpy

from fuel.downloaders import manifest

TARGET = 1.5


def _idx(array: numpy.ndarray, magic: int) -> bytes:
    header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
    return gzip.compress(header + array.tobytes(), compresslevel=6)


def make_mnist(directory: str, train: int, test: int) -> None:
    rng = numpy.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        images = numpy.zeros((count, 28, 28), numpy.uint8)
        images[:, 6:22, 8:20] = rng.integers(0, 256, (count, 16, 12), dtype=numpy.uint8) * (
            rng.random((count, 16, 12)) < 0.6)
        labels = rng.integers(0, 10, count, dtype=numpy.uint8)
        with open(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), "wb") as handle:
            handle.write(_idx(images, 2051))
        with open(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as handle:
            handle.write(_idx(labels, 2049))


def make_cifar10(directory: str, per_batch: int) -> None:
    rng = numpy.random.default_rng(1)
    with tarfile.open(os.path.join(directory, "cifar-10-binary.tar.gz"), "w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            records = rng.integers(0, 256, (per_batch, 3073), dtype=numpy.uint8)
            records[:, 0] %= 10
            data = records.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def baseline_mnist(directory: str, path: str) -> None:
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        with open(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), "rb") as handle:
            raw = gzip.decompress(handle.read())
        arrays[f"{split}_features"] = numpy.frombuffer(raw, numpy.uint8, offset=16).reshape(-1, 1, 28, 28)
        with open(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), "rb") as handle:
            raw = gzip.decompress(handle.read())
        arrays[f"{split}_targets"] = numpy.frombuffer(raw, numpy.uint8, offset=8).reshape(-1, 1)
    with h5py.File(path, "w") as h5file:
        h5file.create_dataset("features", data=numpy.concatenate([arrays["train_features"], arrays["test_features"]]))
        h5file.create_dataset("targets", data=numpy.concatenate([arrays["train_targets"], arrays["test_targets"]]))


def baseline_cifar10(directory: str, path: str) -> None:
    chunks = {}
    with tarfile.open(os.path.join(directory, "cifar-10-binary.tar.gz"), "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".bin"):
                chunks[os.path.basename(member.name)] = tar.extractfile(member).read()  # type: ignore[union-attr]
    order = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    records = numpy.frombuffer(b"".join(chunks[n] for n in order), numpy.uint8).reshape(-1, 3073)
    with h5py.File(path, "w") as h5file:
        h5file.create_dataset("features", data=records[:, 1:].reshape(-1, 3, 32, 32))
        h5file.create_dataset("targets", data=records[:, :1])


def converter(dataset: str) -> Callable[[str, str], None]:
    if dataset == "mnist":
        from fuel_datasets.mnist import convert_mnist

        return lambda directory, out: convert_mnist(directory, out, "converted.hdf5")
    from fuel_datasets.cifar10 import convert_cifar10

    return lambda directory, out: convert_cifar10(directory, out, "converted.hdf5")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="tiny files, 3 repeats (smoke run)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="fuel-convert-bench-") as root:
        inputs = {name: os.path.join(root, name) for name in ("mnist", "cifar10")}
        out = os.path.join(root, "out")
        for directory in (*inputs.values(), out):
            os.makedirs(directory)
        make_mnist(inputs["mnist"], *((600, 100) if args.quick else (60000, 10000)))
        make_cifar10(inputs["cifar10"], 100 if args.quick else 10000)
        for directory in inputs.values():  # generated here: recorded like verified downloads
            for name in os.listdir(directory):
                manifest.record(directory, name, sha256="", verified=True, reason="generated by benchmarks/convert.py")
        sizes = {name: sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) for name, d in inputs.items()}
        print("inputs: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items()))
        runs = {("mnist", "baseline"): lambda d, o: baseline_mnist(d, os.path.join(o, "baseline.hdf5")),
                ("cifar10", "baseline"): lambda d, o: baseline_cifar10(d, os.path.join(o, "baseline.hdf5")),
                ("mnist", "converter"): converter("mnist"), ("cifar10", "converter"): converter("cifar10")}
        times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
        for repeat in range(repeats + 1):  # repeat 0 warms caches and imports; not counted
            for dataset in ("mnist", "cifar10"):
                kinds = ("baseline", "converter") if repeat % 2 else ("converter", "baseline")
                for kind in kinds:
                    start = time.perf_counter()
                    runs[dataset, kind](inputs[dataset], out)
                    elapsed = time.perf_counter() - start
                    for name in os.listdir(out):
                        os.remove(os.path.join(out, name))
                    if repeat:
                        times[dataset, kind].append(elapsed)
        status = 0
        print(f"{repeats} interleaved repeats; ratio = converter / (unpack + plain h5py write), paired per repeat")
        for dataset in ("mnist", "cifar10"):
            ratios = [c / b for c, b in zip(times[dataset, "converter"], times[dataset, "baseline"])]
            median = statistics.median(ratios)
            ok = median <= TARGET
            status |= not ok
            print(f"  {dataset:8s} converter {statistics.median(times[dataset, 'converter']):.3f} s, baseline "
                  f"{statistics.median(times[dataset, 'baseline']):.3f} s; ratio median {median:.3f} "
                  f"(range {min(ratios):.3f}-{max(ratios):.3f}); target <= {TARGET}: {'ok' if ok else 'MISSED'}")
    return 0 if args.quick else status


if __name__ == "__main__":
    sys.exit(main())
