"""Quickstart: train an MLP on the real 8x8 handwritten digits, offline, end to end.

What a first run of Blocks looks like: the ``digits`` dataset is fetched from the
scikit-learn installation and converted to HDF5 with the real ``fuel-download``
and ``fuel-convert`` commands (no network), then an MLP 64-100-10 is trained with
``GradientDescent`` on a ``MainLoop`` with a progress bar, training and validation
monitoring, an SQLite log, a PNG plot of the curves and checkpoints. Everything
random derives from ``--seed``: two runs with the same seed give the same numbers.

    python examples/quickstart.py                  # about 20 epochs, seconds on 2 cores
    python examples/quickstart.py --epochs 100 --hidden 300
    blocks log runs/quickstart/log.sqlite          # the log, from another shell
    blocks checkpoint info runs/quickstart/checkpoint.tar

Needs blocks-core, fuel-datasets and blocks-extensions; uses blocks-step-rules'
Adam when it is installed (else core's plain SGD).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train (default 20)")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--learning-rate", type=float, default=0.003, help="learning rate (default 0.003)")
    parser.add_argument("--seed", type=int, default=1, help="seed of everything random (default 1)")
    parser.add_argument(
        "--data-dir", default=os.path.join("runs", "data"), help="where digits.hdf5 is made (runs/data)"
    )
    parser.add_argument("--output-dir", default=os.path.join("runs", "quickstart"), help="log, plot and checkpoints")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and CI)")
    return parser.parse_args(argv)


def prepare_digits(data_dir: str) -> None:
    """Run ``fuel-download digits`` and ``fuel-convert digits`` once (offline)."""
    from blocks.cli import fuel_convert, fuel_download

    if os.path.isfile(os.path.join(data_dir, "digits.hdf5")):
        return
    os.makedirs(data_dir, exist_ok=True)
    if fuel_download.main(["digits", "-d", data_dir]) != 0:
        raise SystemExit("fuel-download digits failed")
    if fuel_convert.main(["digits", "-d", data_dir, "-o", data_dir]) != 0:
        raise SystemExit("fuel-convert digits failed")


def build_model(hidden: int, seed: int):
    """The MLP 64-``hidden``-10 on the digits' 8x8 pixels: its cost (with L2 on the weights) and error rate."""
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, lmatrix, matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.roles import WEIGHT

    # the model, symbolically: inputs are named after the data sources
    x, y = matrix("features"), lmatrix("targets").flatten()  # Fuel stores targets as (batch, 1)
    mlp = MLP(
        [Rectifier(), Softmax()],
        [64, hidden, 10],
        weights_init=IsotropicGaussian(0.1),
        biases_init=Constant(0),
        seed=seed,
    )
    probs = mlp.apply(x)
    cost = CategoricalCrossEntropy().apply(y, probs)
    weights = VariableFilter(roles=[WEIGHT])(ComputationGraph([cost]).variables)
    cost = cost + 1e-4 * sum((w**2).sum() for w in weights)
    cost.name = "cost"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"
    return cost, error_rate


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    # warnings and errors only (the fuel-download/fuel-convert calls below would otherwise switch on INFO)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import fuel
    from blocks.config import config

    config.default_seed = args.seed
    fuel.config.default_seed = args.seed
    prepare_digits(args.data_dir)
    fuel.config.data_path = [os.path.abspath(args.data_dir)] + [p for p in _data_path(fuel) if p != args.data_dir]
    os.makedirs(args.output_dir, exist_ok=True)

    import torch

    from blocks.algorithms import GradientDescent, Scale
    from blocks.extensions import Checkpoint, FinishAfter
    from blocks.log import get_log
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks.plugins import get_registry
    from blocks_extensions import DataStreamMonitoring, Plot, Printing, ProgressBar, Timing, TrainingDataMonitoring
    from fuel.schemes import SequentialScheme, ShuffledScheme
    from fuel.streams import DataStream
    from fuel.transformers import Flatten
    from fuel_datasets.digits import Digits

    torch.manual_seed(args.seed)
    train, test = Digits(("train",)), Digits(("test",))

    def stream(dataset, scheme):
        return Flatten(DataStream.default_stream(dataset, iteration_scheme=scheme), which_sources=("features",))

    train_stream = stream(train, ShuffledScheme(train.num_examples, args.batch_size, rng=args.seed))
    test_stream = stream(test, SequentialScheme(test.num_examples, 256))

    cost, error_rate = build_model(args.hidden, args.seed)
    rules = get_registry("step_rules")
    step_rule = rules.get("adam")(learning_rate=args.learning_rate) if "adam" in rules else Scale(0.1)
    algorithm = GradientDescent(cost=cost, step_rule=step_rule)
    extensions = [
        Timing(),
        TrainingDataMonitoring([cost, error_rate], prefix="train", after_epoch=True),
        DataStreamMonitoring([cost, error_rate], test_stream, prefix="valid"),
        Plot(
            os.path.join(args.output_dir, "curves.png"),
            [["train_cost", "valid_cost"], ["train_error_rate", "valid_error_rate"]],
            every_n_epochs=5,
        ),
        FinishAfter(after_n_epochs=args.epochs),  # before Checkpoint: the last checkpoint records the finish
        Checkpoint(os.path.join(args.output_dir, "checkpoint.tar"), every_n_epochs=5),
        Printing(compact=True, channels=["train_*", "valid_*"]),  # one line per epoch
    ]
    if not args.no_progress:
        extensions.append(ProgressBar())
    log_path = os.path.join(args.output_dir, "log.sqlite")
    if os.path.exists(log_path):
        os.remove(log_path)
    main_loop = MainLoop(
        algorithm, train_stream, model=Model(cost), log=get_log("sqlite", database=log_path), extensions=extensions
    )
    start = time.perf_counter()
    main_loop.run()
    seconds = time.perf_counter() - start
    # the last values recorded, not log.current_row: a run stopped mid-epoch (SIGTERM) ends on a row without them
    last = {"valid_error_rate": float("nan"), "train_cost": float("nan")}
    for _, row in main_loop.log.rows():
        last.update((name, float(row[name])) for name in last if name in row)
    result = {**last, "epochs": main_loop.status["epochs_done"], "seconds": seconds}
    print(
        f"\ndigits test error {100 * result['valid_error_rate']:.2f}% after {result['epochs']} epochs "
        f"in {seconds:.1f} s ({type(step_rule).__name__}, seed {args.seed})"
    )
    print(what_now(args, log_path))
    return result


