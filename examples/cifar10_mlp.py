"""The CIFAR-10 MLP of the GPU blog post, with the scikit-learn-style estimator: grayscale 1024-100-10.

``blocks.estimator.NeuralNetClassifier`` (nolearn's ``NeuralNet`` for Blocks):
the images are turned to grayscale (the mean of the three channels) and
flattened to 1,024 inputs, one hidden layer of 100 rectifier units, a softmax
over the 10 classes, Nesterov momentum with learning rate 0.01 and momentum
0.9 (the step rule resolved by registry name, ``"nesterov_momentum"``),
batch 128, 50 epochs for the full run; the estimator prints its per-epoch
table (training loss, validation loss and accuracy on a held-out 10%) and
trains on a ``MainLoop`` underneath. The test accuracy is ``net.score``.

It reads ``cifar10.hdf5`` from ``--data-dir`` / ``fuel.config.data_path``;
``--generated`` trains on a small generated CIFAR-shaped set instead
(2000 / 500 examples, or ``--generated TRAIN TEST``), for smoke runs.

    python examples/cifar10_mlp.py --generated                     # generated, seconds
    python examples/cifar10_mlp.py --data-dir DIR --epochs 50      # the blog post's run (cifar10.hdf5 in DIR)
"""

from __future__ import annotations

import sys
import time

import _common

SMOKE_ARGS = ["--generated"]  # what scripts/run_smoke.py runs: CI has no real CIFAR-10


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=3, batch_size=128, learning_rate=0.01)
    parser.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum (default 0.9)")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.estimator import NeuralNetClassifier

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        "cifar10", args.data_dir, generated=args.generated, generated_sizes=(2000, 500), seed=args.seed
    )
    train_x = train_x.mean(axis=1).reshape(len(train_x), -1)  # grayscale, 1024 inputs
    test_x = test_x.mean(axis=1).reshape(len(test_x), -1)

    net = NeuralNetClassifier(
        layers=[
            ("linear", {"output_dim": args.hidden}),
            ("rectifier", {}),
            ("linear", {"output_dim": 10}),
            ("softmax", {}),
        ],
        update="nesterov_momentum",
        update_learning_rate=args.learning_rate,
        update_momentum=args.momentum,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=0.1,
        seed=args.seed,
        device=args.device,
        verbose=0 if args.quiet else 1,
    )
    start = time.perf_counter()
    net.fit(train_x, train_y)
    seconds = time.perf_counter() - start
    accuracy = float(net.score(test_x, test_y))
    result = {"test_accuracy": accuracy, "epochs": len(net.history_), "seconds": seconds, "real_data": real}
    print(
        f"cifar10{'' if real else ' (generated)'}: grayscale MLP 1024-{args.hidden}-10, Nesterov "
        f"{args.learning_rate:g}/{args.momentum:g}: test accuracy {100 * accuracy:.2f}% after {result['epochs']} "
        f"epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
