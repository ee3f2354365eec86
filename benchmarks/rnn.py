"""Recurrent kernels of blocks_rnn against torch.nn.LSTM / torch.nn.GRU, forward + backward.

Every configuration is timed against its torch.nn baseline in the same run, interleaved (baseline, candidate,
baseline, candidate, ...), and the ratio candidate / baseline of each pair is reported (median and range).

Configurations (time-major, T=50, batch 32, input 256, hidden 512 by default), each the brick a user runs:

* ``torch_lstm``: ``TorchLSTM(return_cells=False)`` (torch's formulation on its fused kernel) vs
  ``torch.nn.LSTM``; ``torch_lstm_cells``: the same brick also recovering the cells over time;
* ``blocks_lstm``: ``Linear(256, 4 * 512)`` + Blocks' ``LSTM`` with peepholes (BPTT kernel) vs
  ``torch.nn.LSTM``;
* ``blocks_gru``: ``Linear(256, 3 * 512)`` split into ``inputs``/``gate_inputs`` + Blocks' ``GatedRecurrent``
  vs ``torch.nn.GRU``;

each without and with a mask (random right padding; the masked baseline is torch.nn on a PackedSequence plus
``pad_packed_sequence``).

Then dropout inside the recurrence (the graph's inner variables): per-sequence (variational) dropout on the
hidden states ``h_{t-1}`` the step reads, applied to the compiled graph with
``apply_dropout(cg, hidden, 0.5, recurrent_mask="sequence")``, against a hand-written ``torch.nn.LSTMCell`` loop
applying the same masks (drawn from twin generators, checked equal before timing):

* ``torch_lstm_dropout``: ``TorchLSTM`` (the same formulation as ``LSTMCell``; target <= 1.3x);
* ``blocks_lstm_dropout``: ``Linear`` + Blocks' peephole ``LSTM`` (more work per step; for information).

Usage: ``python benchmarks/rnn.py`` (full), ``python benchmarks/rnn.py --quick`` (smoke run, seconds),
``--only dropout`` / ``--only kernels`` for one part.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from blocks.bricks import Linear
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_dropout, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import INPUT
from blocks_rnn import LSTM, GatedRecurrent, TorchLSTM


def _mask(T: int, B: int, gen: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
    lengths[0] = T
    return (torch.arange(T)[:, None] < lengths[None]).float()


Pair = tuple[Callable[[], None], Callable[[], None]]


def build(T: int, B: int, n_in: int, dim: int, masked: bool) -> dict[str, Pair]:
    """Return ``name -> (baseline, candidate)`` closures running forward + backward once."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, n_in, generator=gen, requires_grad=True)
    mask = _mask(T, B, gen) if masked else None
    lengths = None if mask is None else mask.sum(0).long()
    lstm, gru = torch.nn.LSTM(n_in, dim), torch.nn.GRU(n_in, dim)

    def torch_nn(module: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            if lengths is None:
                out = module(x)[0]
            else:
                out = pad_packed_sequence(module(pack_padded_sequence(x, lengths, enforce_sorted=False))[0],
                                          total_length=T)[0]
            out.sum().backward()
        return run

    torch_lstm = TorchLSTM(input_dim=n_in, dim=dim, return_cells=False)
    torch_lstm.load_torch_module(lstm)
    torch_lstm_cells = TorchLSTM(input_dim=n_in, dim=dim)
    torch_lstm_cells.load_torch_module(lstm)

    def ours_torch_lstm(brick: TorchLSTM) -> Callable[[], None]:
        def run() -> None:
            brick.apply(inputs=x, mask=mask)[0].sum().backward()
        return run

    init = {"weights_init": IsotropicGaussian(dim ** -0.5), "biases_init": Constant(0)}
    project4 = Linear(n_in, 4 * dim, **init)
    blocks_lstm = LSTM(dim=dim, weights_init=IsotropicGaussian(dim ** -0.5))

    def ours_blocks_lstm() -> None:
        states, _ = blocks_lstm.apply(inputs=project4.apply(x), mask=mask)
        states.sum().backward()

    project3 = Linear(n_in, 3 * dim, **init)
    blocks_gru = GatedRecurrent(dim=dim, weights_init=IsotropicGaussian(dim ** -0.5))

    def ours_blocks_gru() -> None:
        projected = project3.apply(x)
        blocks_gru.apply(inputs=projected[..., :dim], gate_inputs=projected[..., dim:], mask=mask).sum().backward()

    return {"torch_lstm": (torch_nn(lstm), ours_torch_lstm(torch_lstm)),
            "torch_lstm_cells": (torch_nn(lstm), ours_torch_lstm(torch_lstm_cells)),
            "blocks_lstm": (torch_nn(lstm), ours_blocks_lstm),
            "blocks_gru": (torch_nn(gru), ours_blocks_gru)}


def build_dropout(T: int, B: int, n_in: int, dim: int, drop: float = 0.5) -> dict[str, Pair]:
    """``name -> (LSTMCell loop, compiled graph with per-sequence dropout on h_{t-1})``, forward + backward."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, n_in, generator=gen)
    cell = torch.nn.LSTMCell(n_in, dim)
    keep = 1 - drop

    def hand_loop(seed: int) -> Callable[[], torch.Tensor]:
        masks = torch.Generator().manual_seed(seed)

        def run() -> torch.Tensor:
            mask = torch.empty(B, dim).bernoulli_(keep, generator=masks).div_(keep)
            h, c = torch.zeros(B, dim), torch.zeros(B, dim)
            outputs = []
            for t in range(T):
                h, c = cell(x[t], (h * mask, c))
                outputs.append(h)
            cost = torch.stack(outputs).sum()
            cost.backward()
            return cost
        return run

    def graph(brick: torch.nn.Module, outputs: torch.Tensor, seed: int) -> Callable[[], torch.Tensor]:
        cg = ComputationGraph([outputs.sum()])
        hidden = VariableFilter(roles=[INPUT], bricks=[brick], name="states")(cg.scan_variables)
        fn = apply_dropout(cg, hidden, drop, rng=torch.Generator().manual_seed(seed),
                           recurrent_mask="sequence").compile()

        def run() -> torch.Tensor:
            (cost,) = fn({"x": x})
            cost.backward()
            return cost
        return run

    torch_lstm = TorchLSTM(input_dim=n_in, dim=dim, return_cells=False)
    torch_lstm.load_torch_module(torch.nn.LSTM(n_in, dim))
    with torch.no_grad():
        for ours, theirs in zip(torch_lstm.flat_weights, (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)):
            ours.copy_(theirs)
    init = {"weights_init": IsotropicGaussian(dim ** -0.5), "biases_init": Constant(0)}
    project = Linear(n_in, 4 * dim, **init)
    blocks_lstm = LSTM(dim=dim, weights_init=IsotropicGaussian(dim ** -0.5))
    xs = tensor3("x")
    pairs = {"torch_lstm_dropout": (hand_loop(1), graph(torch_lstm, torch_lstm.apply(inputs=xs)[0], 1)),
             "blocks_lstm_dropout": (hand_loop(2), graph(blocks_lstm, blocks_lstm.apply(project.apply(xs))[0], 2))}
    reference, ours = pairs["torch_lstm_dropout"]
    if not torch.allclose(reference(), ours(), rtol=1e-4, atol=1e-3):  # the same masks, the same function
        raise SystemExit("torch_lstm_dropout: the graph and the LSTMCell loop disagree; the comparison is void")
    pairs["blocks_lstm_dropout"][1]()
    return {name: (lambda f=baseline: f() and None, lambda f=candidate: f() and None)
            for name, (baseline, candidate) in pairs.items()}


def measure(baseline: Callable[[], None], candidate: Callable[[], None], repeats: int) -> list[float]:
    """Interleaved paired timings; returns the ratios candidate / baseline."""
    baseline()
    candidate()
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        candidate()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return ratios


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=15, help="paired repeats per configuration (>= 15)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--only", choices=["kernels", "dropout"], help="run one part only")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        sizes, repeats = (5, 4, 8, 16), 3
    else:
        sizes, repeats = (50, 32, 256, 512), max(args.repeats, 15)
    T, B, n_in, dim = sizes
    print(f"T={T} batch={B} input={n_in} hidden={dim}, forward+backward, {repeats} paired repeats, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'configuration':<24}{'baseline':<22}{'median':>8}{'min':>8}{'max':>8}")
    for masked in (False, True) if args.only != "dropout" else ():
        for name, (baseline, candidate) in build(T, B, n_in, dim, masked).items():
            ratios = measure(baseline, candidate, repeats)
            label = name + (" +mask" if masked else "")
            base = "torch.nn.GRU" if "gru" in name else "torch.nn.LSTM"
            base += " packed" if masked else ""
            print(f"{label:<24}{base:<22}{statistics.median(ratios):>7.2f}x{min(ratios):>7.2f}x{max(ratios):>7.2f}x")
    for name, (baseline, candidate) in (build_dropout(T, B, n_in, dim) if args.only != "kernels" else {}).items():
        ratios = measure(baseline, candidate, repeats)
        base = "LSTMCell loop + masks"
        print(f"{name:<24}{base:<22}{statistics.median(ratios):>7.2f}x{min(ratios):>7.2f}x{max(ratios):>7.2f}x")


if __name__ == "__main__":
    main()
