"""The TensorBoard extension and `blocks tensorboard-export`, read back with TensorBoard's own reader."""

from __future__ import annotations

import importlib.util
import os
import sqlite3

import numpy
import pytest
import torch

from blocks.extensions import FinishAfter
from blocks.log import SQLiteLog, TrainingLog
from blocks.main_loop import MainLoop
from blocks_extensions import DataStreamMonitoring, TensorBoard, TrainingDataMonitoring

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="tensorboard is not installed (the optional extra blocks-extensions[tensorboard])",
)


def read_events(directory):
    """Every scalar and histogram in the event files under ``directory``, by tag: TensorBoard's reader."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(directory), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0}
    )
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {tag: [(e.step, e.value, e.wall_time) for e in accumulator.Scalars(tag)] for tag in tags["scalars"]}
    histograms = {tag: [e.step for e in accumulator.Histograms(tag)] for tag in tags["histograms"]}
    return scalars, histograms


def numeric_records(log, channels):
    return {c: [(t, float(row[c])) for t, row in log.rows() if c in row] for c in channels}


def test_every_monitored_channel_is_written_at_its_iteration(setup, tmp_path):
    s = setup(num_examples=12, batch_size=4)
    log = TrainingLog()
    tensorboard = TensorBoard(str(tmp_path / "events"), histograms=True)
    loop = MainLoop(
        s.algorithm(), s.stream(), model=s.model, log=log,
        extensions=[
            tensorboard,  # first in the list: values written after it in a callback are still picked up
            TrainingDataMonitoring([s.cost], prefix="train", after_batch=True),
            DataStreamMonitoring([s.cost], s.stream(), prefix="valid"),
            FinishAfter(after_n_epochs=2),
        ],
    )  # fmt: skip
    loop.run()
    assert tensorboard.writer is None  # closed after training
    scalars, histograms = read_events(tmp_path / "events")
    expected = numeric_records(log, ["train_cost", "valid_cost"])
    assert set(scalars) == {"train_cost", "valid_cost"}
    for channel, records in expected.items():
        assert [(step, value) for step, value, _ in scalars[channel]] == [
            (t, pytest.approx(v, rel=1e-6)) for t, v in records
        ], channel
    assert [t for t, _ in expected["valid_cost"]] == [0, 3, 6]
    parameters = {name.lstrip("/") for name in s.model.get_parameter_dict()}
    assert set(histograms) == parameters and all(steps == [3, 6, 6] or steps == [3, 6] for steps in
                                                 histograms.values())


def test_channel_patterns_and_no_histograms_by_default(setup, tmp_path):
    s = setup()
    loop = MainLoop(
        s.algorithm(), s.stream(), model=s.model, log=TrainingLog(),
        extensions=[TrainingDataMonitoring([s.cost], prefix="train", after_batch=True),
                    TrainingDataMonitoring([s.cost], prefix="other", name="other", after_batch=True),
                    TensorBoard(str(tmp_path), channels=["train_*"]), FinishAfter(after_n_batches=3)],
    )  # fmt: skip
    loop.run()
    scalars, histograms = read_events(tmp_path)
    assert set(scalars) == {"train_cost"} and histograms == {}
    assert [step for step, _, _ in scalars["train_cost"]] == [1, 2, 3]


def write_resumed_log(path):
    first = SQLiteLog(path)
    for t in range(10):
        first.status["iterations_done"] = t
        first.current_row["cost"] = float(t)
        first.current_row["text"] = "not a number"
    first.status["iterations_done"] = 6
    state = first.state_dict()
    first.close()
    second = SQLiteLog(path)
    second.load_state_dict(state)
    second.resume()
    for t in range(6, 9):
        second.status["iterations_done"] = t
        second.current_row["cost"] = 100.0 + t
        second.current_row["flag"] = True
    second.close()
    return second.uuid


def test_export_writes_a_resumed_run_as_one_history_with_wall_times(tmp_path):
    from blocks_extensions.tensorboard import export_log

    path = str(tmp_path / "log.sqlite")
    uuid = write_resumed_log(path)
    written = export_log(path, str(tmp_path / "tb"))
    assert written == {str(tmp_path / "tb" / uuid): 9}
    scalars, _ = read_events(tmp_path / "tb" / uuid)
    reference = SQLiteLog.read(path).to_records()
    assert set(scalars) == {"cost"}
    assert [(step, value) for step, value, _ in scalars["cost"]] == [(r["iteration"], r["cost"]) for r in reference]
    connection = sqlite3.connect(path)
    walls = dict(connection.execute("SELECT time, wall FROM clock WHERE uuid = ?", (uuid,)).fetchall())
    connection.close()
    assert [wall for step, _, wall in scalars["cost"] if step >= 6] == pytest.approx([walls[t] for t in (6, 7, 8)])
    assert sorted(os.listdir(tmp_path / "tb")) == [uuid]  # no staging directory left


def test_export_command_and_its_errors(tmp_path, capsys):
    from blocks.cli.main import main

    path = str(tmp_path / "log.sqlite")
    uuid = write_resumed_log(path)
    assert main(["tensorboard-export", path, str(tmp_path / "tb"), "--channels", "co*"]) == 0
    assert f"{uuid}: 9 scalars" in capsys.readouterr().out
    cases = [
        ([path, str(tmp_path / "tb")], "already exists"),
        ([str(tmp_path / "missing.sqlite"), str(tmp_path / "x")], "no file"),
        ([path, str(tmp_path / "y"), "--run", "nope"], "no run 'nope'"),
        ([path, str(tmp_path / "z"), "--channels", "valid_*"], "no numeric channel matching"),
    ]
    for arguments, message in cases:
        assert main(["tensorboard-export", *arguments]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not os.path.exists(tmp_path / "z") or os.listdir(tmp_path / "z") == []


def test_scalar_values_take_numbers_of_every_kind():
    from blocks_extensions.tensorboard import scalar_values

    row = {"a": numpy.float32(0.5), "b": torch.tensor(2.0), "c": numpy.array([1.0, 2.0]), "d": numpy.bool_(True),
           "e": torch.tensor(True), "f": 7, "g": None, "h": float("nan")}
    values = scalar_values(row)
    assert values.keys() == {"a", "b", "f", "h"} and values["a"] == 0.5 and values["b"] == 2.0


def test_a_run_resumed_from_an_older_checkpoint_reads_as_one_history(setup, tmp_path):
    from blocks.extensions import Checkpoint

    s = setup(num_examples=12, batch_size=4)
    events = str(tmp_path / "events")

    def build(epochs):
        monitoring = TrainingDataMonitoring([s.cost], prefix="train", after_batch=True)
        extensions = [monitoring, TensorBoard(events), FinishAfter(after_n_epochs=epochs),
                      Checkpoint(str(tmp_path / "ck_{epochs_done}.tar"), every_n_epochs=1)]
        return MainLoop(s.algorithm(), s.stream(), model=s.model, log=TrainingLog(), extensions=extensions)

    build(2).run()  # epochs 1 and 2 (iterations 1-6) written; the second attempt resumes after epoch 1
    second = build(3)
    second.resume(str(tmp_path / "ck_1.tar"))
    second.run()
    scalars, _ = read_events(events)
    steps = [step for step, _, _ in scalars["train_cost"]]
    assert steps == list(range(1, 10))  # 4-6 of the first attempt dropped (purge_step), not listed twice
    values = dict((step, value) for step, value, _ in scalars["train_cost"])
    expected = numeric_records(second.log, ["train_cost"])["train_cost"]
    assert [(t, values[t]) for t, _ in expected if t > 3] == [(t, pytest.approx(v, rel=1e-6)) for t, v in expected
                                                                if t > 3]
