"""Checkpoint cost against the plain-file baselines, and resume fast-forward cost against position.

Three figures, each a ratio to a baseline measured in the same run, interleaved (baseline, candidate, baseline,
candidate, ...; the order alternates between pairs), median and range over the paired repeats:

* ``save``: ``blocks.serialization.save_checkpoint`` of a main loop training a 25M-parameter MLP with Adam
  (parameters + both Adam buffers + loop state; atomic, fsync'ed, every member sha256-hashed) vs writing the same
  tensor bytes to a file with ``write`` + ``fsync`` plus their sha256. Target: <= 1.5.
* ``load``: ``blocks.serialization.load_checkpoint`` (every member read once into private memory, its sha256
  computed over those bytes, all tensors built on them) vs ``torch.load(weights_only=True)`` of the same tensors
  (saved with ``torch.save``) plus the sha256 of their bytes. Target: <= 1.3.
* ``params``: the same for ``blocks.serialization.load_parameters`` of that checkpoint vs ``torch.load`` + sha256
  of the parameters alone. Target: <= 1.3.
* ``resume``: restoring a Fuel pipeline (ShuffledScheme over 1,000,000 examples, batches of 100) at 99% of the
  epoch and reading the next batch vs doing the same at 1%. Target: <= 1.2, and both under 50 ms.

Usage: ``python benchmarks/checkpoint.py`` (full), ``python benchmarks/checkpoint.py --quick`` (smoke run, seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch

from blocks.algorithms import GradientDescent
from blocks.bricks import MLP, Rectifier
from blocks.extensions import FinishAfter
from blocks.graph import matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.serialization import load_checkpoint, load_parameters, save_checkpoint
from blocks_step_rules import Adam
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream


def build_loop(width: int, depth: int) -> MainLoop:
    """A main loop that has trained one batch of an MLP (so Adam's buffers are filled)."""
    x = matrix("features")
    mlp = MLP([Rectifier()] * depth, [width] * (depth + 1), weights_init=IsotropicGaussian(0.01),
              biases_init=Constant(0))
    mlp.initialize()
    cost = (mlp.apply(x) ** 2).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost=cost, step_rule=Adam(1e-3))
    data = IndexableDataset({"features": np.random.default_rng(0).standard_normal((8, width)).astype(np.float32)})
    stream = DataStream(data, iteration_scheme=ShuffledScheme(8, 4, rng=1))
    loop = MainLoop(algorithm, stream, model=Model(cost), extensions=[FinishAfter(after_n_batches=1)])
    loop.run()
    return loop


