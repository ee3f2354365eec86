"""Overhead of bricks vs ``nn.Sequential``: MLP 784-512-512-10, forward + backward.

Three paths are timed in the same run, interleaved, on identical parameters:
``nn.Sequential`` (baseline), the eager brick call ``mlp.apply(x)`` and the
compiled graph function ``ComputationGraph(...).compile()({"features": x})``.
Each repeat times ``--iterations`` forward+backward passes per path (CPU time
of the process, one torch thread); the paths' order rotates between repeats.
Prints the median and range of the per-repeat ratios brick/baseline for batch
sizes 128 and 16 (target: median <= 1.03).

Usage: ``python benchmarks/bricks_overhead.py [--quick] [--repeats N] [--iterations N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from blocks.bricks import MLP, Rectifier
from blocks.graph import ComputationGraph, matrix
from blocks.initialization import Constant, IsotropicGaussian


def build(dims):
    mlp = MLP([Rectifier(), Rectifier(), None], dims, weights_init=IsotropicGaussian(0.01), biases_init=Constant(0))
    mlp.initialize()
    layers = []
    for i, brick in enumerate(mlp.linear_transformations):
        linear = torch.nn.Linear(dims[i], dims[i + 1])
        with torch.no_grad():
            linear.weight.copy_(brick.W.T)
            linear.bias.copy_(brick.b)
        layers.append(linear)
        if i < len(mlp.linear_transformations) - 1:
            layers.append(torch.nn.ReLU())
    sequential = torch.nn.Sequential(*layers)
    features = matrix("features")
    fn = ComputationGraph([mlp.apply(features).sum()]).compile()
    return mlp, sequential, fn


def timed(step, iterations):
    # CPU time of this (single-threaded) process: robust to other processes sharing the machine.
    start = time.process_time()
    for _ in range(iterations):
        step()
    return time.process_time() - start


def run(batch, dims, repeats, iterations):
    mlp, sequential, fn = build(dims)
    x = torch.randn(batch, dims[0])
    check = [mlp.apply(x).sum(), sequential(x).sum(), fn({"features": x})[0]]
    assert torch.allclose(check[0], check[1], rtol=1e-4, atol=1e-4) and torch.allclose(check[0], check[2])

    def seq_step():
        sequential(x).sum().backward()

    def brick_step():
        mlp.apply(x).sum().backward()

    def graph_step():
        fn({"features": x})[0].backward()

    steps = {"sequential": seq_step, "bricks": brick_step, "graph": graph_step}
    for step in steps.values():
        timed(step, max(2, iterations // 4))  # warm-up
    times = {name: [] for name in steps}
    names = list(steps)
    for repeat in range(repeats):
        order = names[repeat % 3:] + names[:repeat % 3]
        for name in order:
            times[name].append(timed(steps[name], iterations))
    for name in ("bricks", "graph"):
        ratios = [b / s for b, s in zip(times[name], times["sequential"])]
        print(f"batch {batch:4d} {name:7s}/sequential: median {statistics.median(ratios):.3f} "
              f"range [{min(ratios):.3f}, {max(ratios):.3f}] "
              f"(sequential {statistics.median(times['sequential']) / iterations * 1e6:.0f} us/iter, "
              f"{len(ratios)} paired repeats)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if args.quick:
        dims, repeats, iterations, batches = [64, 32, 32, 10], 3, 3, [16]
    else:
        dims, repeats, iterations, batches = [784, 512, 512, 10], max(15, args.repeats), args.iterations, [128, 16]
    for batch in batches:
        run(batch, dims, repeats, iterations)


if __name__ == "__main__":
    main()
