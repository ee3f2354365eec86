"""Soak test: train for N minutes through the data server, an SQLite log and checkpoints; watch memory and files.

A long-lived training process must not grow: this script trains a small MLP
(bricks, ``GradientDescent``) on generated data served by a ``DataServer``
(in a thread; ``ServerDataStream`` reads it over TCP), logs to SQLite and
writes a checkpoint after every epoch, for ``--minutes``. After every epoch
it records the resident memory (RSS), the open file descriptors and the cost.
It fails (exit status 1) when the cost is not finite, when the descriptors at
the end exceed those after the warm-up, or when the memory grew by more than
``--max-rss-growth-mb`` after the warm-up. Not part of CI (it runs for
minutes); run it on a quiet machine:

    python scripts/soak.py --minutes 5
    python scripts/soak.py --minutes 60 --report-every 300
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux ``/proc``; elsewhere the peak from ``getrusage``)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def open_descriptors() -> int:
    """Open file descriptors of this process."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(folder):
            return len(os.listdir(folder))
    return -1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to train (default 5)")
    parser.add_argument("--warmup-epochs", type=int, default=5, help="epochs before the baseline is taken")
    parser.add_argument("--max-rss-growth-mb", type=float, default=20.0,
                        help="allowed growth of resident memory after the warm-up (default 20 MB)")
    parser.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--examples", type=int, default=2000, help="examples per epoch (default 2000)")
    return parser.parse_args(argv)


def build(folder: str, args: argparse.Namespace):
    """The server, the main loop and the list of samples (time, RSS, descriptors, cost) filled after each epoch."""
    import numpy as np

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.extensions import Checkpoint, SimpleExtension
    from blocks.graph import lmatrix, matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.log.sqlite import SQLiteLog
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import ShuffledScheme
    from fuel.server import DataServer, ServerDataStream
    from fuel.streams import DataStream

    rng = np.random.default_rng(0)
    features = rng.standard_normal((args.examples, 64)).astype("float32")
    targets = features[:, :10].argmax(axis=1).astype("int64").reshape(-1, 1)
    served = DataStream(IndexableDataset({"features": features, "targets": targets}),
                        iteration_scheme=ShuffledScheme(args.examples, 50, rng=1))
    server = DataServer(served, port=0)
    server.start_thread()
    stream = ServerDataStream(("features", "targets"), produces_examples=False, port=server.port)

    x, y = matrix("features"), lmatrix("targets").flatten()
    mlp = MLP([Rectifier(), Softmax()], [64, 100, 10], weights_init=IsotropicGaussian(0.1),
              biases_init=Constant(0), seed=1)
    mlp.initialize()
    cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
    cost.name = "cost"
    algorithm = GradientDescent(cost=cost, step_rule=Scale(0.05))
    algorithm.add_monitored([cost])
    samples: list[tuple[float, float, int, float]] = []
    deadline = time.monotonic() + args.minutes * 60
    reported = [time.monotonic()]

    class Watch(SimpleExtension):
        """Sample memory, descriptors and the last cost; report now and then; stop at the deadline."""

        def do(self, which_callback, *_):
            value = float(algorithm.monitored_values["cost"])
            samples.append((time.monotonic(), rss_mb(), open_descriptors(), value))
            now = samples[-1][0]
            if now - reported[0] >= args.report_every:
                reported[0] = now
                print(f"soak: epoch {len(samples):5d}  rss {samples[-1][1]:8.1f} MB  fds {samples[-1][2]:4d}  "
                      f"cost {value:.4f}", flush=True)
            if now >= deadline:
                self.main_loop.log.current_row["training_finish_requested"] = True

    loop = MainLoop(
        algorithm, stream, model=Model(cost), log=SQLiteLog(os.path.join(folder, "log.sqlite")),
        extensions=[Watch(after_epoch=True), Checkpoint(os.path.join(folder, "checkpoint.tar"), every_n_epochs=1)],
    )
    return server, loop, samples


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="blocks-soak-") as folder:
        server, loop, samples = build(folder, args)
        try:
            loop.run()
        finally:
            server.stop()
        return verdict(samples, args)


def verdict(samples: list[tuple[float, float, int, float]], args: argparse.Namespace) -> int:
    """Print the summary; 0 when memory and descriptors stayed flat and every cost was finite.

    Sockets and files come and go within an epoch, so single samples are noisy:
    the first window after the warm-up is compared with the last one (a leak
    raises even the smallest descriptor count of the last window above the
    largest of the first).
    """
    measured = samples[args.warmup_epochs:]
    if len(measured) < 6:
        print(f"soak: only {len(samples)} epochs: run longer (the warm-up alone is {args.warmup_epochs} epochs)")
        return 1
    window = max(3, len(measured) // 10)
    first, last = measured[:window], measured[-window:]
    rss_first = sorted(s[1] for s in first)[window // 2]
    rss_last = sorted(s[1] for s in last)[window // 2]
    fds_first, fds_last = max(s[2] for s in first), min(s[2] for s in last)
    problems = []
    if not all(math.isfinite(s[3]) for s in samples):
        problems.append("a cost was not finite")
    if fds_last > fds_first:
        problems.append(f"open descriptors grew: at most {fds_first} after the warm-up, at least {fds_last} at the end")
    if rss_last - rss_first > args.max_rss_growth_mb:
        problems.append(f"resident memory grew by {rss_last - rss_first:.1f} MB (allowed {args.max_rss_growth_mb} MB)")
    minutes = (samples[-1][0] - samples[0][0]) / 60
    print(f"soak: {len(samples)} epochs in {minutes:.1f} min; median rss {rss_first:.1f} -> {rss_last:.1f} MB "
          f"(max {max(s[1] for s in samples):.1f}); descriptors at most {fds_first} after the warm-up, at least "
          f"{fds_last} at the end; cost {samples[0][3]:.4f} -> {samples[-1][3]:.4f}")
    for problem in problems:
        print(f"soak: FAILED: {problem}")
    if not problems:
        print("soak: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
