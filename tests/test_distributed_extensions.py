"""Data parallelism gives the single-process result: parameters and every monitored value, uneven shards, resumes.

One gloo process group per world size (2 and 3 ranks, each rank this file run as a script, the way torchrun
runs a training script) runs every case in turn:

* ``train``: two epochs of 50 float64 examples in global batches of 15 (2 ranks: shards 8/7, last batch 3/2) or
  14 (3 ranks: 5/5/4, last 3/3/2), with a checkpoint in the middle of a monitoring period;
* ``resume``: a new loop on every rank resumes from that checkpoint;
* ``resume_single``: resumes from a checkpoint written by one process;
* ``sum`` and ``tokens``: a cost summed over the examples (``reduction="sum"``), and one averaged over the
  unmasked examples (``mean_over=``), whose counts differ from the examples';
* the ``train`` case again, printing and writing an SQLite log;
* ``nonfinite`` (last: a rank stuck in a collective would break the group): a NaN in rank 1's part of the second
  global batch makes only rank 1's cost NaN there, and monitoring after that batch is a read point of the
  non-finite guard. Every rank must raise the same ``NonFiniteError`` right there, naming rank 1; a rank that
  decided alone would stop while the others wait in the next gradient all-reduce (the group's 30-second timeout
  turns that hang into a failure).

Each must equal one process trained on the global batches to 1e-10: the parameters, and every record of
``TrainingDataMonitoring`` (example-weighted means, exact-count rates, constant-denominator means, minima,
maxima, last values, concatenations, the gradient norm) and of ``DataStreamMonitoring`` (a sharded stream, a
whole stream, a MonitoredQuantity). The checkpoint written under several ranks also resumes in one process.
Only rank 0 prints and writes the log file.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys

import pytest

N_EXAMPLES, EPOCHS, CHECKPOINT_AT, TOLERANCE = 50, 2, 5, 1e-10
NAN_BATCH = 2  # the iteration whose batch holds a NaN in rank 1's shard (the ``nonfinite`` case)
GROUP_TIMEOUT = datetime.timedelta(seconds=30)
GLOBAL_BATCH = {2: 15, 3: 14}
PREFIXES = ("train_", "valid_", "whole_")


def _build(num_shards: int, shard: int, batch_size: int, checkpoint: str | None, log=None, printing=False):
    import numpy

    from blocks.algorithms import GradientDescent
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.bricks.cost import SquaredError
    from blocks.extensions import Checkpoint, FinishAfter
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks_extensions import DataStreamMonitoring, Printing, TrainingDataMonitoring
    from blocks_extensions.aggregation import MonitoredQuantity, concatenate, maximum, mean, minimum, take_last
    from blocks_step_rules import Momentum
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme, ShardedScheme, ShuffledScheme
    from fuel.streams import DataStream

    class Errors(MonitoredQuantity):
        rank_reduction = "sum"

        def initialize(self):
            self.errors = 0

        def aggregate(self, gap):
            self.errors += int((gap > 0.5).sum())

        def get_aggregated_value(self):
            return self.errors

    rng = numpy.random.default_rng(0)
    data = {"features": rng.normal(size=(N_EXAMPLES, 3)), "targets": rng.normal(size=(N_EXAMPLES, 1))}
    x, y = matrix("features"), matrix("targets")
    mlp = MLP([Tanh(), Identity()], [3, 5, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1), seed=7)
    y_hat = mlp.apply(x)
    cost = SquaredError().apply(y, y_hat)
    cost.name = "cost"
    gap = (y_hat - y).abs().sum(dim=1)
    gap.name = "gap"
    errors = (gap > 0.5).sum()
    errors.name = "errors"
    examples = (gap >= 0).sum()
    examples.name = "examples"
    largest, smallest = gap.max(), gap.min()
    largest.name, smallest.name = "largest", "smallest"
    error_rate = mean(errors, examples, name="error_rate")
    algorithm = GradientDescent(cost, step_rule=Momentum(0.2, 0.9))
    train = [cost, error_rate, mean(errors, 2.0, name="errors_per_batch"), maximum(largest, name="worst"),
             minimum(smallest, name="best"), take_last(cost, name="last_cost"), concatenate(gap, name="gaps"),
             algorithm.total_gradient_norm]

    def stream(scheme, shards):
        return DataStream(IndexableDataset(data), iteration_scheme=ShardedScheme(scheme, num_shards, shard)
                          if shards else scheme)

    extensions = [
        TrainingDataMonitoring(train, prefix="train", every_n_batches=3, after_epoch=True),
        DataStreamMonitoring([cost, error_rate, maximum(largest, name="worst"), concatenate(gap, name="gaps"),
                              Errors([gap], name="errors")],
                             stream(SequentialScheme(N_EXAMPLES, batch_size), True), prefix="valid", name="valid"),
        DataStreamMonitoring([cost, error_rate], stream(SequentialScheme(N_EXAMPLES, 16), False), prefix="whole",
                             name="whole"),
        FinishAfter(after_n_epochs=EPOCHS),
    ]
    if printing:
        extensions.append(Printing(after_epoch=True))
    if checkpoint:  # last: the batch it follows is aggregated first
        extensions.append(Checkpoint(checkpoint, every_n_batches=CHECKPOINT_AT, after_training=False,
                                     on_interrupt=False))
    return MainLoop(algorithm, stream(ShuffledScheme(N_EXAMPLES, batch_size, rng=3), True), model=Model(cost),
                    log=log, extensions=extensions)


def _build_reduction(num_shards: int, shard: int, batch_size: int, kind: str):
    """A cost summed over the examples, or averaged over the unmasked ones (contiguous shards, each has one)."""
    import numpy

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.extensions import FinishAfter
    from blocks.graph import matrix, vector
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme, ShardedScheme
    from fuel.streams import DataStream

    rng = numpy.random.default_rng(1)
    data = {"features": rng.normal(size=(N_EXAMPLES, 3)), "targets": rng.normal(size=(N_EXAMPLES, 1)),
            "mask": (numpy.arange(N_EXAMPLES) % 3 != 0).astype("float64")}
    x, y, mask = matrix("features"), matrix("targets"), vector("mask")
    mlp = MLP([Tanh(), Identity()], [3, 4, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1), seed=5)
    per_example = ((mlp.apply(x) - y) ** 2).sum(dim=1)
    if kind == "sum":
        cost = per_example.sum()
        algorithm = GradientDescent(cost, step_rule=Scale(0.01), reduction="sum", on_unused_sources="ignore")
    else:
        cost = (per_example * mask).sum() / mask.sum()
        algorithm = GradientDescent(cost, step_rule=Scale(0.2), mean_over=lambda batch: batch["mask"].sum())
    scheme = ShardedScheme(SequentialScheme(N_EXAMPLES, batch_size), num_shards, shard)
    return MainLoop(algorithm, DataStream(IndexableDataset(data), iteration_scheme=scheme), model=Model(cost),
                    extensions=[FinishAfter(after_n_epochs=EPOCHS)])


def _build_nonfinite(num_shards: int, shard: int, batch_size: int):
    """Only rank 1's cost is NaN on batch ``NAN_BATCH``; monitoring reads the device after every second batch."""
    import numpy
    import torch

    from blocks.algorithms import GradientDescent, Scale
    from blocks.extensions import FinishAfter
    from blocks.graph import matrix
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks_extensions import TrainingDataMonitoring
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme, ShardedScheme
    from fuel.streams import DataStream

    scheme = SequentialScheme(N_EXAMPLES, batch_size)
    features = numpy.random.default_rng(2).normal(size=(N_EXAMPLES, 3))
    poisoned = list(ShardedScheme(scheme, num_shards, 1).get_request_iterator())[NAN_BATCH - 1][0]
    features[poisoned, 0] = numpy.nan
    x = matrix("features")
    w = torch.nn.Parameter(torch.full((3, 1), 0.1, dtype=torch.float64))
    cost = ((x @ w - 1.0) ** 2).mean()
    cost.name = "cost"
    stream = DataStream(IndexableDataset({"features": features}),
                        iteration_scheme=ShardedScheme(scheme, num_shards, shard))
    return MainLoop(GradientDescent(cost, parameters={"/w": w}, step_rule=Scale(0.01)), stream, model=Model(cost),
                    extensions=[TrainingDataMonitoring([cost], prefix="train", every_n_batches=2),
                                FinishAfter(after_n_epochs=EPOCHS)])


