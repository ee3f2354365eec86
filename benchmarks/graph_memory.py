"""Many models in one process: time per model and memory stay flat (the graph of a dropped model is freed).

Builds and compiles ``--models`` small models one after the other in this process (an MLP 64-100-10 with a
softmax, its categorical cross-entropy and ``GradientDescent`` with Adam-like state, dropped after use, as in a
grid search or a notebook). The time of each of the first ``--repeats`` models (after ``--warm-up`` more) is
paired with the time of the model at the same place among the last ``--repeats``; the script prints the median
and range of the paired ratios end/start (target: median <= 1.2), the resident-memory growth from after the
warm-up to the end (target: <= 20 MB for 1 000 models) and how many graph nodes are alive at the end after a
garbage collection (target: those of one model, not of all). CPU time, one torch thread.

Usage: ``python benchmarks/graph_memory.py [--models N] [--repeats N]`` (default 1000 and 25), ``--quick`` for
a smoke run (60 models, 15 repeats).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Rectifier, Softmax
from blocks.bricks.cost import CategoricalCrossEntropy
from blocks.graph import get_tape, lmatrix, matrix
from blocks.initialization import Constant, IsotropicGaussian


def resident_mb() -> float:
    """Resident memory of this process in MB (Linux ``/proc``; ``ru_maxrss`` elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_model() -> float:
    """Build, compile and run one batch of a small model; return its CPU time. Nothing of it is kept."""
    start = time.process_time()
    x, y = matrix("features"), lmatrix("targets").flatten()
    mlp = MLP([Rectifier(), Softmax()], [64, 100, 10], weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
    algorithm = GradientDescent(cost, step_rule=Scale(0.1), backend="cpu")
    algorithm.initialize()
    algorithm.process_batch({"features": torch.ones(4, 64), "targets": torch.zeros(4, 1, dtype=torch.int64)})
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="models to build (default 1000)")
    parser.add_argument("--repeats", type=int, default=25, help="paired models at the start and the end (25)")
    parser.add_argument("--warm-up", type=int, default=20, help="models before the start window (20)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 60 models, 15 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.repeats, args.warm_up = 60, 15, 5
    if args.models < args.warm_up + 2 * args.repeats:
        parser.error("--models must be at least --warm-up + 2 * --repeats")
    torch.set_num_threads(1)
    times = []
    for index in range(args.models):
        times.append(one_model())
        if index == args.warm_up - 1:
            gc.collect()
            baseline_mb, baseline_nodes = resident_mb(), get_tape().live_nodes()
    end_mb = resident_mb()  # no collection forced: what a long-lived process sees
    gc.collect()
    alive = get_tape().live_nodes()
    start = times[args.warm_up:args.warm_up + args.repeats]
    end = times[-args.repeats:]
    ratios = [b / a for a, b in zip(start, end)]
    median = statistics.median(ratios)
    growth = end_mb - baseline_mb
    print(f"{args.models} models; time per model end/start: median {median:.3f} range [{min(ratios):.3f}, "
          f"{max(ratios):.3f}] over {len(ratios)} pairs (start median {statistics.median(start) * 1e3:.1f} ms; "
          f"target <= 1.2) {'OK' if median <= 1.2 else 'OVER'}")
    print(f"resident memory growth after the warm-up: {growth:.1f} MB (target <= 20 MB for 1000 models) "
          f"{'OK' if growth <= 20 * args.models / 1000 or args.quick else 'OVER'}")
    print(f"graph nodes alive at the end after gc: {alive} (after the warm-up: {baseline_nodes}; the tape keeps "
          f"the newest node, so the last model's graph)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
