"""A pool of decoding workers (``MultiProcessing(workers=N)``) against torch's loaders, and JPEG decoders.

Every figure is measured against a baseline in the same run, interleaved (baseline, candidate, baseline,
candidate, ...), over >= 15 paired repeats (``--repeats``); the median and the range are printed.

1. ``throughput``: an ImageNet-layout HDF5 file of real JPEG bytes (photo-like generated images encoded with
   Pillow, 256-320 px a side), one epoch of decode + random 224x224 crop + random horizontal flip + normalize to
   float32, batches of 128, shuffled. Fuel: H5PYDataset, ShuffledScheme, ImagesFromBytes, RandomFixedSizeCrop, a
   flip and a normalizing Mapping, in ``MultiProcessing(workers=N)``. Baseline: ``torch.utils.data.DataLoader``
   with N workers (fork, 2 batches prefetched per worker, like ``max_store=2N``) over the same file, reading rows
   with h5py and decoding with the same Pillow code. Each epoch starts its workers (both sides). Ratio:
   DataLoader time / pool time (> 1: the pool is faster); target >= 1.0 for N = 1 and 2 (never more workers
   than cores).
2. ``resume``: a 1,000,000-example epoch of cheap items (one int64 each, batches of 128), 2 workers, fork: time
   to the first batch after restoring a state saved at 1%, 50% and 99% of the epoch, minus the time to the first
   batch of a fresh start (worker start-up included in both), in ms; target <= 50 ms at every position. Beside
   it, the same for torchdata's ``StatefulDataLoader`` (a column skipped with a note when torchdata is not
   installed).
3. ``decoders``: decoding the file's JPEGs to RGB arrays, ImagesFromBytes' Pillow decode (the baseline) against
   every other decoder importable here (``simplejpeg``, ``torchvision.io.decode_jpeg``; one that is not
   importable is named with the reason). Ratio: Pillow time / candidate time, and whether the pixels are the same.

Usage::

    python benchmarks/data_parallel.py            # full run (minutes; run it on a quiet machine)
    python benchmarks/data_parallel.py --quick    # smoke run for CI (seconds)
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np
import torch
from PIL import Image

from fuel.converters.base import fill_hdf5_file
from fuel.datasets import H5PYDataset, IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import ImagesFromBytes, Mapping, MultiProcessing, RandomFixedSizeCrop, SourcewiseTransformer
from fuel.utils.random import PositionRNG

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1) * 255


# -- the data ----------------------------------------------------------------------------------
def photo_like(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """Smooth random shapes and texture (compresses like a photo, unlike white noise)."""
    coarse = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    image = image + rng.integers(-12, 13, image.shape, dtype=np.int16)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def make_jpeg_file(path: str, count: int, low: int, high: int) -> None:
    """An ImageNet-layout file (as ``fuel-convert ilsvrc2012`` writes): JPEG bytes and int16 targets."""
    rng = np.random.default_rng(0)
    images = np.empty(count, dtype=h5py.special_dtype(vlen=np.dtype("uint8")))
    for i in range(count):
        buffer = io.BytesIO()
        photo_like(rng, int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1))).save(
            buffer, format="JPEG", quality=90
        )
        images[i] = np.frombuffer(buffer.getvalue(), dtype=np.uint8)
    targets = rng.integers(0, 1000, (count, 1)).astype(np.int16)
    with h5py.File(path, "w") as f:
        fill_hdf5_file(f, [("train", "encoded_images", images), ("train", "targets", targets)])


# -- Fuel's pipeline -----------------------------------------------------------------------------
class RandomHorizontalFlip(SourcewiseTransformer):
    """Mirror each image of a batch with probability 1/2, drawn from (seed, epoch, position): pool-safe."""

    one_to_one = True

    def __init__(self, data_stream: Any, seed: int, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.seed = seed

    def get_data_from(self, cursor: Any) -> tuple[Any, ...]:
        data = cursor.child.next()
        rngs = cursor.extra.get("rngs")
        if rngs is None:
            rngs = cursor.extra["rngs"] = PositionRNG(self.seed, cursor.epoch)
        rng = rngs.at(cursor.position)
        out = []
        for source, name in zip(data, self.data_stream.sources):
            if name in self.which_sources:
                flips = rng.random(len(source)) < 0.5
                source = [image[..., ::-1] if flip else image for image, flip in zip(source, flips)]
            out.append(source)
        return tuple(out)


def normalize(data: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    images, targets = data
    batch = np.stack(images).astype(np.float32)
    batch -= MEAN
    batch /= STD
    return batch, np.asarray(targets, dtype=np.int64).reshape(-1)


def fuel_pipeline(path: str, batch_size: int, crop: int, workers: int) -> MultiProcessing:
    dataset = H5PYDataset(path, which_sets=("train",), sources=("encoded_images", "targets"))
    stream: Any = DataStream(dataset, iteration_scheme=ShuffledScheme(dataset.num_examples, batch_size, rng=0))
    which = ("encoded_images",)
    stream = ImagesFromBytes(stream, which_sources=which)
    stream = RandomFixedSizeCrop(stream, (crop, crop), which_sources=which, rng=1)
    stream = RandomHorizontalFlip(stream, seed=2, which_sources=which)
    stream = Mapping(stream, normalize)
    return MultiProcessing(stream, max_store=2 * workers, workers=workers)


# -- the DataLoader baseline ---------------------------------------------------------------------
_DECODE = ImagesFromBytes.transform_source_example  # the very decode the pool runs


class JpegDataset(torch.utils.data.Dataset):
    """The same file, rows read with h5py, decoded, cropped, flipped and normalized like the pipeline above."""

    def __init__(self, path: str, crop: int, decoder: Any):
        self.path, self.crop, self.decoder = path, crop, decoder
        self._file: h5py.File | None = None
        with h5py.File(path, "r") as f:
            self.count = f["targets"].shape[0]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        rng = np.random.default_rng([torch.initial_seed() % 2**32, index])
        image = _DECODE(self.decoder, self._file["encoded_images"][index], "encoded_images")
        height, width = image.shape[1:]
        y, x = int(rng.integers(0, height - self.crop + 1)), int(rng.integers(0, width - self.crop + 1))
        image = image[:, y : y + self.crop, x : x + self.crop]
        if rng.random() < 0.5:
            image = image[..., ::-1]
        image = (image.astype(np.float32) - MEAN[0]) / STD[0]
        return torch.from_numpy(image), int(self._file["targets"][index, 0])


def data_loader(dataset: JpegDataset, batch_size: int, workers: int) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, multiprocessing_context="fork",
        prefetch_factor=2, generator=torch.Generator().manual_seed(0),
    )


# -- measuring -----------------------------------------------------------------------------------
def report(name: str, values: list[float], unit: str, target: str) -> None:
    print(
        f"{name:<62} median {statistics.median(values):9.3f}{unit}  range [{min(values):.3f}, {max(values):.3f}]"
        f"  (target {target})",
        flush=True,
    )


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def throughput_figure(path: str, batch_size: int, crop: int, workers: int, repeats: int) -> None:
    decoder = ImagesFromBytes(DataStream(IndexableDataset({"encoded_images": [b""]})))
    dataset = JpegDataset(path, crop, decoder)
    count = len(dataset)

    def fuel_epoch() -> None:
        stream = fuel_pipeline(path, batch_size, crop, workers)
        try:
            for images, _ in stream.get_epoch_iterator():
                torch.as_tensor(images)
        finally:
            stream.close()

    def torch_epoch() -> None:
        for images, _ in data_loader(dataset, batch_size, workers):
            pass

    fuel_epoch(), torch_epoch()  # warm up (page cache, imports)
    ratios = []
    for repeat in range(repeats):
        order = (torch_epoch, fuel_epoch) if repeat % 2 == 0 else (fuel_epoch, torch_epoch)
        times = {f: timed(f) for f in order}
        ratios.append(times[torch_epoch] / times[fuel_epoch])
    images_per_s = count / statistics.median([timed(fuel_epoch)])
    report(f"throughput, {workers} worker(s): DataLoader time / pool time", ratios, "x", ">= 1.0")
    print(f"    (pool: about {images_per_s:.0f} images/s on this machine, {count} images per epoch)")


def cheap_stream(count: int, batch_size: int) -> DataStream:
    return DataStream(IndexableDataset({"x": np.arange(count, dtype=np.int64)}),
                      iteration_scheme=ShuffledScheme(count, batch_size, rng=3))


def paired_starts(fresh: Callable[[], Any], resume: Callable[[], Any], repeats: int) -> list[tuple[float, float]]:
    """Paired ``(fresh start, resume)`` times to the first batch, in alternating order.

    Each function starts a loader, reads its first batch and returns a function that shuts it down (not timed);
    each start waits until the processes of the last one are gone.
    """
    out = []
    for repeat in range(repeats):
        order = (fresh, resume) if repeat % 2 == 0 else (resume, fresh)
        times = {}
        for start in order:
            time.sleep(0.05)
            begin = time.perf_counter()
            shutdown = start()
            times[start] = time.perf_counter() - begin
            shutdown()
        out.append((times[fresh], times[resume]))
    return out


def fuel_resume_times(count: int, batch_size: int, position: int, repeats: int) -> list[tuple[float, float]]:
    """Paired ``(fresh start, resume at position)`` times to the first batch, 2 workers."""
    stream = MultiProcessing(cheap_stream(count, batch_size), max_store=4, workers=2)
    it = stream.get_epoch_iterator()
    for _ in range(position):
        next(it)
    saved = {"stream": stream.state_dict(), "iterator": it.state_dict()}
    expected = next(it)[0].copy()
    stream.close()

    def fresh() -> Callable[[], None]:
        started = MultiProcessing(cheap_stream(count, batch_size), max_store=4, workers=2)
        next(started.get_epoch_iterator())
        return started.close

    def resume() -> Callable[[], None]:
        again = MultiProcessing(cheap_stream(count, batch_size), max_store=4, workers=2)
        again.load_state_dict(saved["stream"])
        resumed = again.get_epoch_iterator()
        resumed.load_state_dict(saved["iterator"])
        if not (next(resumed)[0] == expected).all():
            raise AssertionError("the resumed batch is not the one after the saved position")
        return again.close

    return paired_starts(fresh, resume, repeats)


class CheapItems(torch.utils.data.Dataset):
    def __init__(self, count: int):
        self.values = np.arange(count, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> int:
        return int(self.values[index])


def stateful_resume_times(count: int, batch_size: int, position: int, repeats: int) -> list[tuple[float, float]]:
    """The same for torchdata's ``StatefulDataLoader`` (its state saved after ``position`` batches)."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    warnings.filterwarnings("ignore", message=".*set_vital.*")  # torchdata 0.11 calls a deprecated torch function

    def loader() -> Any:
        return StatefulDataLoader(CheapItems(count), batch_size=batch_size, shuffle=True, num_workers=2,
                                  multiprocessing_context="fork", generator=torch.Generator().manual_seed(0))

    first = loader()
    it = iter(first)
    for _ in range(position):
        next(it)
    saved = first.state_dict()
    expected = next(it)
    del it, first

    def shutdown(iterator: Any) -> Callable[[], None]:
        return getattr(iterator, "_shutdown_workers", lambda: None)

    def fresh() -> Callable[[], None]:
        iterator = iter(loader())
        next(iterator)
        return shutdown(iterator)

    def resume() -> Callable[[], None]:
        again = loader()
        again.load_state_dict(saved)
        iterator = iter(again)
        if not torch.equal(next(iterator), expected):
            raise AssertionError("StatefulDataLoader resumed at another batch")
        return shutdown(iterator)

    return paired_starts(fresh, resume, repeats)


