"""Exact resume: N batches in one go == k batches, killed right after a checkpoint, resumed for the rest.

The pipeline has everything whose state a resume must restore: a ShuffledScheme, a random-crop transformer,
dropout and weight noise in the graph, batch-normalization population statistics (graph updates), Adam with
gradient clipping, optionally a background process reading the data. The comparison is bitwise on every
persistent tensor and exact on every log row (the log of a resumed run continues as one run).

Interruptions are simulated in-process by an extension that raises right after the checkpoint was written (the
file then holds exactly what a kill at that moment leaves); one test kills a real process with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from blocks.algorithms import CompositeRule, GradientDescent
from blocks.bricks import BatchNormalizedMLP, Rectifier, Softmax
from blocks.bricks.cost import CategoricalCrossEntropy
from blocks.extensions import Checkpoint, FinishAfter, SimpleExtension
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_dropout, apply_noise, batch_normalization, lmatrix, matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.roles import INPUT, WEIGHT
from blocks_step_rules import Adam, StepClipping
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import Flatten
from fuel.transformers.background import MultiProcessing
from fuel.transformers.image import RandomFixedSizeCrop

TOTAL = 13  # batches; 30 examples in batches of 7 = 5 batches per epoch
CHECKPOINT = "ckpt.tar"


class CountingDataset(IndexableDataset):
    """Counts the examples it is asked for (to show that a resume reads nothing it then discards)."""

    requested = 0

    def get_data(self, state=None, request=None):
        CountingDataset.requested += len(request) if hasattr(request, "__len__") else 1
        return super().get_data(state, request)


class Record(SimpleExtension):
    """Writes the monitored cost to the log after every batch."""

    def __init__(self):
        super().__init__(after_batch=True)

    def do(self, which_callback, *args):
        for name, value in self.main_loop.algorithm.monitored_values.items():
            self.main_loop.log.current_row[name] = value


class Killed(Exception):
    pass


class Kill(SimpleExtension):
    """Stops the process right after the checkpoint of iteration ``at`` (or of the end of epoch ``epoch``)."""

    def __init__(self, at=None, epoch=None, how="raise"):
        super().__init__(after_batch=at is not None, after_epoch=epoch is not None)
        self.at, self.epoch, self.how = at, epoch, how

    def do(self, which_callback, *args):
        status = self.main_loop.status
        if (which_callback == "after_batch" and status["iterations_done"] == self.at) or (
            which_callback == "after_epoch" and status["epochs_done"] == self.epoch
        ):
            assert status["iterations_done"] in {r["iterations_done"] for r in self._checkpoint().saved}
            if self.how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise Killed(status["iterations_done"])

    def _checkpoint(self):
        return self.main_loop.find_extension("Checkpoint")


def build(background=False, kill=None):
    """The same training run from scratch, deterministic in every process (``background``: False or workers)."""
    rng = np.random.default_rng(0)
    data = {"features": rng.standard_normal((30, 1, 6, 6)).astype(np.float32),
            "targets": rng.integers(0, 3, (30, 1)).astype(np.int64)}
    stream = DataStream(CountingDataset(data), iteration_scheme=ShuffledScheme(30, 7, rng=11))
    stream = RandomFixedSizeCrop(stream, (4, 4), which_sources=("features",), rng=5)
    stream = Flatten(stream, which_sources=("features",))
    if background:
        stream = MultiProcessing(stream, max_store=3, workers=int(background))
    x, y = matrix("features"), lmatrix("targets")
    mlp = BatchNormalizedMLP([Rectifier(), Softmax()], [16, 8, 3], weights_init=IsotropicGaussian(0.1),
                             biases_init=Constant(0))
    mlp.initialize()
    init = np.random.default_rng(1)  # brick seeds depend on how many bricks the process built before
    for brick in mlp.linear_transformations:
        brick.W.data.copy_(torch.as_tensor(init.normal(0, 0.3, tuple(brick.W.shape)), dtype=torch.float32))
    with batch_normalization(mlp):
        probs = mlp.apply(x)
    cost = CategoricalCrossEntropy().apply(y.flatten(), probs)
    cost.name = "cost"
    cg = ComputationGraph([cost])
    cg = apply_dropout(cg, VariableFilter(roles=[INPUT], bricks=mlp.linear_transformations[1:])(cg.variables),
                       0.3, seed=2)
    cg = apply_noise(cg, VariableFilter(roles=[WEIGHT])(cg.parameters), 0.01, seed=3)
    algorithm = GradientDescent(cost=cg.outputs[0], parameters=cg.parameters,
                                step_rule=CompositeRule([StepClipping(1.0), Adam(0.01)]))
    algorithm.add_monitored([cg.outputs[0]])
    extensions = [Record(), Checkpoint(CHECKPOINT, every_n_batches=4, every_n_epochs=1),
                  FinishAfter(after_n_batches=TOTAL)]
    if kill is not None:
        extensions.append(kill)
    return MainLoop(algorithm, stream, model=Model(cost), extensions=extensions)


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def outcome(loop):
    """(persistent tensors, log rows, counters) of a finished run."""
    params = {k: v.detach().clone() for k, v in loop.model.get_persistent_dict().items()}
    rows = {t: _plain(dict(loop.log[t])) for t in range(loop.status["iterations_done"] + 1)}
    status = {k: _plain(loop.status[k]) for k in ("iterations_done", "epochs_done", "_epoch_ends")}
    return params, rows, status


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(background)``: the outcome of the uninterrupted run (computed once per module)."""

    @lru_cache(maxsize=None)
    def run(background=False):
        cwd = os.getcwd()
        os.chdir(tmp_path_factory.mktemp("reference"))
        try:
            loop = build(background)
            loop.run()
        finally:
            os.chdir(cwd)
        return outcome(loop)

    return run


