"""Blocks' sqrt example: an MLP learns the square root from generated numbers, checkpointed as it goes.

Numbers drawn uniformly from ``[0, 1)`` (a seeded sample of ``batches *
batch_size`` numbers) and their roots; an MLP 1-``hidden``-1 (Tanh, Identity) trained with
``SquaredError`` and plain SGD; a ``Checkpoint`` every few epochs that
``--resume`` continues from; at the end, the learned function at a few points
next to ``math.sqrt``.

    python examples/sqrt.py                       # seconds
    python examples/sqrt.py --epochs 200 --hidden 20 --output-dir runs/sqrt
    python examples/sqrt.py --epochs 400 --resume --output-dir runs/sqrt   # continue the run above
"""

from __future__ import annotations

import math
import os
import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=20, batch_size=10, learning_rate=0.1)
    parser.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    parser.add_argument("--batches", type=int, default=50, help="batches per epoch (default 50)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "sqrt"), help="checkpoint folder")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output-dir")
    return parser.parse_args(argv)


def make_stream(seed: int, batches: int, batch_size: int):
    import numpy

    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    rng = numpy.random.default_rng(seed)
    numbers = rng.uniform(size=(batches * batch_size, 1)).astype("float32")
    dataset = IndexableDataset({"numbers": numbers, "roots": numpy.sqrt(numbers)})
    return DataStream(dataset, iteration_scheme=SequentialScheme(len(numbers), batch_size))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    import torch

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.bricks.cost import SquaredError
    from blocks.extensions import Checkpoint
    from blocks.graph import ComputationGraph, matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.model import Model

    x, y = matrix("numbers"), matrix("roots")
    mlp = MLP(
        [Tanh(), Identity()],
        [1, args.hidden, 1],
        weights_init=IsotropicGaussian(0.5),
        biases_init=Constant(0),
        seed=args.seed,
    )
    mlp.initialize()
    predicted = mlp.apply(x)
    cost = SquaredError().apply(y, predicted)
    cost.name = "cost"

    os.makedirs(args.output_dir, exist_ok=True)
    checkpoint_path = os.path.join(args.output_dir, "checkpoint.tar")
    algorithm = GradientDescent(cost=cost, step_rule=Scale(args.learning_rate))
    train_stream = make_stream(args.seed, args.batches, args.batch_size)
    valid_stream = make_stream(args.seed + 1, 10, 100)
    extensions = [Checkpoint(checkpoint_path, every_n_epochs=max(1, args.epochs // 4), after_training=True)]
    if args.resume:
        from blocks.extensions import Load

        if not os.path.isfile(checkpoint_path):
            raise SystemExit(f"--resume: no checkpoint at {checkpoint_path}; run once without --resume first")
        extensions.append(Load(checkpoint_path))
    main_loop, seconds = _common.run_loop(
        algorithm,
        train_stream,
        epochs=args.epochs,
        monitored=[cost],
        valid_stream=valid_stream,
        model=Model(cost),
        extensions=extensions,
        quiet=args.quiet,
        print_every=max(1, args.epochs // 4),
    )
    fn = ComputationGraph([predicted]).compile()
    points = [0.04, 0.25, 0.5, 0.81]
    values = fn({"numbers": torch.tensor([[p] for p in points])})[0].reshape(-1).tolist()
    row = _common.latest_values(main_loop.log, "valid_cost")
    result = {
        "valid_cost": float(row["valid_cost"]),
        "max_abs_error": max(abs(v - math.sqrt(p)) for v, p in zip(values, points)),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print("  ".join(f"sqrt({p:g}) ~ {v:.3f} ({math.sqrt(p):.3f})" for p, v in zip(points, values)))
    print(
        f"sqrt: validation squared error {result['valid_cost']:.2e} after {result['epochs']} epochs in "
        f"{seconds:.1f} s; checkpoint {checkpoint_path}"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
