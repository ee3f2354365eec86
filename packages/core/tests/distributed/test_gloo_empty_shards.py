"""A global batch smaller than the number of ranks leaves ranks without examples: they take part with weight 0.

43 examples in global batches of 14 on 3 gloo ranks: the last batch of each epoch holds one example, on rank 0;
ranks 1 and 2 get none. Their mean cost is NaN (a mean over nothing) but their gradients are zeros, so DDP's
average must still be the gradient of the one-example batch; the non-finite guard (on) must not take their
undefined cost for a NaN. The parameters after two epochs must equal one process trained on the same global
batches (to float32 rounding). Before, the empty rank raised a ValueError alone and its peers waited in their
next collective.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ranks import run_ranks  # noqa: E402

N_EXAMPLES, GLOBAL_BATCH, EPOCHS, WORLD = 43, 14, 2, 3


def _train(num_shards: int, shard: int) -> list:
    import numpy

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.extensions import FinishAfter
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.log import TrainingLog
    from blocks.main_loop import MainLoop
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme, ShardedScheme
    from fuel.streams import DataStream

    rng = numpy.random.default_rng(2)
    data = {"features": rng.normal(size=(N_EXAMPLES, 3)), "targets": rng.normal(size=(N_EXAMPLES, 1))}
    x, y = matrix("features"), matrix("targets")
    mlp = MLP([Tanh(), Identity()], [3, 4, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1), seed=3)
    cost = ((mlp.apply(x) - y) ** 2).sum(dim=1).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))
    scheme = SequentialScheme(N_EXAMPLES, GLOBAL_BATCH)
    if num_shards > 1:
        scheme = ShardedScheme(scheme, num_shards, shard)
    stream = DataStream(IndexableDataset(data), iteration_scheme=scheme)
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=EPOCHS)],
                    stop_on_nonfinite=True)
    loop.run()
    assert loop.status["iterations_done"] == EPOCHS * 4
    return [p.detach().double().reshape(-1).tolist() for p in algorithm.parameters]


def _rank(rank: int, init_file: str, out_dir: str) -> None:
    import datetime

    from blocks import distributed

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
                                 timeout=datetime.timedelta(seconds=30))
    try:
        parameters = _train(WORLD, rank)
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(parameters, f)
    finally:
        distributed.destroy_distributed()


@pytest.mark.slow
def test_ranks_without_examples_train_like_one_process(tmp_path):
    results = run_ranks(__file__, WORLD, tmp_path)
    assert results[1] == results[0] and results[2] == results[0]  # every rank holds the same parameters
    single = _train(1, 0)
    for got, want in zip(results[0], single):
        assert len(got) == len(want)
        # float32 parameters; the ranks' gradients are summed in another order than one process's rows
        assert max(abs(a - b) for a, b in zip(got, want)) < 1e-6


if __name__ == "__main__":
    _rank(int(sys.argv[1]), sys.argv[2], sys.argv[3])
