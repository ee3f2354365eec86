"""FinishAfter finishes at >= N, also on resumption from a real checkpoint; other after_n_* triggers fire once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "serialization"))

from _tiny import build_loop  # noqa: E402

from blocks.extensions import Checkpoint, FinishAfter, SimpleExtension  # noqa: E402
from blocks.log import TrainingLog  # noqa: E402
from blocks.main_loop import MainLoop  # noqa: E402


class Batches(SimpleExtension):
    """Counts the batches this process trained; fails the test past ``limit`` (a run that never ends)."""

    def __init__(self, limit=30):
        super().__init__(after_batch=True)
        self.count, self.limit = 0, limit

    def do(self, which_callback, *args):
        self.count += 1
        if self.count > self.limit:
            raise AssertionError(f"trained {self.count} batches: FinishAfter did not stop the run")


def test_resuming_the_checkpoint_written_at_n_before_finish_after_recorded_it_stops(tmp_path):
    # the quickstart's order: Checkpoint(every_n_epochs) before FinishAfter(after_n_epochs), both at epoch 2
    path = tmp_path / "checkpoint.tar"
    first = build_loop([Checkpoint(path, every_n_epochs=2, after_training=False), FinishAfter(after_n_epochs=2)])
    first.run()
    assert first.status["epochs_done"] == 2  # 3 batches per epoch

    counter = Batches()
    resumed = build_loop([Checkpoint(path, every_n_epochs=2, after_training=False), FinishAfter(after_n_epochs=2),
                          counter])
    resumed.resume(path)
    resumed.run()  # Blocks' == 2 never fired again here: the run trained on forever
    assert counter.count == 0 and resumed.status["epochs_done"] == 2
    assert resumed.log.current_row["training_finished"] is True


def test_resuming_a_finished_run_with_a_larger_count_trains_on_to_it(tmp_path):
    path = tmp_path / "checkpoint.tar"
    build_loop([FinishAfter(after_n_epochs=2), Checkpoint(path)]).run()  # saved after training: finish recorded
    same = build_loop([FinishAfter(after_n_epochs=2), Batches()])
    same.resume(path)
    same.run()
    assert same.status["epochs_done"] == 2 and same.extensions[1].count == 0

    counter = Batches()
    longer = build_loop([FinishAfter(after_n_epochs=4), counter])
    longer.resume(path)
    longer.run()  # the previous run's finish request does not stop this one
    assert longer.status["epochs_done"] == 4 and counter.count == 6


def test_finish_after_fires_at_or_past_its_count_others_fire_once(doubles):
    class Once(SimpleExtension):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.at = []

        def do(self, which_callback, *args):
            self.at.append(self.main_loop.status["iterations_done"])

    once = Once(after_n_batches=2)
    finish = FinishAfter(after_n_batches=100)
    loop = MainLoop(doubles["RecordingAlgorithm"](), doubles["make_stream"](num_examples=6, batch_size=1),
                    log=TrainingLog(), extensions=[once, finish])

    class Lower(SimpleExtension):
        def do(self, which_callback, *args):
            if self.main_loop.status["iterations_done"] == 5:
                finish.set_conditions(after_n_batches=3)  # already past: FinishAfter stops at the next batch

    loop.extensions += [Lower(after_batch=True), Batches(limit=20)]
    loop.run()
    assert loop.status["iterations_done"] == 6 and once.at == [2]
    assert FinishAfter(after_n_epochs=3).responds_to("on_resumption")
    assert not FinishAfter(every_n_epochs=3).responds_to("on_resumption")
    with pytest.raises(ValueError, match="positive integer"):
        FinishAfter(after_n_batches=-1)
