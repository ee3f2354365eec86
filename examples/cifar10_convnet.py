"""The CIFAR-10 convnet of the GPU blog post, with the estimator: 3 × (conv + 2x2 max pooling), 200 hidden, softmax.

``blocks.estimator.NeuralNetClassifier`` with layers given by brick registry
names: three 3x3 convolutions (``same`` padding) with 16, 32 and 64 filters,
each followed by a rectifier and 2x2 max pooling (32 → 16 → 8 → 4), a
flattener, a hidden layer of 200 rectifier units and a softmax; Nesterov
momentum 0.015 / 0.9, batch 128 in the full run (the small default uses
batch 32 so that its 1,000 generated images make enough steps), held-out 10%
for the per-epoch table. The
test accuracy is ``net.score``.

It reads ``cifar10.hdf5`` from ``--data-dir`` / ``fuel.config.data_path``;
``--generated`` trains on a small generated CIFAR-shaped set instead
(1000 / 500 examples, or ``--generated TRAIN TEST``), for smoke runs.

    python examples/cifar10_convnet.py --generated                    # generated, seconds
    python examples/cifar10_convnet.py --data-dir DIR --epochs 50 --batch-size 128 --device cuda
"""

from __future__ import annotations

import sys
import time

import _common

SMOKE_ARGS = ["--generated"]  # what scripts/run_smoke.py runs: CI has no real CIFAR-10


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=3, batch_size=32, learning_rate=0.015)
    parser.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum (default 0.9)")
    parser.add_argument("--filters", type=int, nargs=3, default=[16, 32, 64], help="filters per layer (16 32 64)")
    parser.add_argument("--filter-size", type=int, default=3, help="square filter size (default 3)")
    parser.add_argument("--hidden", type=int, default=200, help="hidden units (default 200)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.estimator import NeuralNetClassifier

    (train_x, train_y), (test_x, test_y), real = _common.load_images(
        "cifar10", args.data_dir, generated=args.generated, generated_sizes=(1000, 500), seed=args.seed
    )
    layers = []
    for filters in args.filters:
        layers += [
            ("convolutional", {"filter_size": (args.filter_size,) * 2, "num_filters": filters, "border_mode": "half"}),
            ("rectifier", {}),
            ("max_pooling", {"pooling_size": (2, 2)}),
        ]
    layers += [
        ("flattener", {}),
        ("linear", {"output_dim": args.hidden}),
        ("rectifier", {}),
        ("linear", {"output_dim": 10}),
        ("softmax", {}),
    ]
    net = NeuralNetClassifier(
        layers=layers,
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
        f"cifar10{'' if real else ' (generated)'}: convnet {'/'.join(map(str, args.filters))} filters, "
        f"{args.hidden} hidden, Nesterov {args.learning_rate:g}/{args.momentum:g}: test accuracy "
        f"{100 * accuracy:.2f}% after {result['epochs']} epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
