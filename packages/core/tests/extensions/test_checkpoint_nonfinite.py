"""Checkpoint never replaces a checkpoint with one whose parameters are NaN/inf (real GradientDescent runs)."""

from __future__ import annotations

import logging

import numpy
import pytest
import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import Linear
from blocks.extensions import Checkpoint, FinishAfter
from blocks.extensions.saveload import NONFINITE_SAVED_TO, SAVED_TO
from blocks.graph import matrix
from blocks.initialization import Constant
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.numerics import NonFiniteError
from blocks.serialization import checkpoint_info, load_parameters


class Batches(list):
    """An epoch iterator whose position can be saved (checkpoints taken mid-epoch record it)."""

    position = 0

    def __next__(self):
        if self.position == len(self):
            raise StopIteration
        self.position += 1
        return self[self.position - 1]

    def state_dict(self):
        return {"position": self.position}


class EpochStream:
    """Epoch ``e`` yields 4 batches of 2 examples: finite, except a NaN in batch 3 of the epochs in ``nan_epochs``."""

    def __init__(self, nan_epochs):
        self.nan_epochs, self.epoch = set(nan_epochs), 0

    def get_epoch_iterator(self, as_dict=False):
        self.epoch += 1
        data = numpy.random.default_rng(self.epoch).normal(size=(8, 3)).astype("float32")
        if self.epoch in self.nan_epochs:
            data[5, 0] = numpy.nan
        return Batches([{"features": data[i : i + 2]} for i in range(0, 8, 2)])

    def state_dict(self):
        return {"epoch": self.epoch}

    def load_state_dict(self, state):
        self.epoch = state["epoch"]


def build(extensions, nan_epochs=(2,), **loop_kwargs):
    linear = Linear(3, 1, weights_init=Constant(0.1), biases_init=Constant(0.0))
    linear.initialize()
    cost = ((linear.apply(matrix("features")) - 1.0) ** 2).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost, step_rule=Scale(0.01))
    return MainLoop(algorithm, EpochStream(nan_epochs), model=Model(cost), log=TrainingLog(),
                    extensions=[*extensions, FinishAfter(after_n_epochs=3)], **loop_kwargs), linear


def finite(path):
    return all(bool(torch.isfinite(t).all()) for t in load_parameters(path).values())


def test_a_nan_state_never_replaces_the_good_checkpoint_at_a_fixed_path(tmp_path, caplog):
    path = tmp_path / "c.tar"
    loop, linear = build([Checkpoint(path, every_n_epochs=1)], stop_on_nonfinite=False)
    with caplog.at_level(logging.ERROR, logger="blocks.extensions.saveload"):
        loop.run()
    assert not torch.isfinite(linear.W).any()  # the run went NaN in epoch 2 and trained on (guard off)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.nonfinite.tar", "c.tar"]
    assert finite(path) and checkpoint_info(path)["status"]["epochs_done"] == 1  # the last good one
    assert not finite(tmp_path / "c.nonfinite.tar")
    assert loop.log[8][NONFINITE_SAVED_TO] == str(tmp_path / "c.nonfinite.tar") and SAVED_TO not in loop.log[8]
    assert "not saving a checkpoint to" in caplog.text and "/linear.W" in caplog.text and "is kept" in caplog.text


def test_a_nan_state_never_enters_retention_so_it_deletes_no_good_checkpoint(tmp_path):
    ckpt = Checkpoint(tmp_path / "c_{epochs_done}.tar", every_n_epochs=1, keep_last=1, after_training=False)
    loop, _ = build([ckpt], stop_on_nonfinite=False)
    loop.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c_1.tar", "c_2.nonfinite.tar", "c_3.nonfinite.tar"]
    assert [r["epochs_done"] for r in ckpt.saved] == [1] and finite(tmp_path / "c_1.tar")


def test_save_nonfinite_false_writes_nothing(tmp_path, caplog):
    loop, _ = build([Checkpoint(tmp_path / "c.tar", every_n_epochs=1, save_nonfinite=False)],
                    stop_on_nonfinite=False)
    with caplog.at_level(logging.ERROR, logger="blocks.extensions.saveload"):
        loop.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tar"] and finite(tmp_path / "c.tar")
    assert "this state is not saved (save_nonfinite=False)" in caplog.text
    with pytest.raises(ValueError, match="nonfinite_path must differ"):
        Checkpoint(tmp_path / "c.tar", nonfinite_path=tmp_path / "c.tar")


def test_with_the_guard_a_checkpoint_every_batch_keeps_the_last_good_one(tmp_path):
    path = tmp_path / "c.tar"
    loop, _ = build([Checkpoint(path, every_n_batches=1, on_error=True)])
    with pytest.raises(NonFiniteError):
        loop.run()
    # batch 7 (epoch 2, batch 3) went NaN: the checkpoint of batch 6 stays; the guard stopped at the epoch's end
    assert checkpoint_info(path)["status"]["iterations_done"] == 6 and finite(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.error.tar", "c.nonfinite.tar", "c.tar"]
