"""A checkpoint runs after the other extensions of a callback and saves the final state once.

Before: the quickstart's ``Checkpoint(every_n_epochs=5)`` listed before ``FinishAfter(after_n_epochs=20)``
saved at the end of epoch 20 without the finish request, then again after training: ``saved_to`` listed
one path twice, and the epoch-20 file (the one ``blocks continue`` found first) did not say the run ended.
"""

from __future__ import annotations

import pytest

from blocks.extensions import Checkpoint, SimpleExtension, TrainingExtension
from blocks.extensions.saveload import SAVED_TO
from blocks.serialization import checkpoint_info

from .test_checkpoint_nonfinite import build


def _count_saves(monkeypatch):
    import blocks.serialization as serialization

    calls = []
    original = serialization.save_checkpoint

    def counting(path, main_loop, **kwargs):
        calls.append((path, main_loop.status["iterations_done"]))
        return original(path, main_loop, **kwargs)

    monkeypatch.setattr(serialization, "save_checkpoint", counting)
    return calls


def test_the_final_checkpoint_is_written_once_with_the_finish_recorded(tmp_path, monkeypatch):
    calls = _count_saves(monkeypatch)
    path = tmp_path / "checkpoint.tar"
    loop, _ = build([Checkpoint(path, every_n_epochs=1)], nan_epochs=())  # listed before FinishAfter(3)
    loop.run()
    assert [iteration for _, iteration in calls] == [4, 8, 12]  # epochs 1, 2, and the final state once
    assert loop.log[12][SAVED_TO] == [str(path)]
    assert checkpoint_info(str(path))["training_finished"]


def test_periodic_saves_before_the_end_are_kept(tmp_path, monkeypatch):
    calls = _count_saves(monkeypatch)
    template = str(tmp_path / "ckpt_{epochs_done}.tar")
    loop, _ = build([Checkpoint(template, every_n_epochs=1, after_training=False)], nan_epochs=())
    loop.run()
    # without an after_training save, the save at the finishing epoch is the final one: it is written
    assert [iteration for _, iteration in calls] == [4, 8, 12]


def test_saving_extensions_run_after_the_others_of_a_callback(tmp_path):
    order = []

    class Record(TrainingExtension):
        def after_epoch(self):
            order.append(self.name)

    class Saver(SimpleExtension):
        saves_state = True

        def do(self, which_callback, *args):
            order.append(self.name)

    loop, _ = build([Saver(name="saver", after_epoch=True), Record(name="first"), Record(name="second")],
                    nan_epochs=())
    loop.run()
    assert order[:3] == ["first", "second", "saver"]


@pytest.mark.parametrize("checkpoint_first", [True, False])
def test_the_checkpoint_holds_the_epochs_monitoring_whatever_the_list_order(tmp_path, checkpoint_first):
    class Monitor(TrainingExtension):
        def after_epoch(self):
            self.main_loop.log.current_row["valid_value"] = self.main_loop.status["epochs_done"]

    path = tmp_path / "ckpt_{epochs_done}.tar"
    checkpoint = Checkpoint(str(path), every_n_epochs=1)
    loop, _ = build([checkpoint, Monitor()] if checkpoint_first else [Monitor(), checkpoint], nan_epochs=())
    loop.run()
    from blocks.serialization import load_checkpoint

    state = load_checkpoint(str(tmp_path / "ckpt_1.tar")).main_loop
    assert _find(state, "valid_value") == 1


def _find(tree, key):
    """The value of ``key`` anywhere in a nested state (the log's rows are inside the main loop's state)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = _find(item, key)
            if found is not None:
                return found
    return None
