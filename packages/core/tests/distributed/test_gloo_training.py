"""GradientDescent + MainLoop under torch.distributed (two gloo ranks on one CPU).

* two ranks, each fed its shard of every global batch (ShardedScheme), end with
  the same parameters, equal to one process trained on the global batches;
* a checkpoint written under two ranks resumes under one and continues the
  same global data order, to the same parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy
import pytest
import torch

N_EXAMPLES, GLOBAL_BATCH, TOTAL, FIRST = 64, 16, 6, 3


def _build(num_shards: int, shard: int, stop_after: int, checkpoint: str | None, record: list):
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.bricks.cost import SquaredError
    from blocks.extensions import Checkpoint, FinishAfter, SimpleExtension
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import ShardedScheme, ShuffledScheme
    from fuel.streams import DataStream

    class Record(SimpleExtension):
        def __init__(self):
            super().__init__(after_batch=True, name="record")

        def do(self, which_callback, *args):
            record.append([int(i) for i in args[0]["index"].reshape(-1)])

    rng = numpy.random.default_rng(0)
    data = {
        "features": rng.normal(size=(N_EXAMPLES, 4)).astype("float32"),
        "targets": rng.normal(size=(N_EXAMPLES, 1)).astype("float32"),
        "index": numpy.arange(N_EXAMPLES)[:, None],
    }
    x, y = matrix("features"), matrix("targets")
    mlp = MLP([Tanh(), Identity()], [4, 8, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1), seed=7)
    cost = SquaredError().apply(y, mlp.apply(x))
    algorithm = GradientDescent(cost, step_rule=Scale(0.1), on_unused_sources="ignore")
    scheme = ShardedScheme(ShuffledScheme(N_EXAMPLES, GLOBAL_BATCH, rng=3), num_shards, shard)
    stream = DataStream(IndexableDataset(data), iteration_scheme=scheme)
    extensions = [Record(), FinishAfter(after_n_batches=stop_after)]
    if checkpoint:
        extensions.append(Checkpoint(checkpoint, after_training=True))
    return MainLoop(algorithm, stream, model=Model(cost), extensions=extensions), mlp


def _rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    from blocks import distributed

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        record: list = []
        loop, mlp = _build(world, rank, FIRST, os.path.join(out_dir, "ckpt.tar"), record)
        loop.run()
        params = {k: v.detach().tolist() for k, v in loop.model.get_parameter_dict().items()}
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
            json.dump({"params": params, "seen": record}, handle)
    finally:
        distributed.destroy_distributed()


def _run_single(stop_after: int, resume_from: str | None = None):
    record: list = []
    loop, _ = _build(1, 0, stop_after, None, record)
    if resume_from:
        loop.resume(resume_from)
    loop.run()
    return loop.model.get_parameter_dict(), record


@pytest.mark.slow
def test_two_ranks_then_resume_on_one(tmp_path, plugin_host):
    ranks = [
        subprocess.Popen([sys.executable, __file__, str(r), "2", str(tmp_path / "rendezvous"), str(tmp_path)])
        for r in range(2)
    ]
    assert [p.wait(timeout=180) for p in ranks] == [0, 0]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert results[0]["params"] == results[1]["params"], "ranks diverged"

    reference, seen = _run_single(TOTAL)
    # after FIRST batches, two ranks equal one process that saw the whole global batches
    partial, partial_seen = _run_single(FIRST)
    for name, value in partial.items():
        numpy.testing.assert_allclose(results[0]["params"][name], value.detach().numpy(), rtol=1e-5, atol=1e-6)
    # every global batch was cut in two contiguous halves, rank 0 first
    assert [a + b for a, b in zip(results[0]["seen"], results[1]["seen"])] == partial_seen == seen[:FIRST]

    resumed, resumed_seen = _run_single(TOTAL, resume_from=str(tmp_path / "ckpt.tar"))
    assert resumed_seen == seen[FIRST:], "resuming under one rank changed the global data order"
    for name, value in reference.items():
        torch.testing.assert_close(resumed[name], value, rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    _rank(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
