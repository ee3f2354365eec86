"""The final checkpoint is written once, and the log lists it once.

Before: the quickstart's ``Checkpoint(every_n_epochs=5)`` saved at the end of epoch 20 and again after
training (``saved_to`` listed one path twice, two INFO lines each); the epoch-20 file, written before
``FinishAfter`` recorded the finish, did not say that the run had ended.
"""

from __future__ import annotations

from blocks.extensions import Checkpoint, FinishAfter
from blocks.extensions.saveload import SAVED_TO
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks.serialization import checkpoint_info

from .test_checkpoint_nonfinite import EpochStream, build


def _count_saves(monkeypatch):
    import blocks.serialization as serialization

    calls = []
    original = serialization.save_checkpoint

    def counting(path, main_loop, **kwargs):
        calls.append(main_loop.status["iterations_done"])
        return original(path, main_loop, **kwargs)

    monkeypatch.setattr(serialization, "save_checkpoint", counting)
    return calls


def test_after_finish_after_the_final_state_is_saved_once(tmp_path, monkeypatch):
    """Blocks' order (FinishAfter before Checkpoint): the periodic save of the last epoch is the final one."""
    calls = _count_saves(monkeypatch)
    path = tmp_path / "checkpoint.tar"
    loop, _ = build([], nan_epochs=())
    finish = loop.extensions[-1]
    loop = MainLoop(loop.algorithm, EpochStream(()), model=loop.model, log=TrainingLog(),
                    extensions=[finish, Checkpoint(path, every_n_epochs=1)])
    loop.run()
    assert calls == [4, 8, 12]
    assert loop.log[12][SAVED_TO] == [str(path)]
    assert checkpoint_info(str(path))["training_finished"]


def test_before_finish_after_the_final_file_gets_the_final_status_and_is_listed_once(tmp_path, monkeypatch, caplog):
    calls = _count_saves(monkeypatch)
    path = tmp_path / "checkpoint.tar"
    loop, _ = build([Checkpoint(path, every_n_epochs=1)], nan_epochs=())  # listed before FinishAfter(3)
    with caplog.at_level("INFO", logger="blocks.extensions.saveload"):
        loop.run()
    assert calls == [4, 8, 12, 12]  # the file of iteration 12 is rewritten with the finish recorded
    assert loop.log[12][SAVED_TO] == [str(path)]
    assert [r.getMessage() for r in caplog.records].count(f"checkpoint saved to {path}") == 3
    assert checkpoint_info(str(path))["training_finished"]


def test_periodic_saves_are_kept_without_an_after_training_save(tmp_path, monkeypatch):
    calls = _count_saves(monkeypatch)
    loop, _ = build([], nan_epochs=())
    finish = loop.extensions[-1]
    template = str(tmp_path / "ckpt_{epochs_done}.tar")
    loop = MainLoop(loop.algorithm, EpochStream(()), model=loop.model, log=TrainingLog(),
                    extensions=[finish, Checkpoint(template, every_n_epochs=1, after_training=False)])
    loop.run()
    assert calls == [4, 8, 12]
    assert isinstance(finish, FinishAfter)