def _tensors(state: object) -> Iterable[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        yield state
    elif isinstance(state, dict):
        for value in state.values():
            yield from _tensors(value)
    elif isinstance(state, (list, tuple)):
        for value in state:
            yield from _tensors(value)


def _detached(state: object) -> object:
    """The same nesting with plain tensors (no Python attributes such as roles, which torch.load refuses)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, dict):
        return {k: _detached(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_detached(v) for v in state]
    return state


def _bytes_of(tensor: torch.Tensor) -> memoryview:
    return memoryview(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy())


def plain_write(path: str, tensors: list[torch.Tensor]) -> str:
    """The baseline: write the bytes, fsync, and sha256 them."""
    digest = hashlib.sha256()
    with open(path, "wb", buffering=0) as f:
        for tensor in tensors:
            view = _bytes_of(tensor)
            digest.update(view)
            f.write(view)
        os.fsync(f.fileno())
    return digest.hexdigest()


def torch_load_and_hash(path: str) -> str:
    """The baseline: torch.load(weights_only=True) and the sha256 of every tensor's bytes."""
    digest = hashlib.sha256()
    for tensor in _tensors(torch.load(path, weights_only=True)):
        digest.update(_bytes_of(tensor))
    return digest.hexdigest()


def paired(baseline: Callable[[], object], candidate: Callable[[], object], repeats: int) -> list[tuple[float, float]]:
    """Interleaved (baseline seconds, candidate seconds) pairs, alternating which runs first."""
    baseline(), candidate()  # warm up
    pairs = []
    for i in range(repeats):
        times = {}
        order = [("b", baseline), ("c", candidate)] if i % 2 == 0 else [("c", candidate), ("b", baseline)]
        for key, fn in order:
            start = time.perf_counter()
            fn()
            times[key] = time.perf_counter() - start
        pairs.append((times["b"], times["c"]))
    return pairs


def report(name: str, pairs: list[tuple[float, float]], target: float, base_label: str, cand_label: str) -> bool:
    ratios = [c / b for b, c in pairs]
    med = statistics.median(ratios)
    ok = med <= target
    print(f"{name:7s} ratio median {med:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {len(pairs)} pairs, "
          f"target <= {target}) {'OK' if ok else 'OVER'}; {base_label} median "
          f"{statistics.median(b for b, _ in pairs) * 1e3:.1f} ms, {cand_label} median "
          f"{statistics.median(c for _, c in pairs) * 1e3:.1f} ms")
    return ok


def bench_save_load(width: int, depth: int, repeats: int, directory: str) -> bool:
    loop = build_loop(width, depth)
    params = loop.model.get_persistent_dict()
    optimizer = loop.algorithm.state_dict()
    tensors = [*params.values(), *_tensors(optimizer)]
    n_params = sum(t.numel() for t in params.values())
    n_bytes = sum(t.numel() * t.element_size() for t in tensors)
    print(f"model: {n_params / 1e6:.1f}M parameters; parameters + Adam buffers = {n_bytes / 2**20:.0f} MiB")
    ckpt, plain, pt = (os.path.join(directory, n) for n in ("ckpt.tar", "plain.bin", "state.pt"))
    ok = report("save", paired(lambda: plain_write(plain, tensors), lambda: save_checkpoint(ckpt, loop), repeats),
                1.5, "write+fsync+sha256", "save_checkpoint")
    torch.save(_detached({"parameters": dict(params), "optimizer": optimizer}), pt)
    ok &= report("load", paired(lambda: torch_load_and_hash(pt), lambda: load_checkpoint(ckpt), repeats),
                 1.3, "torch.load+sha256", "load_checkpoint")
    params_pt = os.path.join(directory, "parameters.pt")
    torch.save(_detached(dict(params)), params_pt)
    ok &= report("params", paired(lambda: torch_load_and_hash(params_pt), lambda: load_parameters(ckpt), repeats),
                 1.3, "torch.load+sha256", "load_parameters")
    return ok


def bench_resume(num_examples: int, batch_size: int, repeats: int) -> bool:
    data = IndexableDataset({"features": np.arange(num_examples, dtype=np.int64)})

    def stream() -> DataStream:
        return DataStream(data, iteration_scheme=ShuffledScheme(num_examples, batch_size, rng=3))

    def state_at(fraction: float) -> dict:
        s = stream()
        it = s.get_epoch_iterator(as_dict=True)
        for _ in range(int(fraction * num_examples / batch_size)):
            next(it)
        return {"stream": s.state_dict(), "iterator": it.state_dict()}

    early, late = state_at(0.01), state_at(0.99)

    def resume(state: dict) -> Callable[[], object]:
        def run() -> object:
            s = stream()
            s.load_state_dict(state["stream"])
            it = s.get_epoch_iterator(as_dict=True)
            it.load_state_dict(state["iterator"])
            return next(it)
        return run

    expected = stream()
    expected_it = expected.get_epoch_iterator(as_dict=True)
    for _ in range(int(0.99 * num_examples / batch_size)):
        next(expected_it)
    assert np.array_equal(resume(late)()["features"], next(expected_it)["features"]), "resume gave another batch"
    pairs = paired(resume(early), resume(late), repeats)
    ok = report("resume", pairs, 1.2, "at 1%", "at 99%")
    slowest = max(statistics.median(b for b, _ in pairs), statistics.median(c for _, c in pairs))
    print(f"resume  slowest median {slowest * 1e3:.1f} ms (target < 50 ms) {'OK' if slowest < 0.05 else 'OVER'}")
    permutations = []
    for _ in range(5):
        start = time.perf_counter()
        np.random.default_rng((3, 0)).permutation(num_examples)
        permutations.append(time.perf_counter() - start)
    print(f"resume  context: one bare numpy permutation of {num_examples:,} indices takes "
          f"{statistics.median(permutations) * 1e3:.1f} ms on this machine (the shuffled order of an epoch)")
    return ok and slowest < 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 3 repeats (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="paired repeats (default 15, quick 3)")
    parser.add_argument("--dir", default=None, help="directory for the files (default: a temporary one)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 15)
    width, depth = (256, 2) if args.quick else (2048, 6)  # 6 x (2048 x 2048 + 2048) = 25.2M parameters
    examples = 10_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        ok = bench_save_load(width, depth, repeats, directory)
    ok &= bench_resume(examples, 100, repeats)
    print("all targets met" if ok else "some targets missed")


if __name__ == "__main__":
    main()