def resume_figure(count: int, batch_size: int, repeats: int) -> None:
    batches = -(-count // batch_size)
    try:
        import torchdata.stateful_dataloader  # noqa: F401
    except ImportError as err:
        stateful = False
        print(f"    (StatefulDataLoader column skipped: torchdata is not importable here: {err})")
    else:
        stateful = True
    for fraction in (0.01, 0.5, 0.99):
        position = int(batches * fraction)
        ours = fuel_resume_times(count, batch_size, position, repeats)
        report(f"resume at {fraction:.0%} of {count} examples, 2 workers: overhead (pool)",
               [(r - f) * 1e3 for f, r in ours], " ms", "<= 50 ms")
        if stateful:
            theirs = stateful_resume_times(count, batch_size, position, repeats)
            report(f"resume at {fraction:.0%} of {count} examples, 2 workers: overhead (StatefulDataLoader)",
                   [(r - f) * 1e3 for f, r in theirs], " ms", "none")


def decoders() -> dict[str, Any]:
    """``{name: decode(bytes) -> (height, width, 3) uint8 array, or the reason it is not importable}``."""
    found: dict[str, Any] = {}
    try:
        import simplejpeg

        found["simplejpeg"] = lambda data: simplejpeg.decode_jpeg(data, colorspace="RGB")
    except ImportError as err:
        found["simplejpeg"] = f"not importable ({err})"
    try:
        from torchvision.io import ImageReadMode, decode_jpeg

        def torchvision_decode(data: bytes) -> np.ndarray:
            tensor = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
            return tensor.permute(1, 2, 0).numpy()

        found["torchvision.io.decode_jpeg"] = torchvision_decode
    except Exception as err:  # noqa: BLE001 - torchvision built for another torch fails in many ways
        found["torchvision.io.decode_jpeg"] = f"not importable ({type(err).__name__}: {str(err)[:80]})"
    return found


def decoder_figure(path: str, repeats: int) -> None:
    with h5py.File(path, "r") as f:
        blobs = [bytes(row) for row in f["encoded_images"][...]]
    pillow = ImagesFromBytes(DataStream(IndexableDataset({"encoded_images": [b""]})))

    def with_pillow() -> list[np.ndarray]:
        return [pillow.transform_source_example(blob, "encoded_images") for blob in blobs]

    reference = with_pillow()
    for name, decode in decoders().items():
        if isinstance(decode, str):
            print(f"decoder {name}: {decode}")
            continue

        def candidate(decode: Any = decode) -> list[np.ndarray]:
            return [decode(blob).transpose(2, 0, 1) for blob in blobs]

        same = all(np.array_equal(a, b) for a, b in zip(reference, candidate()))
        ratios = []
        for repeat in range(repeats):
            order = (with_pillow, candidate) if repeat % 2 == 0 else (candidate, with_pillow)
            times = {f: timed(f) for f in order}
            ratios.append(times[with_pillow] / times[candidate])
        report(f"decoder {name}: Pillow time / its time ({'same' if same else 'other'} pixels)", ratios, "x", "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=None, help="paired repeats (default 15; 2 with --quick)")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 15)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if args.quick:
        count, batch_size, crop, low, high, cheap = 48, 16, 48, 56, 72, 20_000
    else:
        count, batch_size, crop, low, high, cheap = 1024, 128, 224, 256, 320, 1_000_000
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "imagenet_like.hdf5")
        make_jpeg_file(path, count, low, high)
        print(f"file: {count} JPEGs of {low}-{high} px a side, batch {batch_size}, crop {crop}, {repeats} paired "
              f"repeats, {cores} cores", flush=True)
        for workers in (1, 2):
            if workers > cores:
                print(f"throughput, {workers} workers: not measured (no more workers than the {cores} cores)")
                continue
            throughput_figure(path, batch_size, crop, workers, repeats)
        decoder_figure(path, repeats)
    resume_figure(cheap, 128, repeats)


if __name__ == "__main__":
    main()