def assert_same(result, reference):
    params, rows, status = result
    ref_params, ref_rows, ref_status = reference
    assert status == ref_status
    assert list(params) == list(ref_params)
    for name in ref_params:
        assert torch.equal(params[name], ref_params[name]), f"{name} differs after the resume"
    assert rows == ref_rows


def interrupted(kills, background=False):
    """Run until each kill in turn, resume each time from the checkpoint, then finish.

    ``background`` is the same for every run, or a list with one value per run.
    """
    runs = background if isinstance(background, list) else [background] * (len(kills) + 1)
    loop = build(runs[0], kill=kills[0])
    with pytest.raises(Killed):
        loop.run()
    for kill, workers in zip([*kills[1:], None], runs[1:]):
        loop = build(workers, kill=kill)
        loop.resume(CHECKPOINT)
        if kill is None:
            loop.run()
        else:
            with pytest.raises(Killed):
                loop.run()
    return loop


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_resume_mid_epoch_is_exact_and_reads_no_extra_data(in_tmp, reference):
    first = build(kill=Kill(at=8))
    with pytest.raises(Killed):
        first.run()
    CountingDataset.requested = 0
    loop = build()
    loop.resume(CHECKPOINT)
    loop.run()
    # iteration 8 is the 3rd of the 5 batches of epoch 2: the rest of that epoch is 7 + 2 examples, then 3
    # batches of 7 of epoch 3; the 23 examples before the resume point are never read
    assert CountingDataset.requested == 9 + 3 * 7
    assert_same(outcome(loop), reference())
    assert loop.status["resumed_from"] is not None


def test_resume_at_an_epoch_boundary_is_exact(in_tmp, reference):
    loop = interrupted([Kill(epoch=1)])
    assert loop.status["_epoch_ends"][0] == 5
    assert_same(outcome(loop), reference())


def test_two_successive_resumes_are_exact(in_tmp, reference):
    loop = interrupted([Kill(at=4), Kill(epoch=2)])
    assert_same(outcome(loop), reference())


def test_resume_with_background_loading_is_exact(in_tmp, reference):
    assert_same(reference(True), reference())  # background loading gives the same data
    loop = interrupted([Kill(at=4), Kill(at=12)], background=True)
    assert_same(outcome(loop), reference())


def test_resume_with_a_pool_of_workers_changed_at_every_resume_is_exact(in_tmp, reference):
    """Three runs through real checkpoints: 2 workers, then 3 (mid-epoch), then 1 (mid-epoch)."""
    assert_same(reference(2), reference())  # a pool gives the same data as the serial stream
    loop = interrupted([Kill(at=8), Kill(at=12)], background=[2, 3, 1])
    assert_same(outcome(loop), reference())


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import test_resume_equivalence as t
t.build(background=True, kill=t.Kill(at={at}, how="sigkill")).run()
raise SystemExit("not killed")
"""


def test_sigkill_right_after_a_checkpoint_then_resume_is_exact(in_tmp, reference):
    """One subprocess, killed with SIGKILL just after writing the checkpoint of iteration 8."""
    script = in_tmp / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(Path(__file__).parent), at=8)))
    result = subprocess.run([sys.executable, str(script)], cwd=in_tmp, capture_output=True, text=True, timeout=240)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert sorted(p.name for p in in_tmp.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    loop = build(background=True)
    loop.resume(CHECKPOINT)
    loop.run()
    assert_same(outcome(loop), reference())
