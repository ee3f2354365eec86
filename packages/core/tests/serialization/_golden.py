"""Golden checkpoints: files written by an earlier version of the checkpoint code, kept in ``data/``.

A deterministic training run of core's own pieces (an MLP with dropout on its input,
``GradientDescent`` with ``TorchOptim(Adam)`` then ``Scale``, a shuffled Fuel stream stopped
mid-epoch, a log holding scalar tensors, numpy scalars and non-finite floats) and an ``extra``
value using every tag of :mod:`blocks.serialization.flatten`. ``test_golden.py`` checks that the
stored files still load into exactly this state, resume bit for bit, and that saving the same state
today writes the same members.

The files were written by this module at the commit that added it (before the checkpoint code was
split into smaller functions). Regenerate them only for a deliberate format change, and say so in
the commit::

    python packages/core/tests/serialization/_golden.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

DATA = Path(__file__).parent / "data"
FULL = DATA / "golden_full.tar"
PARAMETERS_ONLY = DATA / "golden_parameters.tar"
SAVED_AT = 5
"""Batches done when the golden files were written (mid-epoch: 3 batches per epoch)."""
LOG_UUID = "0123456789abcdef0123456789abcdef"


def extra_state() -> dict[str, Any]:
    """A value for ``save_checkpoint(extra=...)`` that uses every tag of the format."""
    return {
        "tuple": (1, "a", None, [2.5, False]),
        "bytes": b"\x00\xffbytes",
        "nan": float("nan"),
        "minus_inf": float("-inf"),
        "numpy_scalar": np.float32(1.5),
        "numpy_int": np.int64(-7),
        "int_keys": {1: "one", (2, 3): "pair"},
        "tag_lookalike": {"__array__": "not a tag"},
        "slash/and~tilde": 1,
        "half": torch.tensor(0.5, dtype=torch.float16),
        "bfloat": torch.tensor(-2.25, dtype=torch.bfloat16),
        "flag": torch.tensor(True),
        "count": torch.tensor(12, dtype=torch.int64),
        "inf_scalar": torch.tensor(float("inf")),
        "matrix": np.arange(6, dtype=np.int16).reshape(2, 3),
        "tensor": torch.arange(4.0),
        "empty": torch.zeros(0, 2),
    }


def seed_globals() -> None:
    """Put the global generators (saved in the ``rng`` part) in a known state."""
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)


def build_loop(batches: int) -> Any:
    """A main loop of core pieces that stops after ``batches`` batches; deterministic."""
    from blocks.algorithms import CompositeRule, GradientDescent, Scale, TorchOptim
    from blocks.bricks import MLP, Identity, Softmax, Tanh
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.extensions import FinishAfter, SimpleExtension
    from blocks.graph import ComputationGraph, apply_dropout, lvector, matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.log import TrainingLog
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import ShuffledScheme
    from fuel.streams import DataStream

    class LogScalars(SimpleExtension):
        """Writes a 0-d tensor, a numpy scalar and a non-finite float to the log after every batch."""

        def __init__(self) -> None:
            super().__init__(after_batch=True)

        def do(self, which_callback: str, *args: Any) -> None:
            done = self.main_loop.status["iterations_done"]
            row = self.main_loop.log.current_row
            row["scalar_tensor"] = torch.tensor(done / 3.0)
            row["numpy_scalar"] = np.float64(done) / 7
            row["not_finite"] = float("inf") if done % 2 else float("nan")

    x, y = matrix("x"), lvector("y")
    mlp = MLP([Tanh(), Identity()], [3, 4, 3], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1),
              seed=5)
    cost = CategoricalCrossEntropy().apply(y, Softmax().apply(mlp.apply(x)))
    dropped = apply_dropout(ComputationGraph([cost]), [x], 0.25, seed=9)
    cost = dropped.outputs[0]
    cost.name = "cost"
    generator = torch.Generator().manual_seed(1)
    dataset = IndexableDataset({"x": torch.randn(10, 3, generator=generator).numpy(),
                                "y": torch.randint(0, 3, (10,), generator=generator).numpy()})
    stream = DataStream(dataset, iteration_scheme=ShuffledScheme(10, 4, rng=np.random.RandomState(3)))
    rule = CompositeRule([TorchOptim(torch.optim.Adam, lr=0.01), Scale(0.5)])
    algorithm = GradientDescent(cost, step_rule=rule)
    return MainLoop(algorithm, stream, model=Model(cost), log=TrainingLog(uuid=LOG_UUID),
                    extensions=[LogScalars(), FinishAfter(after_n_batches=batches)])


def write() -> None:  # pragma: no cover - run by hand, see the module docstring
    from blocks.serialization import save_checkpoint

    DATA.mkdir(exist_ok=True)
    loop = build_loop(SAVED_AT)
    loop.run()
    seed_globals()
    save_checkpoint(FULL, loop, extra=extra_state())
    save_checkpoint(PARAMETERS_ONLY, loop, parameters_only=True)
    print(f"wrote {FULL} and {PARAMETERS_ONLY}")


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).parent))
    write()
