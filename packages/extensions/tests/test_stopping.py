"""TrackTheBest, FinishIfNoImprovementAfter, EarlyStopping."""

from __future__ import annotations

import sys
import types

import numpy
import pytest

import blocks.extensions as core_extensions
from blocks.algorithms import TrainingAlgorithm
from blocks.extensions import FinishAfter, SimpleExtension
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks_extensions import EarlyStopping, FinishIfNoImprovementAfter, TrackTheBest
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream

VALUES = [5.0, 4.0, 4.5, 3.0, 3.5, 3.6, 3.7, 1.0]


class Nothing(TrainingAlgorithm):
    def initialize(self):
        pass

    def process_batch(self, batch):
        pass


class Writes(SimpleExtension):
    """Writes VALUES[epochs_done - 1] as valid_error after each epoch."""

    def __init__(self, **kwargs):
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)

    def do(self, which_callback, *args):
        self.main_loop.log.current_row["valid_error"] = VALUES[self.main_loop.status["epochs_done"] - 1]


class Saves(SimpleExtension):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.saved = []

    def do(self, which_callback, *args):
        self.saved.append((self.main_loop.status["epochs_done"], args))


def run(extensions, epochs=len(VALUES)):
    stream = DataStream(IndexableDataset({"x": numpy.zeros(2)}), iteration_scheme=SequentialScheme(2, 1))
    loop = MainLoop(
        Nothing(), stream, log=TrainingLog(), extensions=[Writes(), *extensions, FinishAfter(after_n_epochs=epochs)]
    )
    loop.run()
    return loop


def test_track_the_best_min_and_max():
    loop = run([TrackTheBest("valid_error")])
    best = [t for t, row in loop.log.rows() if row.get("valid_error_best_so_far")]
    assert best == [2, 4, 8, 16]  # epochs 1, 2, 4, 8 (2 batches per epoch)
    assert loop.status["best_valid_error"] == 1.0
    loop = run([TrackTheBest("valid_error", "top", choose_best="max")])
    assert [t for t, row in loop.log.rows() if row.get("top")] == [2]
    assert loop.status["best_valid_error"] == 5.0
    with pytest.raises(ValueError, match="choose_best"):
        TrackTheBest("x", choose_best="median")


def test_finish_if_no_improvement_after_epochs():
    stop = FinishIfNoImprovementAfter("valid_error_best_so_far", epochs=3)
    loop = run([TrackTheBest("valid_error"), stop])
    # best at epoch 4; epochs 5, 6, 7 without improvement: patience 0 at epoch 7
    assert loop.status["epochs_done"] == 7
    assert [loop.log[2 * e]["valid_error_best_so_far_patience_epochs"] for e in range(1, 8)] == [3, 3, 2, 3, 2, 1, 0]
    assert stop.state_dict()["last_best_epoch"] == 4
    fresh = FinishIfNoImprovementAfter("valid_error_best_so_far", epochs=3)
    fresh.load_state_dict(stop.state_dict())
    assert (fresh.last_best_iter, fresh.last_best_epoch) == (8, 4)


def test_finish_if_no_improvement_after_iterations():
    loop = run([TrackTheBest("valid_error"), FinishIfNoImprovementAfter("valid_error_best_so_far", iterations=5)])
    assert loop.status["iterations_done"] == 13  # best at iteration 8, patience used up at 13
    assert loop.log[13]["valid_error_best_so_far_patience_iterations"] == 0


@pytest.mark.parametrize("kwargs", [{}, {"epochs": 1, "iterations": 1}, {"epochs": 0}])
def test_finish_if_no_improvement_needs_one_positive_patience(kwargs):
    with pytest.raises(ValueError):
        FinishIfNoImprovementAfter("n", **kwargs)


def test_early_stopping_with_a_checkpoint_extension_outside_the_loop():
    saver = Saves()
    stopping = EarlyStopping("valid_error", checkpoint_extension=saver, checkpoint_filename="best.tar", epochs=2)
    loop = run([stopping])
    assert loop.status["epochs_done"] == 6  # best at 4, then 5 and 6 without improvement
    assert saver in stopping.sub_extensions  # added as a child since it was not in the main loop
    assert saver.saved == [(1, ("best.tar",)), (2, ("best.tar",)), (4, ("best.tar",))]
    with pytest.raises(ValueError, match="checkpoint_filename"):
        EarlyStopping("valid_error", checkpoint_extension=Saves(), epochs=1)


def test_early_stopping_checkpoint_in_the_loop_is_not_duplicated():
    saver = Saves(name="saver")
    stopping = EarlyStopping("valid_error", checkpoint_extension=saver, checkpoint_filename="best.tar", epochs=2)
    loop = run([stopping, saver])
    assert saver not in stopping.sub_extensions
    assert [epoch for epoch, _ in saver.saved] == [1, 2, 4]
    assert loop.status["epochs_done"] == 6


def test_early_stopping_creates_core_checkpoint_lazily(monkeypatch):
    created = []

    class Checkpoint(Saves):
        def __init__(self, path, name=None, **kwargs):
            kwargs.setdefault("after_training", True)
            super().__init__(name=name, **kwargs)
            self.path = path
            created.append(self)

    fake = types.ModuleType("blocks.extensions.saveload")
    fake.Checkpoint = Checkpoint
    monkeypatch.setitem(sys.modules, "blocks.extensions.saveload", fake)
    monkeypatch.delitem(core_extensions.__dict__, "Checkpoint", raising=False)
    stopping = EarlyStopping("valid_error", checkpoint_filename="best.tar", epochs=2)
    run([stopping])
    (checkpoint,) = created
    assert checkpoint.path == "best.tar" and checkpoint.name == "EarlyStopping_checkpoint"
    assert [epoch for epoch, _ in checkpoint.saved] == [1, 2, 4]  # only on new bests, not after training
