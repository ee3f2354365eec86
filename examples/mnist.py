"""Blocks' MNIST example: an MLP 784-100-10 (Tanh, Softmax), L2 5e-5 on the weights, SGD 0.1, batch 50.

The recipe of Blocks' ``examples/mnist.py``: ``CategoricalCrossEntropy`` plus
``5e-5`` times the squared norm of each weight matrix (found with
``VariableFilter(roles=[WEIGHT])``), ``GradientDescent`` with ``Scale(0.1)``,
monitoring of the cost and ``MisclassificationRate`` on the training data and
on the test set every epoch.

By default it runs offline on the real 8x8 ``digits`` (an MLP 64-100-10, a few
epochs, seconds). ``--dataset mnist`` uses ``mnist.hdf5`` from ``--data-dir``
or ``fuel.config.data_path`` (made with ``fuel-download mnist --mirror
file://DIR; fuel-convert mnist``), or generated MNIST-shaped data with a
note when there is none.

    python examples/mnist.py                                  # digits, 10 epochs
    python examples/mnist.py --epochs 100                     # digits, the full run
    python examples/mnist.py --dataset mnist --epochs 50 --data-dir ~/fuel_data
"""

from __future__ import annotations

import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=10, batch_size=50, learning_rate=0.1)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    parser.add_argument("--l2", type=float, default=5e-5, help="L2 penalty on each weight matrix (default 5e-5)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Softmax, Tanh
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, lvector, tensor4
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.model import Model
    from blocks.roles import WEIGHT

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    num_inputs = int(train_x[0].size)

    x, y = tensor4("features"), lvector("targets")
    mlp = MLP(
        [Tanh(), Softmax()],
        [num_inputs, args.hidden, 10],
        weights_init=IsotropicGaussian(0.01),
        biases_init=Constant(0),
        seed=args.seed,
    )
    mlp.initialize()
    probs = mlp.apply(x.flatten(1))
    cost = CategoricalCrossEntropy().apply(y, probs)
    error_rate = MisclassificationRate().apply(y, probs)
    cg = ComputationGraph([cost])
    W1, W2 = VariableFilter(roles=[WEIGHT])(cg.variables)
    cost = cost + args.l2 * (W1**2).sum() + args.l2 * (W2**2).sum()
    cost.name = "final_cost"
    error_rate.name = "error_rate"

    algorithm = GradientDescent(cost=cost, parameters=cg.parameters, step_rule=Scale(learning_rate=args.learning_rate))
    train_stream = _common.stream_of({"features": train_x, "targets": train_y}, args.batch_size, shuffle_seed=args.seed)
    test_stream = _common.stream_of({"features": test_x, "targets": test_y}, 500)
    main_loop, seconds = _common.run_loop(
        algorithm,
        train_stream,
        epochs=args.epochs,
        monitored=[cost, error_rate],
        valid_stream=test_stream,
        model=Model(cost),
        quiet=args.quiet,
        print_every=max(1, args.epochs // 5),
    )
    row = _common.latest_values(main_loop.log, "valid_error_rate", "train_final_cost")
    result = {
        "test_error_rate": float(row["valid_error_rate"]),
        "train_cost": float(row["train_final_cost"]),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
        "real_data": real,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: MLP {num_inputs}-{args.hidden}-10 test error "
        f"{100 * result['test_error_rate']:.2f}% after {result['epochs']} epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