def _plain(value):
    import numpy

    if isinstance(value, numpy.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, numpy.generic) else value


def _result(loop) -> dict:
    rows = {str(t): {k: _plain(v) for k, v in row.items() if k.startswith(PREFIXES)} for t, row in loop.log.rows()}
    return {"params": {k: v.detach().tolist() for k, v in loop.model.get_parameter_dict().items()},
            "rows": {t: row for t, row in rows.items() if row}}


def _rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    from blocks import distributed
    from blocks.log import SQLiteLog

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                                 timeout=GROUP_TIMEOUT)
    try:
        batch, results = GLOBAL_BATCH[world], {}
        loop = _build(world, rank, batch, os.path.join(out_dir, "parallel.tar"))
        loop.run()
        results["train"] = _result(loop)
        for case, path in (("resume", "parallel.tar"), ("resume_single", "single.tar")):
            loop = _build(world, rank, batch, None)
            loop.resume(os.path.join(out_dir, path))
            loop.run()
            results[case] = _result(loop)
        for kind in ("sum", "tokens"):
            loop = _build_reduction(world, rank, batch, kind)
            loop.run()
            results[kind] = _result(loop)
        log = SQLiteLog(os.path.join(out_dir, "log.sqlite"))
        loop = _build(world, rank, batch, None, log=log, printing=True)
        loop.run()
        log.flush()
        loop = _build_nonfinite(world, rank, batch)
        try:
            loop.run()
            results["nonfinite"] = {"error": None}
        except Exception as error:  # what each rank raised, and where, is compared by the test
            results["nonfinite"] = {"error": type(error).__name__, "message": str(error),
                                    "iteration": loop.status["iterations_done"]}
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
            json.dump(results, handle)
    finally:
        distributed.destroy_distributed()


