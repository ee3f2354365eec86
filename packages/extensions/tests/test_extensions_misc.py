"""Printing, ProgressBar, Timing, Timestamp, SharedVariableModifier, CheckNumerics, Plot, registration."""

from __future__ import annotations

import datetime
import io
import os
import sys

import numpy
import pytest
import torch

from blocks.extensions import FinishAfter, TrainingExtension
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks_extensions import (
    CheckNumerics,
    NonFiniteError,
    Plot,
    Printing,
    ProgressBar,
    SharedVariableModifier,
    Timestamp,
    Timing,
    TrainingDataMonitoring,
)


def make_loop(s, extensions, epochs=2, stream=None):
    return MainLoop(
        s.algorithm(),
        stream or s.stream(),
        model=s.model,
        log=TrainingLog(),
        extensions=[*extensions, FinishAfter(after_n_epochs=epochs)],
    )


def test_printing_prints_status_and_records_hiding_private_keys(setup):
    out = io.StringIO()
    loop = make_loop(setup(), [Printing(file=out)], epochs=1)
    loop.log.current_row["_hidden"] = 1
    loop.run()
    text = out.getvalue()
    assert text.count("BEFORE FIRST EPOCH") == 1 and text.count("AFTER ANOTHER EPOCH") == 1
    assert "TRAINING HAS BEEN FINISHED" in text and "iterations_done: 3" in text
    assert "training_finish_requested: True" in text
    assert "_hidden" not in text and "_epoch_ends" not in text


def test_printing_compact_prints_one_rounded_line_per_event(setup):
    out = io.StringIO()
    s = setup()
    loop = make_loop(s, [TrainingDataMonitoring([s.cost], prefix="train"), Printing(file=out, compact=True)], epochs=2)
    loop.log.current_row["_hidden"] = 1.0
    loop.run()
    lines = out.getvalue().splitlines()
    assert [line.split(" | ")[0] for line in lines] == ["start", "epoch 1", "epoch 2", "finished"]
    assert lines[1].startswith("epoch 1 | iteration 3 | train_cost ")
    value = lines[1].split("train_cost ")[1].split(" |")[0]
    assert float(value) == pytest.approx(loop.log[3]["train_cost"], rel=1e-3) and len(value.replace(".", "")) <= 5
    assert "_hidden" not in out.getvalue() and "saved_to" not in out.getvalue()
    with pytest.raises(ValueError, match="precision"):
        Printing(precision=0)
    out = io.StringIO()
    loop = make_loop(
        s,
        [
            TrainingDataMonitoring([s.cost], prefix="train"),
            Timing(),
            Printing(file=out, compact=True, channels=["train_*"], before_first_epoch=False),
        ],
        epochs=1,
    )
    loop.run()
    assert "time_" not in out.getvalue() and out.getvalue().count("train_cost") == 2


@pytest.mark.parametrize("after_epoch", [True, False])
def test_printing_prints_once_when_several_triggers_match_one_callback(setup, after_epoch):
    """``every_n_epochs=2`` keeps the ``after_epoch`` default: every epoch prints once, never twice."""
    out = io.StringIO()
    printing = Printing(
        file=out,
        compact=True,
        every_n_epochs=2,
        after_epoch=after_epoch,
        before_first_epoch=False,
        after_training=False,
    )
    make_loop(setup(), [printing], epochs=4).run()
    epochs = [line.split(" | ")[0] for line in out.getvalue().splitlines()]
    assert epochs == (["epoch 1", "epoch 2", "epoch 3", "epoch 4"] if after_epoch else ["epoch 2", "epoch 4"])


def test_progress_bar_draws_nothing_when_the_output_is_not_a_terminal(setup):
    out = io.StringIO()
    make_loop(setup(), [ProgressBar(file=out, mininterval=0)], epochs=1).run()
    assert out.getvalue() == ""


@pytest.mark.parametrize("configured", [True, False])
def test_progress_bar_routes_console_logging_through_the_bar(setup, capfd, configured):
    """Log records go through ``tqdm.write`` while a bar is shown, and the handlers are restored after."""
    import logging

    root = logging.getLogger()
    saved = list(root.handlers)  # pytest's capturing handlers; "not configured" means none at all
    root.handlers = [logging.StreamHandler(sys.stderr)] if configured else []
    before = list(root.handlers)
    seen = []

    class Talk(TrainingExtension):
        def after_batch(self, batch):
            seen.append([type(h).__name__ for h in root.handlers])
            logging.getLogger("blocks.test").warning("message number %d", len(seen))

    try:
        bar = ProgressBar(file=sys.stderr, mininterval=0, disable=False)
        make_loop(setup(), [bar, Talk()], epochs=1).run()
        assert seen and all(names == ["_TqdmLoggingHandler"] for names in seen)
        assert root.handlers == before
    finally:
        root.handlers = saved
    err = capfd.readouterr().err
    for n in (1, 2, 3):
        assert err.count(f"message number {n}\n") == 1


