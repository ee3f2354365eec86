"""AlexNet as bricks: 5 convolutions (same padding), overlapping 3x3/2 max pooling, LRN, dropout, 2 × 4096 hidden.

Krizhevsky et al. (2012), single tower: convolutions 11x11/4 (96), 5x5 (256),
3x3 (384, 384, 256), all with ``same`` padding and rectifiers; local response
normalization (``--lrn``, a small custom brick around
``torch.nn.functional.local_response_norm``) after the first two; overlapping
3x3 max pooling with step 2 after the first, second and fifth; then an MLP
4096-4096-classes whose hidden layers' outputs get dropout 0.5 — applied to
the annotated graph with ``apply_dropout`` on the ``INPUT`` of the last two
linear layers, so the monitored test graph stays deterministic. Momentum 0.9,
learning rate 0.01, weight decay 5e-4 (an L2 term on every ``WEIGHT``).

Data: ``--data-file`` takes any ImageNet-layout HDF5 file (H5PYDataset
splits ``train`` and a held-out one): either fixed-size ``features`` (batch,
3, height, width) uint8, or ``encoded_images`` (JPEG bytes, as written by
``fuel-convert ilsvrc2012``) decoded on the fly; images are upscaled to at
least ``--image-size`` and randomly cropped to it. Reading and decoding run
in a pool of ``--workers`` processes (``fuel.transformers.MultiProcessing``;
default: the machine's cores minus one; ``0``: in the training process),
overlapped with training; the batches and a resume are exactly those of the
serial stream, whatever the number of workers; on a GPU the main loop also copies
the next batch to the device while this one trains (``Backend.prefetch``). With ``--generated [N]`` instead
of ``--data-file``: N (64) generated images at a reduced image size and width (``--width`` scales every
layer), for CI and throughput figures.

Data parallel with torchrun: every rank calls
``blocks.distributed.init_distributed``, reads its shard of each global batch
(``shard_scheme``), and ``GradientDescent`` averages gradients across ranks,
weighted by examples (DistributedDataParallel underneath; uneven shards train as
one process would); rank 0 prints.

    python examples/alexnet.py --generated                         # generated 64x64 images, width 1/16, seconds
    python examples/alexnet.py --data-file ilsvrc2012.hdf5 --image-size 224 --width 1 --classes 1000 \\
        --batch-size 128 --epochs 90 --device cuda --lrn --workers 15
    torchrun --nproc_per_node 8 examples/alexnet.py --data-file ilsvrc2012.hdf5 --image-size 224 --width 1 \\
        --classes 1000 --batch-size 256 --device cuda
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import _common
import numpy
import torch

from blocks.bricks import Brick, application

SMOKE_ARGS = ["--generated"]  # what scripts/run_smoke.py runs: CI has no ImageNet


class LocalResponseNormalization(Brick):
    """Local response normalization across channels (AlexNet's section 3.3).

    Examples
    --------
    >>> LocalResponseNormalization().apply(torch.ones(1, 8, 2, 2)).shape
    torch.Size([1, 8, 2, 2])
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Normalize each activation by its neighbours in the channel axis."""
        return torch.nn.functional.local_response_norm(input_, self.size, self.alpha, self.beta, self.k)


def build_alexnet(image_size: int, width: float, classes: int, lrn: bool, seed: int):
    """``(convnet, mlp)``: AlexNet's convolutional part and its classifier, initialized."""
    from blocks.bricks import MLP, Convolutional, ConvolutionalSequence, MaxPooling, Rectifier, Softmax
    from blocks.initialization import Constant, IsotropicGaussian

    def scaled(n: int) -> int:
        return max(1, int(round(n * width)))

    def conv(size: int, filters: int, name: str, step: int = 1) -> Convolutional:
        return Convolutional((size, size), scaled(filters), step=(step, step), border_mode="same", name=name)

    layers: list[Any] = [conv(11, 96, "conv1", step=4), Rectifier()]
    layers += [LocalResponseNormalization(name="lrn1")] if lrn else []
    layers += [MaxPooling((3, 3), step=(2, 2), name="pool1"), conv(5, 256, "conv2"), Rectifier()]
    layers += [LocalResponseNormalization(name="lrn2")] if lrn else []
    layers += [MaxPooling((3, 3), step=(2, 2), name="pool2")]
    layers += [conv(3, 384, "conv3"), Rectifier(), conv(3, 384, "conv4"), Rectifier(), conv(3, 256, "conv5")]
    layers += [Rectifier(), MaxPooling((3, 3), step=(2, 2), name="pool5")]
    convnet = ConvolutionalSequence(
        layers,
        num_channels=3,
        image_size=(image_size, image_size),
        weights_init=IsotropicGaussian(0.01),
        biases_init=Constant(0),
        seed=seed,
        name="features",
    )
    convnet.initialize()
    features = math.prod(convnet.get_dim("output"))
    mlp = MLP(
        [Rectifier(), Rectifier(), Softmax()],
        [features, scaled(4096), scaled(4096), classes],
        weights_init=IsotropicGaussian(0.005),
        biases_init=Constant(0.1),
        seed=seed + 1,
        name="classifier",
    )
    mlp.push_allocation_config()
    mlp.linear_transformations[-1].biases_init = Constant(0)
    mlp.initialize()
    return convnet, mlp


def training_graph(convnet: Any, mlp: Any, dropout: float, weight_decay: float, seed: int):
    """``(cost, error_rate, train_cost, graph, train_monitored)``.

    ``cost`` and ``error_rate`` are the deterministic (test) figures; ``train_cost`` is the cost with dropout
    on the two hidden layers plus weight decay (an L2 term on every ``WEIGHT``); ``train_monitored`` are the
    cost and error rate of the dropout graph, which the training step computes anyway (monitoring the
    deterministic ones on training batches would run the classifier twice per batch).
    """
    from blocks.bricks import Flattener
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, apply_dropout, lvector, tensor4
    from blocks.roles import INPUT, WEIGHT

    x, y = tensor4("features"), lvector("targets")
    probs = mlp.apply(Flattener().apply(convnet.apply(x)))
    cost = CategoricalCrossEntropy().apply(y, probs)
    cost.name = "cost"
    error_rate = MisclassificationRate().apply(y, probs)
    error_rate.name = "error_rate"
    cg = ComputationGraph([cost, error_rate])
    weights = VariableFilter(roles=[WEIGHT])(cg.variables)
    # dropout on the outputs of the two hidden layers = the inputs of the last two linear layers
    hidden = VariableFilter(roles=[INPUT], bricks=mlp.linear_transformations[1:])(cg.variables)
    dropped = apply_dropout(cg, hidden, dropout, seed=seed) if dropout else cg
    dropped_cost, dropped_error_rate = dropped.outputs
    dropped_cost.name, dropped_error_rate.name = "cost", "error_rate"
    train_cost = dropped_cost + weight_decay * sum((w**2).sum() for w in weights)
    train_cost.name = "regularized_cost"
    return cost, error_rate, train_cost, cg, [dropped_cost, dropped_error_rate]


def h5_stream(path: str, split: str, image_size: int, batch_size: int, seed: int, shuffle: bool, distributed: bool):
    """A stream of ``(features, targets)`` from an ImageNet-layout HDF5 file, cropped to ``image_size``."""
    from fuel.datasets import H5PYDataset
    from fuel.schemes import SequentialScheme, ShuffledScheme
    from fuel.streams import DataStream
    from fuel.transformers import ImagesFromBytes, Mapping, MinimumImageDimensions, RandomFixedSizeCrop, Rename

    dataset = H5PYDataset(path, which_sets=(split,), load_in_memory=False)
    sources = dataset.provides_sources
    image_source = "features" if "features" in sources else "encoded_images" if "encoded_images" in sources else None
    if image_source is None or "targets" not in sources:
        raise ValueError(f"{path}: expected sources 'features' or 'encoded_images', and 'targets'; got {sources}")
    dataset.sources = (image_source, "targets")
    scheme = (
        ShuffledScheme(dataset.num_examples, batch_size, rng=seed)
        if shuffle
        else SequentialScheme(dataset.num_examples, batch_size)
    )
    if distributed:
        from blocks.distributed import shard_scheme

        scheme = shard_scheme(scheme)
    stream: Any = DataStream(dataset, iteration_scheme=scheme)
    which = (image_source,)
    if image_source == "encoded_images":
        stream = ImagesFromBytes(stream, which_sources=which)
        stream = Rename(stream, {"encoded_images": "features"})
        which = ("features",)
    stream = MinimumImageDimensions(stream, (image_size, image_size), which_sources=which)
    stream = RandomFixedSizeCrop(stream, (image_size, image_size), which_sources=which, rng=seed)

    def to_float(data: tuple) -> tuple:
        images, targets = data
        images = numpy.stack(list(images)).astype("float32") / 255.0
        return images, numpy.asarray(targets).reshape(-1).astype("int64")

    return Mapping(stream, to_float)


def default_workers() -> int:
    """The machine's cores (those this process may run on) minus one, for the trainer.

    Under torchrun the cores are shared between the processes of the machine (``LOCAL_WORLD_SIZE``).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local_processes = 1
    return max(0, cores // local_processes - 1)


def _workers(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--workers takes a number of processes (0 or more), got {text!r}")
    return value


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=2, batch_size=16, learning_rate=0.01, generated=False)
    parser.add_argument("--data-file", help="ImageNet-layout HDF5 file (or --generated)")
    parser.add_argument("--valid-split", default="valid", help="held-out split of --data-file (default valid)")
    parser.add_argument("--image-size", type=int, default=64, help="square input size (default 64; AlexNet: 224)")
    parser.add_argument("--width", type=float, default=1 / 16, help="scale of every layer's width (default 1/16)")
    parser.add_argument("--classes", type=int, default=10, help="number of classes (default 10; ImageNet: 1000)")
    parser.add_argument("--lrn", action="store_true", help="local response normalization after conv1 and conv2")
    parser.add_argument("--dropout", type=float, default=0.5, help="dropout of the hidden layers (default 0.5)")
    parser.add_argument("--weight-decay", type=float, default=5e-4, help="L2 on the weights (default 5e-4)")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum (default 0.9)")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=default_workers(),
        help=f"processes that read and decode batches (default: cores minus one, here {default_workers()}; 0: "
        "in the training process)",
    )
    parser.add_argument(
        "--generated",
        type=int,
        nargs="?",
        const=64,
        metavar="N",
        help="train on N (64) generated images instead of --data-file, for smoke runs and throughput",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ... (torchrun: local rank)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    if (args.data_file is None) == (args.generated is None):
        raise _common.MissingDataError(
            "error: give --data-file FILE (an ImageNet-layout HDF5 file, e.g. from fuel-convert ilsvrc2012) "
            "or --generated [N] (generated images, for a smoke run), not both"
            if args.data_file
            else "error: no data: give --data-file FILE (an ImageNet-layout HDF5 file, e.g. from fuel-convert "
            "ilsvrc2012), or --generated [N] to train on N (64) generated images for a smoke run"
        )
    _common.setup(args)
    from blocks import distributed
    from blocks.algorithms import GradientDescent
    from blocks.model import Model
    from blocks.plugins import resolve
    from fuel.transformers import MultiProcessing

    device = args.device
    if device.startswith("cuda") and "LOCAL_RANK" in os.environ:
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    is_distributed = distributed.init_distributed(device=device)
    main_process = distributed.is_main_process()

    convnet, mlp = build_alexnet(args.image_size, args.width, args.classes, args.lrn, args.seed)
    cost, error_rate, train_cost, cg, train_monitored = training_graph(
        convnet, mlp, args.dropout, args.weight_decay, args.seed
    )

    step_rule = resolve("step_rules", "momentum")(learning_rate=args.learning_rate, momentum=args.momentum)
    algorithm = GradientDescent(cost=train_cost, parameters=cg.parameters, step_rule=step_rule, backend=device)
    if args.data_file:
        train_stream = h5_stream(
            args.data_file,
            "train",
            args.image_size,
            args.batch_size * distributed.world_size(),
            args.seed,
            True,
            is_distributed,
        )
        valid_stream = h5_stream(
            args.data_file, args.valid_split, args.image_size, args.batch_size, args.seed, False, False
        )
        note = args.data_file
    else:
        images, targets = _common.generated_images(
            args.generated, (3, args.image_size, args.image_size), args.classes, seed=args.seed
        )
        valid_images, valid_targets = _common.generated_images(
            max(16, args.generated // 4), (3, args.image_size, args.image_size), args.classes, seed=args.seed
        )
        train_stream = _common.stream_of(
            {"features": images, "targets": targets}, args.batch_size, shuffle_seed=args.seed
        )
        if is_distributed:
            train_stream.iteration_scheme = distributed.shard_scheme(train_stream.iteration_scheme)
        valid_stream = _common.stream_of({"features": valid_images, "targets": valid_targets}, args.batch_size)
        note = f"generated {args.generated} images"
    if args.workers:
        # two batches in flight per worker bound the read-ahead (and the shared memory it takes)
        train_stream = MultiProcessing(train_stream, max_store=max(4, 2 * args.workers), workers=args.workers)
    main_loop, seconds = _common.run_loop(
        algorithm,
        train_stream,
        epochs=args.epochs,
        monitored=[cost, error_rate],
        train_monitored=train_monitored,
        valid_stream=valid_stream,
        model=Model(cost),
        quiet=args.quiet or not main_process,
    )
    train_stream.close()  # stops the reading processes, if any
    row = _common.latest_values(main_loop.log, "valid_error_rate", "train_cost")
    parameters = sum(p.numel() for p in cg.parameters)
    result = {
        "valid_error_rate": float(row["valid_error_rate"]),
        "train_cost": float(row["train_cost"]),
        "epochs": main_loop.status["epochs_done"],
        "batches": main_loop.status["iterations_done"],
        "seconds": seconds,
        "parameters": parameters,
    }
    if main_process:
        print(
            f"AlexNet ({note}, {args.image_size}x{args.image_size}, width x{args.width:g}, {parameters:,} parameters, "
            f"{distributed.world_size()} process(es), {device}): "
            f"validation error {100 * result['valid_error_rate']:.1f}% "
            f"after {result['epochs']} epochs ({result['batches']} batches) in {seconds:.1f} s"
        )
    distributed.destroy_distributed()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