def what_now(args: argparse.Namespace, log_path: str) -> str:
    """The next steps, with the exact commands for this run's files."""
    out = args.output_dir
    steps = []
    if sys.prefix != sys.base_prefix:  # in a virtual environment: how to get its commands on the path
        steps.append((f"source {os.path.relpath(sys.prefix)}/bin/activate", "blocks, fuel-* and python with both"))
    steps += [
        (f"blocks log {log_path}", "the logged channels (--csv or --json for scripts)"),
        (f"blocks checkpoint info {os.path.join(out, 'checkpoint.tar')}", "what a checkpoint holds"),
        (f"xdg-open {os.path.join(out, 'curves.png')}", "the training curves"),
        (f"export FUEL_DATA_PATH={os.path.abspath(args.data_dir)}", "where digits.hdf5 is, for your own code:"),
        ("python -c 'from fuel_datasets.digits import Digits; print(Digits((\"test\",)).num_examples)'", ""),
        ("python examples/quickstart.py --epochs 100 --hidden 300", "a longer run"),
        ("docs/tutorial.md, docs/guides/, examples/README.md", "what each part does, and more examples"),
    ]
    width = max(len(command) for command, note in steps if note) + 2
    lines = ["", "What now:"]
    lines += [f"  {command:<{width}}# {note}" if note else f"  {command}" for command, note in steps]
    return "\n".join(lines)


def _data_path(fuel_module) -> list[str]:
    try:
        return list(fuel_module.config.data_path)
    except ValueError:
        return []


if __name__ == "__main__":
    main(sys.argv[1:])