def test_progress_bar_counts_batches_per_epoch(setup):
    s = setup(num_examples=10, batch_size=4)
    out = io.StringIO()
    bar = ProgressBar(file=out, mininterval=0, disable=False)
    totals = []

    class Peek(TrainingExtension):
        def after_batch(self, batch):
            totals.append((bar.bar.total, bar.bar.n))

    loop = make_loop(s, [bar, Peek()], epochs=2)
    loop.run()
    assert totals == [(3, 1), (3, 2), (3, 3)] * 2
    assert bar.bar is None and "epoch 2" in out.getvalue()


def test_timing_records_and_continues_totals_after_resumption(setup):
    s = setup()
    timing = Timing()
    loop = make_loop(s, [timing], epochs=2)
    loop.run()
    assert loop.log[0]["time_initialization"] >= 0
    for time in (3, 6):
        row = loop.log[time]
        for action in ("train", "read_data"):
            assert 0 <= row[f"time_{action}_this_epoch"] <= row[f"time_{action}_total"]
    assert loop.log[6]["time_train_total"] == pytest.approx(
        loop.log[3]["time_train_this_epoch"] + loop.log[6]["time_train_this_epoch"]
    )
    state = loop.state_dict()
    resumed_timing = Timing()
    resumed = make_loop(s, [resumed_timing], epochs=3)
    resumed.load_state_dict(state)
    resumed.run()
    assert resumed.log[9]["time_train_total"] >= state["extensions"]["Timing"]["totals"]["train"]
    assert resumed.log[9]["time_train_total"] == pytest.approx(
        state["extensions"]["Timing"]["totals"]["train"] + resumed.log[9]["time_train_this_epoch"]
    )


def test_timestamp_records_iso_times(setup):
    loop = make_loop(setup(), [Timestamp(separator="T")], epochs=1)
    loop.run()
    for time in (0, 3):
        datetime.datetime.fromisoformat(loop.log[time]["timestamp"])
    assert "T" in loop.log[3]["timestamp"]


def test_shared_variable_modifier_schedules_in_place(setup):
    s = setup()
    algorithm = s.algorithm()
    rate = algorithm.step_rule.learning_rate
    seen = []

    class Peek(TrainingExtension):
        def after_batch(self, batch):
            seen.append(float(rate))

    loop = MainLoop(
        algorithm,
        s.stream(),
        model=s.model,
        log=TrainingLog(),
        extensions=[SharedVariableModifier(rate, lambda n: 1.0 / n), Peek(), FinishAfter(after_n_batches=3)],
    )
    loop.run()
    assert seen == pytest.approx([1.0, 0.5, 1 / 3])
    assert algorithm.step_rule.learning_rate is rate
    halve = SharedVariableModifier(rate, lambda n, old: old / 2, every_n_batches=2)
    assert halve.num_args == 2
    loop = MainLoop(
        algorithm, s.stream(), model=s.model, log=TrainingLog(), extensions=[halve, FinishAfter(after_n_batches=4)]
    )
    before = float(rate)
    loop.run()
    assert float(rate) == pytest.approx(before / 4)
    with pytest.raises(ValueError, match="tensor"):
        SharedVariableModifier(0.1, lambda n: n)
    with pytest.raises(ValueError, match="arguments"):
        SharedVariableModifier(rate, lambda a, b, c: a)


def test_check_numerics_names_the_parameter_and_stops(setup):
    s = setup(num_examples=12, batch_size=4)
    features = s.features.copy()
    features[9, 1] = numpy.inf  # third batch
    errors = []

    class Keep(TrainingExtension):
        def on_error(self, exception):
            errors.append(exception)

    loop = make_loop(s, [CheckNumerics(), Keep()], epochs=1, stream=s.stream(features, s.targets))
    with pytest.raises(NonFiniteError, match=r"non-finite gradient .*first in /mlp/linear_0\.W at iteration 3"):
        loop.run()
    assert errors and "iteration 3" in loop.log[3]["numerics_problem"]

    s = setup(num_examples=12, batch_size=4)
    finish = make_loop(s, [CheckNumerics(action="finish")], epochs=3, stream=s.stream(features, s.targets))
    finish.run()
    assert finish.status["iterations_done"] == 3 and finish.log[3]["training_finish_requested"]
    with pytest.raises(ValueError, match="action"):
        CheckNumerics(action="ignore")


