"""Theano tutorial 4: a denoising autoencoder with tied weights, its input corrupted by a graph transform.

The deeplearning.net tutorial's ``dA``: ``h = sigmoid(x̃ W + b)``,
``z = sigmoid(h Wᵀ + b')`` with the *same* ``W`` (tied weights), cost the
reconstruction cross-entropy ``-Σ x log z + (1 - x) log(1 - z)`` of the clean
``x`` (summed over pixels, averaged over the batch), where ``x̃`` is ``x`` with
a fraction ``corruption_level`` (0.3) of its values set to zero; SGD with
learning rate 0.1, batch 20, 500 hidden units on MNIST.

Two things this example shows:

- a small custom brick (``TiedAutoencoder``: one ``W``, two biases, two
  applications ``encode`` and ``decode``), written the Blocks way;
- corruption as a *graph transform*: the clean graph is built once, the input
  of ``encode`` is found by role (``VariableFilter(roles=[INPUT],
  applications=[ae.encode])``) and ``apply_dropout`` replaces it by a masked
  copy (``custom_divisor=1``: values are zeroed, not rescaled, as in the
  tutorial). Only that use of ``x`` is corrupted: the reconstruction target
  stays clean. Training uses the corrupted graph; monitoring the clean one.

    python examples/denoising_autoencoder.py                          # digits, seconds
    python examples/denoising_autoencoder.py --epochs 100 --hidden 100
    python examples/denoising_autoencoder.py --dataset mnist --hidden 500 --epochs 15 --data-dir DIR
"""

from __future__ import annotations

import math
import sys
from typing import Any

import _common
import torch

from blocks.bricks import Feedforward, Initializable, application, lazy
from blocks.roles import BIAS, WEIGHT


class TiedAutoencoder(Initializable, Feedforward):
    """An autoencoder whose decoder uses the transpose of the encoder's weights.

    Parameters
    ----------
    input_dim, output_dim : int
        Visible and hidden sizes (lazy).

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> ae = TiedAutoencoder(4, 2, weights_init=Constant(0.1), biases_init=Constant(0))
    >>> ae.initialize()
    >>> ae.decode(ae.encode(torch.ones(1, 4))).shape
    torch.Size([1, 4])
    """

    @lazy(allocation=["input_dim", "output_dim"])
    def __init__(self, input_dim: int, output_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def _allocate(self) -> None:
        self.new_parameter("W", (self.input_dim, self.output_dim), WEIGHT)
        self.new_parameter("b", (self.output_dim,), BIAS)
        self.new_parameter("b_prime", (self.input_dim,), BIAS)

    def _initialize(self) -> None:
        self.weights_init.initialize(self.W, self.rng)
        self.biases_init.initialize(self.b, self.rng)
        self.biases_init.initialize(self.b_prime, self.rng)

    @application(inputs=["input_"], outputs=["hidden"])
    def encode(self, input_: Any) -> Any:
        """Hidden code ``sigmoid(x W + b)``."""
        return torch.sigmoid(input_ @ self.W + self.b)

    @application(inputs=["hidden"], outputs=["output"])
    def decode(self, hidden: Any) -> Any:
        """Reconstruction ``sigmoid(h Wᵀ + b')`` (``F.linear`` multiplies by the transpose)."""
        return torch.sigmoid(torch.nn.functional.linear(hidden, self.W, self.b_prime))


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=15, batch_size=20, learning_rate=0.1)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32; the tutorial: 500)")
    parser.add_argument("--corruption-level", type=float, default=0.3, help="fraction of inputs zeroed (0.3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.algorithms import GradientDescent, Scale
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, apply_dropout, matrix
    from blocks.initialization import Constant, Uniform
    from blocks.model import Model
    from blocks.roles import INPUT

    (train_x, _), (test_x, _), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
    visible = train_x.shape[1]

    x = matrix("features")
    ae = TiedAutoencoder(
        visible,
        args.hidden,
        weights_init=Uniform(width=2 * 4 * math.sqrt(6.0 / (visible + args.hidden))),
        biases_init=Constant(0),
        seed=args.seed,
        name="autoencoder",
    )
    ae.initialize()
    z = ae.decode(ae.encode(x))
    cost = -(x * torch.log(z) + (1 - x) * torch.log(1 - z)).sum(dim=1).mean()
    cost.name = "reconstruction_cost"
    clean = ComputationGraph([cost])

    # corrupt only the encoder's input: the target x in the cost stays clean
    encoder_inputs = VariableFilter(roles=[INPUT], applications=[ae.encode])(clean.variables)
    corrupted = apply_dropout(clean, encoder_inputs, args.corruption_level, seed=args.seed, custom_divisor=1.0)
    train_cost = corrupted.outputs[0]
    train_cost.name = "corrupted_cost"

    algorithm = GradientDescent(cost=train_cost, parameters=clean.parameters, step_rule=Scale(args.learning_rate))
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"features": train_x}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[cost],
        valid_stream=_common.stream_of({"features": test_x}, 1000),
        model=Model(cost),
        extensions=[],
        quiet=args.quiet,
        print_every=max(1, args.epochs // 4),
    )
    row = _common.latest_values(main_loop.log, "valid_reconstruction_cost", "train_reconstruction_cost")
    result = {
        "test_reconstruction_cost": float(row["valid_reconstruction_cost"]),
        "train_reconstruction_cost": float(row["train_reconstruction_cost"]),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: denoising autoencoder {visible}-{args.hidden} "
        f"(corruption {args.corruption_level:g}): test reconstruction cross-entropy "
        f"{result['test_reconstruction_cost']:.3f} nats/example after {result['epochs']} epochs in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
