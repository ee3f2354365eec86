"""Theano tutorial 2: a multilayer perceptron, tanh hidden layer, softmax output, L1 and L2 penalties.

The deeplearning.net tutorial's recipe: one tanh hidden layer initialized
uniformly in ``±sqrt(6 / (fan_in + fan_out))`` (Glorot), a softmax output
layer, cost = negative log-likelihood ``+ L1_reg * sum|W| + L2_reg * sum W²``
over both weight matrices (``L1_reg=0.00``, ``L2_reg=0.0001``), SGD with
learning rate 0.01, batch 20 (500 hidden units on MNIST). The weights are
found in the annotated graph by role (``VariableFilter(roles=[WEIGHT])``).

    python examples/mlp.py                          # real digits, 100 hidden, seconds
    python examples/mlp.py --epochs 200 --l1 1e-5
    python examples/mlp.py --dataset mnist --hidden 500 --epochs 1000 --data-dir DIR
"""

from __future__ import annotations

import math
import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=4, batch_size=20, learning_rate=0.01)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100; the tutorial: 500)")
    parser.add_argument("--l1", type=float, default=0.0, help="L1 penalty (default 0.0)")
    parser.add_argument("--l2", type=float, default=1e-4, help="L2 penalty (default 1e-4)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Softmax, Tanh
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, lvector, tensor4
    from blocks.initialization import Constant, Uniform
    from blocks.model import Model
    from blocks.roles import WEIGHT

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    num_inputs = int(train_x[0].size)

    x, y = tensor4("features"), lvector("targets")
    mlp = MLP([Tanh(), Softmax()], [num_inputs, args.hidden, 10], biases_init=Constant(0), seed=args.seed)
    mlp.push_allocation_config()  # dimensions reach the layers
    mlp.push_initialization_config()
    for layer in mlp.linear_transformations:  # Glorot's uniform range, per layer
        layer.weights_init = Uniform(width=2 * math.sqrt(6.0 / (layer.input_dim + layer.output_dim)))
    mlp.linear_transformations[-1].weights_init = Constant(0)  # the tutorial's zero-initialized softmax layer
    mlp.initialize()
    probs = mlp.apply(x.flatten(1))
    nll = CategoricalCrossEntropy().apply(y, probs)
    nll.name = "nll"
    weights = VariableFilter(roles=[WEIGHT])(ComputationGraph([nll]).variables)
    cost = nll + args.l1 * sum(abs(w).sum() for w in weights) + args.l2 * sum((w**2).sum() for w in weights)
    cost.name = "cost"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"

    algorithm = GradientDescent(cost=cost, step_rule=Scale(args.learning_rate))
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"features": train_x, "targets": train_y}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[nll, error_rate],
        valid_stream=_common.stream_of({"features": test_x, "targets": test_y}, 1000),
        model=Model(cost),
        quiet=args.quiet,
        print_every=max(1, args.epochs // 4),
    )
    row = _common.latest_values(main_loop.log, "valid_error_rate", "train_nll")
    result = {
        "test_error_rate": float(row["valid_error_rate"]),
        "train_nll": float(row["train_nll"]),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: MLP {num_inputs}-{args.hidden}-10 (tanh, L1 {args.l1:g}, "
        f"L2 {args.l2:g}) test error {100 * result['test_error_rate']:.2f}% after {result['epochs']} epochs "
        f"in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