def test_the_main_loops_guard_stops_right_after_training_data_monitoring(setup):
    import blocks.numerics

    s = setup(num_examples=40, batch_size=4)
    features = s.features.copy()
    features[13, 1] = numpy.nan  # batch 4: NaN cost, then NaN parameters
    monitoring = TrainingDataMonitoring([s.cost], prefix="train", every_n_batches=3)
    loop = make_loop(s, [monitoring], epochs=2, stream=s.stream(features, s.targets))
    with pytest.raises(blocks.numerics.NonFiniteError, match=r"epoch 1, after batch 6 \(in one of batches 4-6\): "
                       r"not finite: cost; parameters /mlp/linear_0\.W, /mlp/linear_0\.b, /mlp/linear_1\.W"):
        loop.run()
    assert numpy.isfinite(loop.log[3]["train_cost"]) and numpy.isnan(loop.log[6]["train_cost"])
    assert issubclass(NonFiniteError, blocks.numerics.NonFiniteError)  # one except clause catches both


def test_check_numerics_passes_finite_training(setup):
    s = setup()
    loop = make_loop(s, [CheckNumerics()], epochs=1)
    loop.run()
    assert all("numerics_problem" not in row for _, row in loop.log.rows())


def test_plot_writes_png_atomically_every_n_epochs(setup, tmp_path, monkeypatch):
    s = setup()
    path = tmp_path / "plots" / "curves.png"
    plot = Plot(str(path), [["train_*"], ["missing"]], every_n_epochs=2, after_training=False)
    renders = []
    original = Plot.render

    def counting(self):
        original(self)
        renders.append(self.main_loop.status["epochs_done"])

    monkeypatch.setattr(Plot, "render", counting)
    loop = make_loop(s, [TrainingDataMonitoring([s.cost], prefix="train"), plot], epochs=4)
    loop.run()
    assert renders == [2, 4]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(path.parent) == ["curves.png"]
    series = plot.series()
    assert list(series[0]) == ["train_cost"] and series[0]["train_cost"][0] == [3, 6, 9, 12]
    with pytest.raises(ValueError, match=".png"):
        Plot("curves.svg", ["a"])
    with pytest.raises(ValueError, match="at least one"):
        Plot("c.png", [])


def test_every_extension_is_registered(plugin_host, register_plugin):
    from blocks.plugins import resolve
    from blocks_extensions import EXPORTS, plugin

    register_plugin(plugin, distribution="blocks-extensions")
    names = [export.name for export in EXPORTS.registered("extensions")]
    assert len(names) == 13
    for name in names:
        cls = resolve("extensions", name)
        assert isinstance(cls, type) and issubclass(cls, TrainingExtension)
        snake = "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_")
        assert snake == name


def test_state_dicts_are_json_able(setup):
    import json

    s = setup()
    extensions = [
        Printing(file=io.StringIO()),
        ProgressBar(file=io.StringIO()),
        Timing(),
        Timestamp(),
        SharedVariableModifier(torch.tensor(0.1), lambda n: 0.1),
        CheckNumerics(),
    ]
    loop = make_loop(s, extensions, epochs=1)
    loop.run()
    for ext in extensions:
        json.dumps(ext.state_dict())


def test_plot_has_a_title_axis_labels_and_train_before_valid(setup, tmp_path):
    """Validation is logged before the first epoch, training after it: the legend still lists train first."""
    from blocks_extensions import DataStreamMonitoring

    s = setup()
    path = tmp_path / "curves.png"
    plot = Plot(str(path), [["train_*", "valid_*"]], after_training=False)
    monitors = [
        DataStreamMonitoring([s.cost], s.stream(), prefix="valid"),
        TrainingDataMonitoring([s.cost], prefix="train"),
    ]
    loop = make_loop(s, [*monitors, plot], epochs=2)
    loop.run()
    first_logged = [k for _, row in loop.log.rows() for k in row if k.endswith("_cost")][0]
    assert first_logged == "valid_cost"  # the order the log holds them in
    figure = plot.figure()
    axes = figure.axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["train_cost", "valid_cost"]
    assert axes.get_xlabel() == "iterations" and axes.get_ylabel() == "cost"
    assert figure.get_suptitle() == "curves (epoch 2, iteration 6)"
    titled = Plot(str(path), ["train_cost"], title="MLP on digits")
    titled.main_loop = loop
    assert titled.figure().get_suptitle() == "MLP on digits (epoch 2, iteration 6)"


def test_plot_file_follows_the_umask(setup, tmp_path):
    s = setup()
    path = tmp_path / "curves.png"
    loop = make_loop(s, [TrainingDataMonitoring([s.cost], prefix="train"), Plot(str(path), ["train_*"])], epochs=1)
    old = os.umask(0o027)
    try:
        loop.run()
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o640
