"""Extensions under torch.distributed: monitoring averaged across ranks, one printer, one log writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import numpy

    from blocks import distributed
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.bricks.cost import SquaredError
    from blocks.extensions import FinishAfter
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.log import SQLiteLog
    from blocks.main_loop import MainLoop
    from blocks_extensions import Printing, TrainingDataMonitoring
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        rng = numpy.random.default_rng(0)
        data = {"features": rng.normal(size=(32, 3)).astype("float32"),
                "targets": rng.normal(size=(32, 1)).astype("float32")}
        x, y = matrix("features"), matrix("targets")
        mlp = MLP([Tanh(), Identity()], [3, 4, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0), seed=1)
        cost = SquaredError().apply(y, mlp.apply(x))
        cost.name = "cost"
        stream = DataStream(IndexableDataset(data), iteration_scheme=distributed.shard_scheme(SequentialScheme(32, 16)))
        log = SQLiteLog(os.path.join(out_dir, "log.sqlite"))
        loop = MainLoop(GradientDescent(cost, step_rule=Scale(0.0)), stream, log=log,
                        extensions=[TrainingDataMonitoring([cost], prefix="train", after_epoch=True),
                                    Printing(after_epoch=True), FinishAfter(after_n_epochs=1)])
        loop.run()
        log.flush()
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
            json.dump({"train_cost": loop.log.current_row["train_cost"]}, handle)
    finally:
        distributed.destroy_distributed()


@pytest.mark.slow
def test_monitoring_is_averaged_printing_and_log_on_rank_zero(tmp_path):
    ranks = [subprocess.Popen([sys.executable, __file__, str(r), "2", str(tmp_path / "rendezvous"), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True) for r in range(2)]
    outputs = [p.communicate(timeout=180)[0] for p in ranks]
    assert [p.returncode for p in ranks] == [0, 0]
    costs = [json.loads((tmp_path / f"rank{r}.json").read_text())["train_cost"] for r in range(2)]
    assert costs[0] == costs[1], "monitored values must be the same on every rank"
    assert "train_cost" in outputs[0] and "train_cost" not in outputs[1], "only rank 0 prints"

    import numpy
    import torch

    from blocks.bricks import MLP, Identity, Tanh
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.log import SQLiteLog

    log = SQLiteLog.read(str(tmp_path / "log.sqlite"))
    assert len(log.runs()) == 1, "only rank 0 writes the log file"
    assert dict(log.rows())[2]["train_cost"] == pytest.approx(costs[0])
    # with a zero learning rate, the average over ranks is the cost over all 32 examples
    rng = numpy.random.default_rng(0)
    features = torch.from_numpy(rng.normal(size=(32, 3)).astype("float32"))
    targets = torch.from_numpy(rng.normal(size=(32, 1)).astype("float32"))
    mlp = MLP([Tanh(), Identity()], [3, 4, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0), seed=1)
    expected = ((mlp.apply(features) - targets) ** 2).sum(dim=1).mean().item()
    assert costs[0] == pytest.approx(expected, rel=1e-5)


if __name__ == "__main__":
    _rank(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
