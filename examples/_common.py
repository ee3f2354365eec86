"""Shared helpers of the examples: data (real where it exists here, else generated of the real shapes) and the loop.

Not a library: each example stays readable on its own and builds its model,
cost and algorithm itself; this module only prepares arrays and wires the
usual extensions (Timing, training and validation monitoring, Printing,
FinishAfter) around a ``MainLoop``.

Data, by name:

- ``digits``: the real 8x8 handwritten digits, made offline with the real
  ``fuel-download digits`` / ``fuel-convert digits`` commands (from the
  scikit-learn installation, no network).
- ``mnist``, ``cifar10``: ``mnist.hdf5`` / ``cifar10.hdf5`` from ``--data-dir``
  or ``fuel.config.data_path`` (``fuel-download mnist; fuel-convert mnist``).
  A missing file is an error that says how to get it, never a silent
  substitute.
- ``--generated [TRAIN TEST]`` (any dataset): generated arrays of the real
  shapes instead (a learnable class-prototype task), announced; for smoke runs
  and throughput, not accuracy.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Iterable, Sequence

import numpy

__all__ = [
    "SHAPES",
    "MissingDataError",
    "base_parser",
    "generated_images",
    "load_images",
    "prepare_digits",
    "run_loop",
    "setup",
    "stream_of",
]

SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
"""Image shape (channels, height, width) of each dataset the examples know."""

_REAL_SIZES = {"digits": (1437, 360), "mnist": (60000, 10000), "cifar10": (50000, 10000)}


def base_parser(
    doc: str, *, epochs: int, batch_size: int, learning_rate: float | None = None, generated: bool = True
) -> argparse.ArgumentParser:
    """An argument parser with the options every example shares (``--generated`` unless ``generated=False``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=epochs, help=f"epochs to train (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"batch size (default {batch_size})")
    if learning_rate is not None:
        parser.add_argument(
            "--learning-rate", type=float, default=learning_rate, help=f"learning rate (default {learning_rate})"
        )
    parser.add_argument("--seed", type=int, default=1, help="seed of everything random (default 1)")
    parser.add_argument(
        "--data-dir",
        default=os.path.join("runs", "data"),
        help="where digits.hdf5 is made and mnist.hdf5 / cifar10.hdf5 are looked for first (runs/data)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: these models are small; 0 = torch's choice)",
    )
    if generated:
        parser.add_argument(
            "--generated",
            type=int,
            nargs="*",
            metavar="N",
            help="train on generated arrays of the dataset's real shape instead of its files (optionally TRAIN TEST "
            "sizes); for smoke runs and throughput, never for accuracy",
        )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log printing")
    return parser


def prepare_digits(data_dir: str) -> str:
    """Run ``fuel-download digits`` and ``fuel-convert digits`` once (offline); returns the file's path."""
    from blocks.cli import fuel_convert, fuel_download

    path = os.path.join(data_dir, "digits.hdf5")
    if os.path.isfile(path):
        return path
    os.makedirs(data_dir, exist_ok=True)
    if fuel_download.main(["digits", "-d", data_dir]) != 0:
        raise SystemExit("fuel-download digits failed")
    if fuel_convert.main(["digits", "-d", data_dir, "-o", data_dir]) != 0:
        raise SystemExit("fuel-convert digits failed")
    return path


def _use_data_dir(data_dir: str) -> None:
    import fuel

    try:
        current = list(fuel.config.data_path)
    except ValueError:  # no data path configured
        current = []
    data_dir = os.path.abspath(data_dir)
    fuel.config.data_path = [data_dir] + [p for p in current if os.path.abspath(p) != data_dir]


def _read_split(dataset_class: Any, split: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """All of one split through the dataset's default stream (pixels scaled to [0, 1], floatX)."""
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    dataset = dataset_class((split,), load_in_memory=True)
    stream = DataStream.default_stream(
        dataset, iteration_scheme=SequentialScheme(dataset.num_examples, dataset.num_examples)
    )
    batch = next(stream.get_epoch_iterator(as_dict=True))
    return numpy.asarray(batch["features"], dtype="float32"), numpy.asarray(batch["targets"]).reshape(-1).astype(
        "int64"
    )


def generated_images(
    num_examples: int, shape: Sequence[int], num_classes: int = 10, seed: int = 1, noise: float = 0.35
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A learnable stand-in of real shapes: each class is a smooth random prototype image plus noise, in [0, 1].

    The prototypes depend on ``seed`` only, so the training and test sets
    drawn with different ``num_examples`` share them (use ``seed`` for the
    task and the split's own seed offset inside).
    """
    task = numpy.random.default_rng(seed)
    prototypes = task.uniform(size=(num_classes, *shape)).astype("float32")
    # smooth them a little so convolutions have structure to find
    for axis in (-1, -2):
        prototypes = (prototypes + numpy.roll(prototypes, 1, axis=axis)) / 2
    rng = numpy.random.default_rng([seed, num_examples])
    targets = rng.integers(0, num_classes, size=num_examples).astype("int64")
    features = prototypes[targets] + noise * rng.normal(size=(num_examples, *shape)).astype("float32")
    return numpy.clip(features, 0, 1).astype("float32"), targets


class MissingDataError(SystemExit):
    """The real dataset asked for is not there: the message says how to get it (exit status 1)."""


def load_images(
    name: str,
    data_dir: str,
    *,
    generated: Sequence[int] | None = None,
    generated_sizes: tuple[int, int] | None = None,
    seed: int = 1,
) -> tuple[tuple[numpy.ndarray, numpy.ndarray], tuple[numpy.ndarray, numpy.ndarray], bool]:
    """``(train, test, real)`` arrays of ``name`` (features ``(N, C, H, W)`` float32 in [0, 1], int64 targets).

    With ``generated`` (the ``--generated`` option: ``[]`` or ``[TRAIN, TEST]``)
    generated arrays of the real shape are returned (sizes from ``generated``,
    else ``generated_sizes``, else the real ones) and a note is printed.
    Otherwise the real data: ``digits`` is made offline; ``mnist`` and
    ``cifar10`` are read from their converted HDF5 files in ``data_dir`` or
    ``fuel.config.data_path``, and a missing file raises :class:`MissingDataError`.
    """
    if name not in SHAPES:
        raise ValueError(f"unknown dataset {name!r}; valid: {sorted(SHAPES)}")
    if generated is not None:
        if len(generated) not in (0, 2) or any(n < 1 for n in generated):
            raise MissingDataError(f"--generated takes no sizes or two positive sizes TRAIN TEST, got {generated}")
        num_train, num_test = tuple(generated) or generated_sizes or _REAL_SIZES[name]
        print(
            f"note: GENERATED data of the {name} shape {SHAPES[name]} ({num_train} train / {num_test} test "
            "examples, a class-prototype task; --generated), not the real dataset"
        )
        train = generated_images(num_train, SHAPES[name], seed=seed)
        test = generated_images(num_test, SHAPES[name], seed=seed)
        return train, test, False
    if name == "digits":
        prepare_digits(data_dir)
    _use_data_dir(data_dir)
    classes = {
        "digits": "fuel_datasets.digits:Digits",
        "mnist": "fuel_datasets.mnist:MNIST",
        "cifar10": "fuel_datasets.cifar10:CIFAR10",
    }
    module_name, _, class_name = classes[name].partition(":")
    from fuel.data_path import find_in_data_path

    try:
        find_in_data_path(f"{name}.hdf5")
    except (ValueError, OSError) as err:
        raise MissingDataError(
            f"error: {name}.hdf5 is not in --data-dir {data_dir} nor in fuel.config.data_path ({err}).\n"
            f"Get it with:  fuel-download {name} -d DIR && fuel-convert {name} -d DIR -o DIR, then --data-dir DIR\n"
            f"(or --generated to train on generated data of the same shape, for a smoke run)"
        ) from None
    import importlib

    dataset_class = getattr(importlib.import_module(module_name), class_name)
    return _read_split(dataset_class, "train"), _read_split(dataset_class, "test"), True


def stream_of(arrays: dict[str, numpy.ndarray], batch_size: int, *, shuffle_seed: int | None = None) -> Any:
    """A ``DataStream`` over in-memory arrays (shuffled every epoch when ``shuffle_seed`` is given)."""
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme, ShuffledScheme
    from fuel.streams import DataStream

    num = len(next(iter(arrays.values())))
    if shuffle_seed is None:
        scheme = SequentialScheme(num, batch_size)
    else:
        scheme = ShuffledScheme(num, batch_size, rng=shuffle_seed)
    return DataStream(IndexableDataset(dict(arrays)), iteration_scheme=scheme)


def run_loop(
    algorithm: Any,
    train_stream: Any,
    *,
    epochs: int,
    monitored: Iterable[Any] = (),
    train_monitored: Iterable[Any] | None = None,
    valid_stream: Any = None,
    model: Any = None,
    extensions: Iterable[Any] = (),
    quiet: bool = False,
    print_every: int = 1,
) -> tuple[Any, float]:
    """Run a ``MainLoop`` with Timing, per-epoch training/validation monitoring, Printing and FinishAfter.

    Returns the loop and the wall time of ``run()`` in seconds. Figures are in
    the log as ``train_<name>`` and ``valid_<name>`` (read them with
    :func:`latest_values`);
    ``train_monitored`` (default: ``monitored``) are the variables monitored on
    the training batches, e.g. those of a dropout graph.
    """
    from blocks.extensions import FinishAfter
    from blocks.main_loop import MainLoop
    from blocks_extensions import DataStreamMonitoring, Printing, Timing, TrainingDataMonitoring

    monitored = list(monitored)
    train_monitored = monitored if train_monitored is None else list(train_monitored)
    all_extensions: list[Any] = [Timing()]
    if train_monitored:
        all_extensions.append(TrainingDataMonitoring(train_monitored, prefix="train", after_epoch=True))
    if monitored:
        if valid_stream is not None:
            all_extensions.append(DataStreamMonitoring(monitored, valid_stream, prefix="valid"))
    all_extensions.extend(extensions)
    all_extensions.append(FinishAfter(after_n_epochs=epochs))
    if not quiet:
        all_extensions.append(Printing(every_n_epochs=print_every, after_epoch=False))  # every print_every-th epoch
    main_loop = MainLoop(algorithm, train_stream, model=model, extensions=all_extensions)
    start = time.perf_counter()
    main_loop.run()
    return main_loop, time.perf_counter() - start


def latest_values(log: Any, *names: str) -> dict[str, float]:
    """The most recent value of each of ``names`` in the log (NaN when it was never recorded).

    Not ``log.current_row``: a run stopped mid-epoch (SIGTERM, Ctrl-C twice)
    ends on a row without the per-epoch monitoring records, and the script
    must still report what was measured last.
    """
    values = {name: float("nan") for name in names}
    for _, row in log.rows():
        for name in names:
            if name in row:
                values[name] = float(row[name])
    return values


def setup(args: argparse.Namespace) -> None:
    """Seeds and threads from the parsed arguments."""
    import torch

    import fuel
    from blocks.config import config

    config.default_seed = args.seed
    fuel.config.default_seed = args.seed
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
