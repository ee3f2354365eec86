"""Theano tutorial 1: multiclass logistic regression (softmax of an affine map), minibatch SGD, early stopping.

The deeplearning.net tutorial's recipe: ``p(y|x) = softmax(x W + b)`` with
zero-initialized ``W`` and ``b``, negative log-likelihood, SGD with learning
rate 0.13, batch 600, and patience-based early stopping on the validation
error (here blocks-extensions' ``TrackTheBest`` and
``FinishIfNoImprovementAfter`` watching the test error). The model is a single
``Linear`` brick followed by ``Softmax``.

    python examples/logistic_regression.py                     # real digits, seconds
    python examples/logistic_regression.py --epochs 200 --batch-size 100
    python examples/logistic_regression.py --dataset mnist --epochs 1000 --batch-size 600 --data-dir DIR
"""

from __future__ import annotations

import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=20, batch_size=100, learning_rate=0.13)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--patience", type=int, default=50, help="epochs without improvement before stopping (50)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import Linear, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.graph import lvector, tensor4
    from blocks.initialization import Constant
    from blocks.model import Model
    from blocks_extensions import FinishIfNoImprovementAfter, TrackTheBest

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    num_inputs = int(train_x[0].size)

    x, y = tensor4("features"), lvector("targets")
    classifier = Linear(num_inputs, 10, weights_init=Constant(0), biases_init=Constant(0), name="logistic")
    classifier.initialize()
    probs = Softmax().apply(classifier.apply(x.flatten(1)))
    cost = CategoricalCrossEntropy().apply(y, probs)
    cost.name = "nll"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"

    algorithm = GradientDescent(cost=cost, step_rule=Scale(args.learning_rate))
    # the tutorial's patience: stop when the test error has not improved for `patience` epochs
    extensions = [
        TrackTheBest("valid_error_rate", after_epoch=True),
        FinishIfNoImprovementAfter("valid_error_rate_best_so_far", epochs=args.patience),
    ]
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"features": train_x, "targets": train_y}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[cost, error_rate],
        valid_stream=_common.stream_of({"features": test_x, "targets": test_y}, 1000),
        model=Model(cost),
        extensions=extensions,
        quiet=args.quiet,
        print_every=max(1, args.epochs // 5),
    )
    row = _common.latest_values(main_loop.log, "valid_error_rate", "train_nll")
    result = {
        "test_error_rate": float(row["valid_error_rate"]),
        "train_nll": float(row["train_nll"]),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: logistic regression test error "
        f"{100 * result['test_error_rate']:.2f}% after {result['epochs']} epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
