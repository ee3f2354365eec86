"""Checkpoint and Load extensions: triggers, retention, SIGTERM, errors, log records."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import build_loop  # noqa: E402

from blocks.extensions import Checkpoint, FinishAfter, Load, SimpleExtension  # noqa: E402
from blocks.extensions.saveload import SAVED_TO  # noqa: E402
from blocks.serialization import checkpoint_info, load_parameters  # noqa: E402


class Score(SimpleExtension):
    """Writes ``score = |iterations_done - best_at|`` to the log after every batch."""

    def __init__(self, best_at=4):
        super().__init__(after_batch=True)
        self.best_at = best_at

    def do(self, which_callback, *args):
        it = self.main_loop.status["iterations_done"]
        self.main_loop.log.current_row["score"] = float(abs(it - self.best_at))


class Act(SimpleExtension):
    def __init__(self, at, action):
        super().__init__(after_batch=True)
        self.at, self.action = at, action

    def do(self, which_callback, *args):
        if self.main_loop.status["iterations_done"] == self.at:
            self.action()


def _files(directory):
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".tar")


def test_retention_keeps_last_best_and_parameters_only(tmp_path):
    ckpt = Checkpoint(tmp_path / "c_{iterations_done:03d}.tar", every_n_batches=2, keep_last=2, keep_best="score",
                      keep_parameters=1)
    loop = build_loop([Score(best_at=4), ckpt, FinishAfter(after_n_batches=10)])
    loop.run()
    assert _files(tmp_path) == ["c_004.tar", "c_006.tar", "c_008.tar", "c_010.tar"]
    kinds = {name: checkpoint_info(tmp_path / name)["kind"] for name in _files(tmp_path)}
    assert kinds == {"c_004.tar": "full", "c_006.tar": "parameters", "c_008.tar": "full", "c_010.tar": "full"}
    assert [(r["iterations_done"], r["kind"]) for r in ckpt.saved] == [(4, "full"), (6, "parameters"), (8, "full"),
                                                                      (10, "full")]
    assert loop.log[6][SAVED_TO] == [str(tmp_path / "c_006.tar")]
    assert SAVED_TO not in loop.log[5]
    # the parameters-only file still loads by name
    assert set(load_parameters(tmp_path / "c_006.tar")) == {"/linear.W", "/linear.b", "/linear.running"}
    # the state the last checkpoint recorded continues the retention after a resume
    assert checkpoint_info(tmp_path / "c_010.tar")["status"] == {"iterations_done": 10, "epochs_done": 3}


def test_parameters_only_checkpoints_have_their_own_retention(tmp_path):
    full = Checkpoint(tmp_path / "full_{iterations_done}.tar", every_n_batches=3, keep_last=1, name="full")
    params = Checkpoint(tmp_path / "p_{iterations_done}.tar", every_n_batches=1, keep_last=4,
                        parameters_only=True, name="params")
    build_loop([full, params, FinishAfter(after_n_batches=9)]).run()
    assert _files(tmp_path) == ["full_9.tar", "p_6.tar", "p_7.tar", "p_8.tar", "p_9.tar"]
    assert checkpoint_info(tmp_path / "p_7.tar")["kind"] == "parameters"


def test_fixed_path_is_replaced_and_bad_arguments_are_refused(tmp_path):
    path = tmp_path / "last.tar"
    loop = build_loop([Checkpoint(path, every_n_batches=2), FinishAfter(after_n_batches=5)])
    loop.run()
    assert _files(tmp_path) == ["last.tar"]
    assert checkpoint_info(path)["status"]["iterations_done"] == 5  # after_training
    with pytest.raises(ValueError, match="need one file per save"):
        Checkpoint(path, keep_last=2)
    with pytest.raises(ValueError, match=r"uses the field \{step\}; available: \{iterations_done\}, \{epochs_done\}"):
        Checkpoint(tmp_path / "c_{step}.tar")
    with pytest.raises(ValueError, match="keep_last=0"):
        Checkpoint(tmp_path / "c_{iterations_done}.tar", keep_last=0)
    with pytest.raises(ValueError, match="best_mode"):
        Checkpoint(tmp_path / "c_{iterations_done}.tar", keep_best="x", best_mode="lowest")


def test_sigterm_checkpoints_then_stops(tmp_path):
    path = tmp_path / "new_dir" / "c_{iterations_done}.tar"
    loop = build_loop([Act(3, lambda: os.kill(os.getpid(), signal.SIGTERM)), Checkpoint(path),
                       FinishAfter(after_n_batches=100)])
    loop.run()
    assert loop.status["iterations_done"] == 3
    assert _files(tmp_path / "new_dir") == ["c_3.tar"]
    assert loop.log[3][SAVED_TO] == [str(tmp_path / "new_dir" / "c_3.tar")]


def test_on_error_saves_beside_the_good_checkpoint(tmp_path):
    def fail():
        raise RuntimeError("boom")

    path = tmp_path / "c.tar"
    loop = build_loop([Checkpoint(path, every_n_batches=1, on_error=True), Act(2, fail)])
    with pytest.raises(RuntimeError, match="boom"):
        loop.run()
    assert _files(tmp_path) == ["c.error.tar", "c.tar"]
    assert checkpoint_info(path)["status"]["iterations_done"] == 2


def test_load_extension_parameters_then_full_state(tmp_path):
    path = tmp_path / "c.tar"
    first = build_loop([Checkpoint(path), FinishAfter(after_n_batches=4)])
    first.run()
    fresh = build_loop([Load(path), FinishAfter(after_n_batches=1)], seed=3)
    fresh.run()  # parameters loaded, then one batch from scratch
    assert fresh.status["iterations_done"] == 1
    continued = build_loop([Load(path, load_iteration_state=True, load_log=True), FinishAfter(after_n_batches=6)],
                           seed=3)
    continued.run()
    assert continued.status["iterations_done"] == 6
    reference = build_loop([FinishAfter(after_n_batches=6)])
    reference.run()
    assert torch.equal(continued.model.W, reference.model.W)
    assert torch.equal(continued.model.running, reference.model.running)
    assert Load(tmp_path / "absent.tar").path.endswith("absent.tar")
    missing = build_loop([Load(tmp_path / "absent.tar"), FinishAfter(after_n_batches=1)])
    missing.run()
    assert missing.status["iterations_done"] == 1


def test_registered_by_name(plugin_host):
    from blocks.plugins import resolve

    assert resolve("extensions", "checkpoint") is Checkpoint
    assert resolve("extensions", "load") is Load


def test_a_path_given_with_a_condition_overrides_path(tmp_path):
    """Blocks' convention, used by EarlyStopping: ``add_condition(..., arguments=(path,))`` saves there."""
    from blocks.extensions.predicates import OnLogRecord

    class Best(SimpleExtension):
        def __init__(self):
            super().__init__(after_batch=True)

        def do(self, which_callback, *args):
            if self.main_loop.status["iterations_done"] in (2, 5):
                self.main_loop.log.current_row["new_best"] = True

    ckpt = Checkpoint(tmp_path / "regular_{iterations_done}.tar", every_n_batches=3, keep_last=1)
    ckpt.add_condition(["after_batch"], OnLogRecord("new_best"), (str(tmp_path / "best.tar"),))
    loop = build_loop([Best(), ckpt, FinishAfter(after_n_batches=6)])
    loop.run()
    assert _files(tmp_path) == ["best.tar", "regular_6.tar"]  # best.tar is outside the keep_last series
    assert checkpoint_info(tmp_path / "best.tar")["status"]["iterations_done"] == 5
    assert loop.log[5][SAVED_TO] == [str(tmp_path / "best.tar")]
