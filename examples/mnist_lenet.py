"""Blocks' MNIST LeNet example: conv 5x5 (20, 50 filters, ``full`` borders) + 2x2 max pooling, ReLU, MLP 500, SGD 0.1.

The recipe of Blocks' ``examples/mnist_lenet.py``: a ``LeNet`` brick made of a
``ConvolutionalSequence`` (``Convolutional`` + ``Rectifier`` + ``MaxPooling``
per layer, border mode ``full``), a ``Flattener`` and an MLP (Rectifier
hidden layers, Softmax output), Blocks' per-layer uniform initialization
widths (0.2, 0.09 for the convolutions; 0.08, 0.11 for the MLP),
``GradientDescent`` with ``Scale(0.1)``, batch 500 on MNIST (``--batch-size
500``; the default here is 50, as the 1,437 digits make 3 batches of 500), cost and
``MisclassificationRate`` monitored on the test set every epoch, and a
checkpoint at the end.

With ``full`` borders the recipe fits the 8x8 ``digits`` as is (the default,
offline); ``--dataset mnist`` uses ``mnist.hdf5`` from ``--data-dir`` or the
data path (generated MNIST-shaped data, with a note, when there is none).

    python examples/mnist_lenet.py                                  # digits, seconds
    python examples/mnist_lenet.py --epochs 100 --batch-size 50
    python examples/mnist_lenet.py --dataset mnist --epochs 20 --batch-size 500 --data-dir DIR
"""

from __future__ import annotations

import math
import os
import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=4, batch_size=50, learning_rate=0.1)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--feature-maps", type=int, nargs="+", default=[20, 50], help="filters per layer (20 50)")
    parser.add_argument("--mlp-hiddens", type=int, nargs="+", default=[500], help="MLP hidden sizes (500)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "mnist_lenet"), help="checkpoint folder")
    return parser.parse_args(argv)


def build_lenet(image_shape, feature_maps, mlp_hiddens, seed):
    """Blocks' ``LeNet``: conv/ReLU/pool layers, a flattener and an MLP, initialized like Blocks' example."""
    from blocks.bricks import MLP, Convolutional, ConvolutionalSequence, MaxPooling, Rectifier, Softmax
    from blocks.initialization import Constant, Uniform

    channels, height, width = image_shape
    layers = []
    for index, filters in enumerate(feature_maps):
        layers += [
            Convolutional((5, 5), filters, border_mode="full", name=f"conv_{index}"),
            Rectifier(name=f"conv_rectifier_{index}"),
            MaxPooling((2, 2), name=f"pool_{index}"),
        ]
    convnet = ConvolutionalSequence(
        layers,
        num_channels=channels,
        image_size=(height, width),
        weights_init=Uniform(width=0.2),
        biases_init=Constant(0),
        seed=seed,
        name="conv_sequence",
    )
    convnet.push_allocation_config()
    widths = [0.2, 0.09] + [0.09] * (len(feature_maps) - 2)
    for layer, width_ in zip([la for la in convnet.layers if isinstance(la, Convolutional)], widths):
        layer.weights_init = Uniform(width=width_)
    convnet.initialize()
    features = math.prod(convnet.get_dim("output"))
    top = MLP(
        [Rectifier() for _ in mlp_hiddens] + [Softmax()],
        [features, *mlp_hiddens, 10],
        weights_init=Uniform(width=0.08),
        biases_init=Constant(0),
        seed=seed + 1,
        name="top_mlp",
    )
    top.push_allocation_config()
    top.linear_transformations[-1].weights_init = Uniform(width=0.11)
    top.initialize()
    return convnet, top


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import Flattener
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.extensions import Checkpoint
    from blocks.graph import lvector, tensor4
    from blocks.model import Model

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    convnet, top = build_lenet(train_x.shape[1:], args.feature_maps, args.mlp_hiddens, args.seed)
    x, y = tensor4("features"), lvector("targets")
    probs = top.apply(Flattener().apply(convnet.apply(x)))
    cost = CategoricalCrossEntropy().apply(y, probs)
    cost.name = "cost"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"

    os.makedirs(args.output_dir, exist_ok=True)
    algorithm = GradientDescent(cost=cost, step_rule=Scale(args.learning_rate))
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"features": train_x, "targets": train_y}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[cost, error_rate],
        valid_stream=_common.stream_of({"features": test_x, "targets": test_y}, 1000),
        model=Model(cost),
        extensions=[Checkpoint(os.path.join(args.output_dir, "checkpoint.tar"), after_training=True)],
        quiet=args.quiet,
        print_every=max(1, args.epochs // 4),
    )
    row = _common.latest_values(main_loop.log, "valid_error_rate", "train_cost")
    result = {
        "test_error_rate": float(row["valid_error_rate"]),
        "train_cost": float(row["train_cost"]),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: LeNet {args.feature_maps} / MLP {args.mlp_hiddens}: "
        f"test error {100 * result['test_error_rate']:.2f}% after {result['epochs']} epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
