"""Theano tutorial 5: a Bernoulli RBM trained with contrastive divergence — a custom training algorithm.

The deeplearning.net tutorial's RBM: binary visible and hidden units, energy
``E(v, h) = -v·b_v - h·b_h - vᵀWh``, trained with CD-k (or persistent CD,
``--persistent``) at learning rate 0.1, batch 20 (500 hidden units, PCD-15
on MNIST). CD is not gradient descent on a cost the graph can write down, so
it is written here as a :class:`blocks.algorithms.TrainingAlgorithm`
subclass — ``initialize``, ``process_batch``, ``state_dict`` /
``load_state_dict`` — and the ``MainLoop`` drives it like any other
algorithm: the same data stream, ``FinishAfter``, monitoring, checkpoints
(the Gibbs sampler's generator and the persistent chain are in the state).

The RBM itself is a small brick with symbolic applications (``free_energy``,
``reconstruct``) that ``DataStreamMonitoring`` evaluates on the test set:
the mean-field reconstruction cross-entropy and the mean free energy.

    python examples/rbm.py                                     # digits, CD-1, seconds
    python examples/rbm.py --epochs 100 --hidden 100 -k 5 --persistent
    python examples/rbm.py --dataset mnist --hidden 500 -k 15 --persistent --epochs 15 --data-dir DIR
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Mapping

import _common
import torch

from blocks.algorithms import TrainingAlgorithm
from blocks.bricks import Initializable, application, lazy
from blocks.roles import BIAS, WEIGHT


class RBM(Initializable):
    """A Bernoulli-Bernoulli restricted Boltzmann machine (``W``, ``b_visible``, ``b_hidden``).

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> rbm = RBM(6, 3, weights_init=Constant(0.0), biases_init=Constant(0.0))
    >>> rbm.initialize()
    >>> rbm.free_energy(torch.ones(2, 6)).shape
    torch.Size([2])
    """

    @lazy(allocation=["visible_dim", "hidden_dim"])
    def __init__(self, visible_dim: int, hidden_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.visible_dim = visible_dim
        self.hidden_dim = hidden_dim

    def _allocate(self) -> None:
        self.new_parameter("W", (self.visible_dim, self.hidden_dim), WEIGHT)
        self.new_parameter("b_visible", (self.visible_dim,), BIAS)
        self.new_parameter("b_hidden", (self.hidden_dim,), BIAS)

    def _initialize(self) -> None:
        self.weights_init.initialize(self.W, self.rng)
        self.biases_init.initialize(self.b_visible, self.rng)
        self.biases_init.initialize(self.b_hidden, self.rng)

    @application(inputs=["visible"], outputs=["free_energy"])
    def free_energy(self, visible: Any) -> Any:
        """``F(v) = -v·b_v - Σ_j softplus((vW + b_h)_j)``, one value per example."""
        return -(visible @ self.b_visible) - torch.nn.functional.softplus(visible @ self.W + self.b_hidden).sum(dim=1)

    @application(inputs=["visible"], outputs=["reconstruction"])
    def reconstruct(self, visible: Any) -> Any:
        """Mean-field reconstruction ``p(v | E[h | v])``."""
        hidden = torch.sigmoid(visible @ self.W + self.b_hidden)
        return torch.sigmoid(torch.nn.functional.linear(hidden, self.W, self.b_visible))


class ContrastiveDivergence(TrainingAlgorithm):
    """CD-k (or persistent CD-k) updates of an :class:`RBM`, one batch at a time.

    Parameters
    ----------
    rbm : RBM
    k : int
        Gibbs steps per update.
    learning_rate : float
    persistent : bool
        Continue the negative chain from the previous batch (PCD) instead of the data.
    seed : int
        Seeds the sampler's ``torch.Generator``.

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> rbm = RBM(4, 2, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> rbm.initialize()
    >>> cd = ContrastiveDivergence(rbm, k=1, learning_rate=0.1)
    >>> cd.initialize()
    >>> cd.process_batch({"features": torch.ones(3, 4)})
    >>> cd.state_dict()["updates"]
    1
    """

    def __init__(
        self, rbm: RBM, k: int = 1, learning_rate: float = 0.1, persistent: bool = False, seed: int = 1
    ) -> None:
        if k < 1:
            raise ValueError(f"k (Gibbs steps) must be >= 1, got {k}")
        self.rbm = rbm
        self.k = k
        self.learning_rate = learning_rate
        self.persistent = persistent
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.chain: torch.Tensor | None = None
        self.updates = 0

    def initialize(self) -> None:
        self.generator.manual_seed(self.seed)
        self.chain, self.updates = None, 0

    def _sample(self, probabilities: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(probabilities, generator=self.generator)

    @torch.no_grad()
    def process_batch(self, batch: Mapping[str, Any]) -> None:
        rbm = self.rbm
        visible = torch.as_tensor(batch["features"], dtype=rbm.W.dtype).reshape(-1, rbm.visible_dim)
        positive = torch.sigmoid(visible @ rbm.W + rbm.b_hidden)
        start = positive if not self.persistent or self.chain is None or len(self.chain) != len(visible) else None
        hidden = self._sample(start if start is not None else self.chain)
        for _ in range(self.k):
            negative_visible = self._sample(torch.sigmoid(hidden @ rbm.W.T + rbm.b_visible))
            negative = torch.sigmoid(negative_visible @ rbm.W + rbm.b_hidden)
            hidden = self._sample(negative)
        if self.persistent:
            self.chain = negative
        size = len(visible)
        rbm.W += self.learning_rate * (visible.T @ positive - negative_visible.T @ negative) / size
        rbm.b_visible += self.learning_rate * (visible - negative_visible).mean(dim=0)
        rbm.b_hidden += self.learning_rate * (positive - negative).mean(dim=0)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "k": self.k,
            "learning_rate": self.learning_rate,
            "persistent": self.persistent,
            "updates": self.updates,
            "generator": self.generator.get_state(),
        }
        if self.chain is not None:
            state["chain"] = self.chain.clone()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        unknown = set(state) - {"k", "learning_rate", "persistent", "updates", "generator", "chain"}
        if unknown:
            raise ValueError(f"unknown ContrastiveDivergence state keys {sorted(unknown)}")
        self.k = int(state["k"])
        self.learning_rate = float(state["learning_rate"])
        self.persistent = bool(state["persistent"])
        self.updates = int(state["updates"])
        self.generator.set_state(torch.as_tensor(state["generator"], dtype=torch.uint8))
        self.chain = torch.as_tensor(state["chain"]) if "chain" in state else None


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=5, batch_size=20, learning_rate=0.1)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"], help="digits (default) or mnist")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32; the tutorial: 500)")
    parser.add_argument("-k", type=int, default=1, help="Gibbs steps per update (default 1)")
    parser.add_argument("--persistent", action="store_true", help="persistent CD (the tutorial's PCD)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "rbm"), help="checkpoint folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    from blocks.extensions import Checkpoint, FinishAfter
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks_extensions import DataStreamMonitoring, Printing, Timing

    (train_x, _), (test_x, _), real = _common.load_images(
        args.dataset, args.data_dir, generated=args.generated, seed=args.seed
    )
    train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)

    rbm = RBM(
        train_x.shape[1],
        args.hidden,
        weights_init=IsotropicGaussian(0.01),
        biases_init=Constant(0),
        seed=args.seed,
        name="rbm",
    )
    rbm.initialize()
    v = matrix("features")
    reconstruction = rbm.reconstruct(v)
    cross_entropy = -(v * torch.log(reconstruction) + (1 - v) * torch.log(1 - reconstruction)).sum(dim=1).mean()
    cross_entropy.name = "reconstruction_cost"
    free_energy = rbm.free_energy(v).mean()
    free_energy.name = "free_energy"

    os.makedirs(args.output_dir, exist_ok=True)
    algorithm = ContrastiveDivergence(
        rbm, k=args.k, learning_rate=args.learning_rate, persistent=args.persistent, seed=args.seed
    )
    extensions = [
        Timing(),
        DataStreamMonitoring(
            [cross_entropy, free_energy], _common.stream_of({"features": test_x}, 1000), prefix="valid"
        ),
        Checkpoint(os.path.join(args.output_dir, "checkpoint.tar"), after_training=True),
        FinishAfter(after_n_epochs=args.epochs),
    ]
    if not args.quiet:
        extensions.append(Printing(every_n_epochs=max(1, args.epochs // 4), after_epoch=False))
    main_loop = MainLoop(
        algorithm,
        _common.stream_of({"features": train_x}, args.batch_size, shuffle_seed=args.seed),
        model=Model(cross_entropy),
        extensions=extensions,
    )
    start = time.perf_counter()
    main_loop.run()
    seconds = time.perf_counter() - start
    row = _common.latest_values(main_loop.log, "valid_reconstruction_cost", "valid_free_energy")
    result = {
        "test_reconstruction_cost": float(row["valid_reconstruction_cost"]),
        "test_free_energy": float(row["valid_free_energy"]),
        "updates": algorithm.updates,
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"{args.dataset}{'' if real else ' (generated)'}: RBM {train_x.shape[1]}-{args.hidden}, "
        f"{'P' if args.persistent else ''}CD-{args.k}: test reconstruction cross-entropy "
        f"{result['test_reconstruction_cost']:.3f}, free energy {result['test_free_energy']:.2f} after "
        f"{result['epochs']} epochs ({algorithm.updates} updates) in {seconds:.1f} s"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