def _assert_close(actual, expected, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), where
        for key, value in expected.items():
            _assert_close(actual[key], value, f"{where}[{key}]")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE), f"{where}: {actual} != {expected}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _assert_same_run(result: dict, reference: dict, after: int, case: str) -> None:
    _assert_close(result["params"], reference["params"], f"{case} parameters")
    expected = {t: row for t, row in reference["rows"].items() if int(t) > after}
    actual = {t: row for t, row in result["rows"].items() if int(t) > after}
    assert sorted(actual) == sorted(expected), f"{case}: monitored at iterations {sorted(actual)}"
    for t, row in expected.items():
        assert sorted(actual[t]) == sorted(row), f"{case}, iteration {t}: records {sorted(actual[t])}"
        for name, value in row.items():
            _assert_close(actual[t][name], value, f"{case}, iteration {t}, {name}")


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 3])
def test_data_parallel_equals_one_process_with_uneven_shards_and_resumes(world, tmp_path, monkeypatch):
    monkeypatch.setenv("BLOCKS_FLOATX", "float64")
    batch = GLOBAL_BATCH[world]
    single = _build(1, 0, batch, str(tmp_path / "single.tar"))
    single.run()
    reference = _result(single)
    monitored = reference["rows"][str(2 * math.ceil(N_EXAMPLES / batch))]
    assert {"train_error_rate", "train_gaps", "valid_errors", "whole_cost"} <= set(monitored)

    ranks = [subprocess.Popen([sys.executable, __file__, str(r), str(world), str(tmp_path / "rendezvous"),
                               str(tmp_path)], stdout=subprocess.PIPE, text=True) for r in range(world)]
    outputs = [p.communicate(timeout=240)[0] for p in ranks]
    assert [p.returncode for p in ranks] == [0] * world
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]
    stopped = [result.pop("nonfinite") for result in results]
    assert stopped[0]["error"] == "NonFiniteError", stopped[0]
    assert stopped == [stopped[0]] * world, "every rank must stop with the same error at the same batch"
    assert stopped[0]["iteration"] == NAN_BATCH
    message = stopped[0]["message"]
    assert f"after batch {NAN_BATCH} (in one of batches 1-{NAN_BATCH}): not finite on ranks " in message, message
    assert "rank 0 [parameter /w]" in message and "rank 1 [cost; parameter /w]" in message, message

    for other in results[1:]:
        assert other == results[0], "every rank must hold the same parameters and monitored values"
    _assert_same_run(results[0]["train"], reference, 0, "train")
    _assert_same_run(results[0]["resume"], reference, CHECKPOINT_AT, "resume")
    _assert_same_run(results[0]["resume_single"], reference, CHECKPOINT_AT, "resume_single")

    for kind in ("sum", "tokens"):
        loop = _build_reduction(1, 0, batch, kind)
        loop.run()
        _assert_close(results[0][kind]["params"], _result(loop)["params"], f"{kind} parameters")

    resumed = _build(1, 0, batch, None)  # the checkpoint of several ranks, resumed in one process
    resumed.resume(str(tmp_path / "parallel.tar"))
    resumed.run()
    _assert_same_run(_result(resumed), reference, CHECKPOINT_AT, "resumed in one process")

    assert "train_cost" in outputs[0] and all("train_cost" not in out for out in outputs[1:]), "only rank 0 prints"
    from blocks.log import SQLiteLog

    log = SQLiteLog.read(str(tmp_path / "log.sqlite"))
    assert len(log.runs()) == 1, "only rank 0 writes the log file"
    _assert_close(dict(log.rows())[3]["train_cost"], reference["rows"]["3"]["train_cost"], "log file")


if __name__ == "__main__":
    _rank(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
