"""Long run: the quickstart MLP trained with Adam on digits for 100 000 batches stays finite.

Not part of CI (it takes minutes). It trains the model of ``examples/quickstart.py`` (MLP 64-100-10, rectifier
and softmax, categorical cross-entropy plus an L2 penalty, Adam with learning rate 0.003, batches of 32) with
``GradientDescent`` for ``--batches`` batches and checks after every batch that the cost is finite, and at the
end that every parameter is. ``--rewrites none`` compiles the cost without the stability rewrites, for
comparison (the cost function itself still takes the log of the targets' probabilities only).

    python scripts/long_run_finite.py                      # 100 000 batches, the default rewrites
    python scripts/long_run_finite.py --rewrites none      # the naive graph, for comparison
    python scripts/long_run_finite.py --batches 2000       # a short check

Exit status 0 when the run stayed finite, 1 when it did not (the first non-finite batch is printed).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from quickstart import build_model, prepare_digits  # noqa: E402 - the quickstart's own model and data


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100_000, help="batches to train (default 100000)")
    parser.add_argument("--rewrites", default="all", help="stability rewrites: all (default), none, names, ...")
    parser.add_argument("--learning-rate", type=float, default=0.003, help="Adam's learning rate (default 0.003)")
    parser.add_argument("--seed", type=int, default=1, help="seed of everything random (default 1)")
    parser.add_argument("--data-dir", default=os.path.join("runs", "data"), help="where digits.hdf5 is made")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the model is tiny)")
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The quickstart's model and cost (``examples/quickstart.py``'s ``build_model``) with Adam."""
    import torch

    from blocks.algorithms import GradientDescent
    from blocks.graph import ComputationGraph
    from blocks_step_rules import Adam

    torch.manual_seed(args.seed)
    cost, error_rate = build_model(100, args.seed)
    algorithm = GradientDescent(cost=cost, step_rule=Adam(learning_rate=args.learning_rate),
                                rewrites=args.rewrites, backend="cpu")
    algorithm.add_monitored([cost])  # its value after every batch: algorithm.monitored_values["cost"]
    return algorithm, ComputationGraph([cost, error_rate]).compile(rewrites=args.rewrites)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import fuel

    fuel.config.default_seed = args.seed
    prepare_digits(args.data_dir)
    fuel.config.data_path = [os.path.abspath(args.data_dir)]
    import torch

    torch.set_num_threads(args.threads)
    from fuel.schemes import SequentialScheme, ShuffledScheme
    from fuel.streams import DataStream
    from fuel.transformers import Flatten
    from fuel_datasets.digits import Digits

    algorithm, evaluate = build(args)
    algorithm.initialize()
    train, test = Digits(("train",)), Digits(("test",))
    stream = Flatten(DataStream.default_stream(train, iteration_scheme=ShuffledScheme(train.num_examples, 32,
                                                                                        rng=args.seed)),
                     which_sources=("features",))
    done, epoch, start, bad = 0, 0, time.perf_counter(), None
    print(f"training {args.batches} batches, rewrites: {', '.join(algorithm.rewrites) or 'none'}", flush=True)
    while done < args.batches and bad is None:
        for batch in stream.get_epoch_iterator(as_dict=True):
            algorithm.process_batch(batch)
            done += 1
            value = float(algorithm.monitored_values["cost"])
            if not math.isfinite(value):
                bad = (done, epoch, value)
                break
            if done % 10_000 == 0:
                print(f"  batch {done} (epoch {epoch}): cost {value:.6f} ({time.perf_counter() - start:.0f} s)",
                      flush=True)
            if done >= args.batches:
                break
        epoch += 1
    finite_parameters = all(bool(torch.isfinite(p).all()) for p in algorithm.parameters)
    test_stream = Flatten(DataStream.default_stream(test, iteration_scheme=SequentialScheme(test.num_examples,
                                                                                          test.num_examples)),
                          which_sources=("features",))
    with torch.no_grad():
        test_cost, test_error = evaluate(next(test_stream.get_epoch_iterator(as_dict=True)))
    print(f"{done} batches in {time.perf_counter() - start:.0f} s; test cost {test_cost.item():.6f}, "
          f"test error rate {test_error.item():.4f}; parameters finite: {finite_parameters}")
    if bad is not None or not finite_parameters or not math.isfinite(test_cost.item()):
        where = f"the cost was {bad[2]} at batch {bad[0]} (epoch {bad[1]})" if bad else "parameters are not finite"
        print(f"NOT FINITE: {where}")
        return 1
    print("finite throughout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
