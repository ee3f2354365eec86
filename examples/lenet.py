"""Theano tutorial 3: LeNet, two convolution + max-pooling layers, a tanh hidden layer and logistic regression.

The deeplearning.net tutorial's ``convolutional_mlp``: 5x5 convolutions with
20 and 50 filters, each followed by 2x2 max pooling and tanh, then a tanh
hidden layer of 500 units and a softmax layer; SGD with learning rate 0.1,
batch 500. The convolutional part is a ``ConvolutionalSequence`` (channels and
image sizes propagate through the layers during allocation), followed by a
``Flattener`` and an ``MLP``.

On the 8x8 ``digits`` (the default, offline) the convolutions use ``same``
padding (``border_mode="half"``) so that two 5x5 convolutions fit; on MNIST
(``--dataset mnist``) they are ``valid`` as in the tutorial.

    python examples/lenet.py                            # digits, small widths, seconds
    python examples/lenet.py --filters 20 50 --hidden 500 --epochs 100 --batch-size 50
    python examples/lenet.py --dataset mnist --filters 20 50 --hidden 500 --epochs 200 --batch-size 500 --data-dir DIR
"""

from __future__ import annotations

import math
import sys

import _common


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=8, batch_size=50, learning_rate=0.1)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument(
        "--filters", type=int, nargs=2, default=[8, 16], help="filters per layer (8 16; tutorial 20 50)"
    )
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100; the tutorial: 500)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import (
        MLP,
        Convolutional,
        ConvolutionalSequence,
        Flattener,
        MaxPooling,
        Softmax,
        Tanh,
    )
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.graph import lvector, tensor4
    from blocks.initialization import Constant, Uniform
    from blocks.model import Model

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    channels, height, width = train_x.shape[1:]
    border_mode = "half" if args.dataset == "digits" else "valid"

    x, y = tensor4("features"), lvector("targets")
    layers = []
    for index, filters in enumerate(args.filters):
        layers += [
            Convolutional((5, 5), filters, border_mode=border_mode, name=f"conv_{index}"),
            MaxPooling((2, 2), name=f"pool_{index}"),
            Tanh(name=f"tanh_{index}"),
        ]
    convnet = ConvolutionalSequence(
        layers, num_channels=channels, image_size=(height, width), biases_init=Constant(0), seed=args.seed
    )
    convnet.push_allocation_config()  # channels and image sizes reach every layer
    for layer in convnet.layers:  # the tutorial's uniform range: fan_out counts the pooling
        if isinstance(layer, Convolutional):
            fan_in = layer.num_channels * 25
            fan_out = layer.num_filters * 25 / 4
            layer.weights_init = Uniform(width=2 * math.sqrt(6.0 / (fan_in + fan_out)))
    convnet.initialize()
    features = math.prod(convnet.get_dim("output"))
    top = MLP([Tanh(), Softmax()], [features, args.hidden, 10], biases_init=Constant(0), seed=args.seed + 1)
    top.push_allocation_config()
    hidden_layer, softmax_layer = top.linear_transformations
    hidden_layer.weights_init = Uniform(width=2 * math.sqrt(6.0 / (features + args.hidden)))
    softmax_layer.weights_init = Constant(0)
    top.initialize()
    probs = top.apply(Flattener().apply(convnet.apply(x)))
    cost = CategoricalCrossEntropy().apply(y, probs)
    cost.name = "nll"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"

    algorithm = GradientDescent(cost=cost, step_rule=Scale(args.learning_rate))
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"features": train_x, "targets": train_y}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[cost, error_rate],
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
        f"{args.dataset}{'' if real else ' (generated)'}: LeNet {args.filters[0]}/{args.filters[1]} filters, "
        f"{args.hidden} hidden: test error {100 * result['test_error_rate']:.2f}% after {result['epochs']} epochs "
        f"in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
