"""Step time of Blocks' step rules vs their ``torch.optim`` equivalents (``foreach=True``).

``--rule`` picks the pair (default ``all``: each in turn):

* ``clip-adam``: ``CompositeRule([StepClipping, Adam])`` vs ``clip_grad_norm_``
  + ``torch.optim.Adam``;
* ``momentum``: ``Momentum(0.01, 0.9)`` vs ``torch.optim.SGD(momentum=0.9)``;
* ``nesterov``: ``NesterovMomentum(0.01, 0.9)`` vs ``SGD(nesterov=True)``;
* ``composed-momentum``: Blocks' composition ``CompositeRule([Scale,
  BasicMomentum])`` vs ``SGD(momentum=0.9)`` (what chaining costs).

The model is a stack of big ``Linear`` layers (about 25M parameters by
default). Both sides get their own copy of the parameters and of a fixed set of
gradients; a "step" is what the optimizer does once the gradients exist:

* baseline: the ``torch.optim`` optimizer's ``step()`` (after
  ``clip_grad_norm_(parameters, 1.0, foreach=True)`` for ``clip-adam``);
* Blocks: ``rule.update_parameters(parameters, gradients)``, exactly what
  ``GradientDescent`` does (Adam's last operation is one ``addcdiv_`` on the
  parameters, Momentum's one ``sub_``); with ``--materialize-steps``: ``steps =
  rule.compute_steps(parameters, gradients)`` then ``torch._foreach_sub_``
  (``GradientDescent``'s path when ``total_step_norm`` is monitored).

Before every step both sides get fresh gradient values (copied in, untimed), as
after a backward pass.

The two are interleaved (alternating which goes first), ``--repeats`` paired
repeats (default 15) of ``--steps`` steps each after a warm-up; the script
prints the median and range of the per-repeat ratio Blocks / baseline and the
target of issue 6 (<= 1.2). ``--quick``: a small model and 2 repeats (a smoke
run for CI, not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from blocks.algorithms import CompositeRule, Scale
from blocks_step_rules import Adam, BasicMomentum, Momentum, NesterovMomentum, StepClipping

TARGET = 1.2

RULES = {
    # name: (label, Blocks rule factory, baseline optimizer factory, clip the baseline's gradients first)
    "clip-adam": ("CompositeRule([StepClipping, Adam])",
                  lambda: CompositeRule([StepClipping(1.0), Adam(learning_rate=1e-3)]),
                  lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True), True),
    "momentum": ("Momentum", lambda: Momentum(0.01, 0.9),
                 lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=True), False),
    "nesterov": ("NesterovMomentum", lambda: NesterovMomentum(0.01, 0.9),
                 lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, foreach=True), False),
    "composed-momentum": ("CompositeRule([Scale, BasicMomentum])",
                          lambda: CompositeRule([Scale(0.01), BasicMomentum(0.9)]),
                          lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=True), False),
}


def make_parameters(width: int, layers: int, seed: int = 0) -> list[torch.nn.Parameter]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(layers)])
    return list(model.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", choices=[*RULES, "all"], default="all", help="which pair to time (default all)")
    parser.add_argument("--repeats", type=int, default=15, help="paired repeats (default 15)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps timed per repeat and side")
    parser.add_argument("--width", type=int, default=2236, help="Linear width (default 2236: 5M parameters each)")
    parser.add_argument("--layers", type=int, default=5, help="number of Linear layers (default 5)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--materialize-steps", action="store_true",
                        help="compute_steps + _foreach_sub_ (GradientDescent's path when total_step_norm is monitored)")
    parser.add_argument("--quick", action="store_true", help="small model, 2 repeats: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps, args.width, args.layers = 2, 2, 256, 3
    if args.repeats < 1 or args.steps < 1:
        parser.error("--repeats and --steps must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in RULES if args.rule == "all" else [args.rule]:
        measure(name, args)
    return 0


def measure(name: str, args: argparse.Namespace) -> None:
    """Time one pair of :data:`RULES` and print its ratio."""
    label, make_rule, make_optimizer, clip = RULES[name]
    baseline_parameters = make_parameters(args.width, args.layers)
    blocks_parameters = [p.detach().clone() for p in baseline_parameters]
    generator = torch.Generator().manual_seed(1)
    gradients = [torch.randn(p.shape, generator=generator) for p in baseline_parameters]
    for p, g in zip(baseline_parameters, gradients):
        p.grad = g.clone()
    baseline_gradients = [p.grad for p in baseline_parameters]
    blocks_gradients = [g.clone() for g in gradients]
    count = sum(p.numel() for p in baseline_parameters)

    optimizer = make_optimizer(baseline_parameters)
    rule = make_rule()
    rule.initialize({f"p{i}": p for i, p in enumerate(blocks_parameters)})

    def baseline_step() -> None:
        if clip:
            torch.nn.utils.clip_grad_norm_(baseline_parameters, 1.0, foreach=True)
        optimizer.step()

    def blocks_step() -> None:
        with torch.no_grad():
            if args.materialize_steps:
                steps = rule.compute_steps(blocks_parameters, blocks_gradients)
                torch._foreach_sub_(blocks_parameters, steps)
            else:
                rule.update_parameters(blocks_parameters, blocks_gradients)

    def timed(step, gradient_buffers) -> float:
        total = 0.0
        for _ in range(args.steps):
            # fresh gradients before every step, untimed (as after a backward pass): both sides
            # overwrite them in place (clipping; Blocks' rules also write the steps into them)
            torch._foreach_copy_(gradient_buffers, gradients)
            start = time.perf_counter()
            step()
            total += time.perf_counter() - start
        return total / args.steps

    for _ in range(2):  # warm-up: allocator, lazy state of both optimizers
        timed(baseline_step, baseline_gradients)
        timed(blocks_step, blocks_gradients)

    base_times, blocks_times = [], []
    for r in range(args.repeats):
        if r % 2 == 0:
            base_times.append(timed(baseline_step, baseline_gradients))
            blocks_times.append(timed(blocks_step, blocks_gradients))
        else:
            blocks_times.append(timed(blocks_step, blocks_gradients))
            base_times.append(timed(baseline_step, baseline_gradients))
    ratios = [b / a for a, b in zip(base_times, blocks_times)]
    median = statistics.median(ratios)
    print(
        f"step rule {name}: {count / 1e6:.1f}M parameters ({args.layers} x Linear({args.width}, {args.width})), "
        f"{args.repeats} interleaved paired repeats x {args.steps} steps, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    baseline_label = f"baseline {'clip_grad_norm_ + ' if clip else ''}{type(optimizer).__name__}(foreach=True):"
    print(f"{baseline_label:47s}median {statistics.median(base_times) * 1e3:.1f} ms/step")
    label += " (steps)" if args.materialize_steps else ""
    print(f"{label + ':':47s}median {statistics.median(blocks_times) * 1e3:.1f} ms/step")
    print(f"ratio Blocks / baseline: median {median:.3f}, range {min(ratios):.3f}-{max(ratios):.3f} "
          f"(target <= {TARGET})")
    verdict = "meets" if median <= TARGET else "MISSES"
    print(f"verdict: {median:.3f}x {verdict} <= {TARGET}x" + (" (quick smoke run, not a measurement)"
                                                              if args.quick else ""))


if __name__ == "__main__":
    sys.exit(main())
