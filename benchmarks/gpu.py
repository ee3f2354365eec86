"""GPU figures of the gpu-cuda issue, each a ratio measured in one run.

1. Speed-up of a GPU over this CPU for the seeds' CIFAR-10 models, one training
   step (forward, backward, SGD update) at batch 128, through GradientDescent:
   the grayscale MLP 1024-100-10 and the convnet (3 conv + 2x2 pool, 16/32/64
   filters, 200 hidden, 10 out). Figure: CPU time / GPU time.
2. Loading hidden by the overlapped copies: a loader yields CIFAR-shaped uint8
   batches from host memory; serial = copy then train, overlapped = the CUDA
   backend's prefetcher (pinned memory, side stream). Figure: fraction of the
   copy time that no longer adds to the step time.
3. Overhead of DistributedDataParallel on one GPU (a one-rank NCCL group) vs
   plain training. Figure: DDP time / plain time.

Each figure interleaves the two configurations, >= 15 paired repeats, and prints
the median and range of the ratio. Without CUDA only the CPU side of figure 1
runs (and says so); ``--quick`` is a seconds-long smoke run.

    python benchmarks/gpu.py                 # on a machine with a GPU and blocks-gpu-cuda
    python benchmarks/gpu.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy
import torch


def build(model: str, backend: Any, distributed: bool | None = False) -> tuple[Any, dict[str, numpy.ndarray]]:
    """The algorithm of one seed model and a batch of 128 CIFAR-shaped examples."""
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Rectifier, Softmax, Tanh
    from blocks.bricks.conv import Convolutional, ConvolutionalSequence, Flattener, MaxPooling
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.graph import lmatrix, matrix, tensor4
    from blocks.initialization import Constant, IsotropicGaussian

    rng = numpy.random.default_rng(0)
    init = {"weights_init": IsotropicGaussian(0.01), "biases_init": Constant(0)}
    y = lmatrix("targets")
    if model == "mlp":
        x = matrix("features")
        probs = MLP([Tanh(), Softmax()], [1024, 100, 10], **init).apply(x)
        batch = {"features": rng.random((128, 1024), dtype=numpy.float32)}
    else:
        x = tensor4("features")
        layers = []
        for i, filters in enumerate((16, 32, 64)):
            layers += [Convolutional((5, 5), filters, border_mode="same", name=f"conv_{i}"),
                       Rectifier(name=f"relu_{i}"), MaxPooling((2, 2), name=f"pool_{i}")]
        convnet = ConvolutionalSequence(layers, num_channels=3, image_size=(32, 32), **init)
        features = Flattener().apply(convnet.apply(x))
        probs = MLP([Rectifier(), Softmax()], [64 * 4 * 4, 200, 10], **init).apply(features)
        batch = {"features": rng.random((128, 3, 32, 32), dtype=numpy.float32)}
    batch["targets"] = rng.integers(0, 10, size=(128, 1))
    cost = CategoricalCrossEntropy().apply(y.flatten(), probs)
    algorithm = GradientDescent(cost, step_rule=Scale(0.01), backend=backend, distributed=distributed)
    algorithm.initialize()
    return algorithm, batch


def timed(step: Callable[[], None], repeats: int, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    sync()
    return (time.perf_counter() - start) / repeats


def paired(a: Callable[[], float], b: Callable[[], float], pairs: int) -> list[float]:
    """Ratios a/b, interleaved (a, b, b, a, ...) so drifts hit both sides alike."""
    ratios = []
    for i in range(pairs):
        if i % 2:
            tb, ta = b(), a()
        else:
            ta, tb = a(), b()
        ratios.append(ta / tb)
    return ratios


def report(name: str, ratios: list[float], target: str) -> None:
    print(f"{name}: median {statistics.median(ratios):.3f}  range {min(ratios):.3f}-{max(ratios):.3f}  "
          f"({len(ratios)} paired repeats; {target})")


def figure_speedup(args: argparse.Namespace, cuda: bool) -> None:
    from blocks.backends import get_backend

    cpu = get_backend("cpu")
    for model in ("mlp", "cnn"):
        cpu_alg, cpu_batch = build(model, cpu)
        steps = 1 if args.quick else (20 if model == "mlp" else 3)
        cpu_step = lambda: cpu_alg.process_batch(cpu_batch)  # noqa: E731
        if not cuda:
            seconds = timed(cpu_step, steps, lambda: None)
            print(f"speed-up {model}: no CUDA device here; CPU step {1000 * seconds:.1f} ms at batch 128 "
                  f"({torch.get_num_threads()} threads). Run on a GPU machine for the ratio.")
            continue
        gpu = get_backend("cuda")
        gpu_alg, gpu_batch = build(model, gpu)
        gpu_batch = gpu.place_batch(gpu_batch)
        for _ in range(5):  # warm-up: cuDNN autotuning, allocator
            gpu_alg.process_batch(gpu_batch)
        gpu_steps = 50
        ratios = paired(lambda: timed(cpu_step, steps, lambda: None),
                        lambda: timed(lambda: gpu_alg.process_batch(gpu_batch), gpu_steps, gpu.synchronize),
                        args.pairs)
        report(f"speed-up {model} (CPU time / GPU time)", ratios, "Theano's blog post saw up to 15x on a convnet")


def figure_overlap(args: argparse.Namespace) -> None:
    from blocks.backends import get_backend

    gpu = get_backend("cuda")
    algorithm, batch = build("cnn", gpu)
    host = [{"features": numpy.random.default_rng(i).random((128, 3, 32, 32), dtype=numpy.float32),
             "targets": batch["targets"]} for i in range(8)]

    def serial() -> float:
        gpu.synchronize()
        start = time.perf_counter()
        for b in host:
            algorithm.process_batch(gpu.place_batch(b))
        gpu.synchronize()
        return time.perf_counter() - start

    def overlapped() -> float:
        gpu.synchronize()
        start = time.perf_counter()
        for b in gpu.prefetch(host):
            algorithm.process_batch(b)
        gpu.synchronize()
        return time.perf_counter() - start

    def copies() -> float:
        gpu.synchronize()
        start = time.perf_counter()
        for b in host:
            gpu.place_batch(b)
        gpu.synchronize()
        return time.perf_counter() - start

    def compute() -> float:
        placed = [gpu.place_batch(b) for b in host]
        gpu.synchronize()
        start = time.perf_counter()
        for b in placed:
            algorithm.process_batch(b)
        gpu.synchronize()
        return time.perf_counter() - start

    for _ in range(3):
        serial(), overlapped()
    hidden = []
    for _ in range(args.pairs):
        t_serial, t_overlap, t_copy, t_compute = serial(), overlapped(), copies(), compute()
        hidden.append(min(1.0, max(0.0, (t_serial - t_overlap) / max(t_copy, 1e-9))))
        del t_compute
    report("loading hidden by overlapped copies (fraction of copy time)", hidden, "1.0 = fully hidden")


def figure_ddp(args: argparse.Namespace) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from blocks.backends import get_backend

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda", 0))
    try:
        gpu = get_backend("cuda")
        plain, batch = build("cnn", gpu)
        wrapped, _ = build("cnn", gpu)
        module = wrapped._function.graph_module
        wrapped._function.set_forward(DistributedDataParallel(module))  # what distributed=True does with >1 rank
        batch = gpu.place_batch(batch)
        for alg in (plain, wrapped):
            for _ in range(5):
                alg.process_batch(batch)
        ratios = paired(lambda: timed(lambda: wrapped.process_batch(batch), 30, gpu.synchronize),
                        lambda: timed(lambda: plain.process_batch(batch), 30, gpu.synchronize), args.pairs)
        report("DDP overhead on one GPU (DDP time / plain time)", ratios, "lower is better, 1.0 = free")
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one step per side, 2 pairs")
    parser.add_argument("--pairs", type=int, default=15, help="paired repeats (default 15)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs = 2
    cuda = torch.cuda.is_available()
    if cuda:
        from blocks.plugins import get_registry

        if "cuda" not in get_registry("backends"):
            print("CUDA is available but blocks-gpu-cuda is not installed: pip install packages/gpu-cuda")
            return 1
    device = f"available: {torch.cuda.get_device_name(0)}" if cuda else "not available"
    print(f"torch {torch.__version__}; CUDA {device}")
    figure_speedup(args, cuda)
    if cuda:
        figure_overlap(args)
        figure_ddp(args)
    else:
        print("overlapped copies and DDP overhead: need a CUDA device (skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
