"""A whole training run with GradientDescent resumes mid-epoch exactly, monitoring included."""

from __future__ import annotations

import io

import numpy
import pytest

from blocks.extensions import FinishAfter
from blocks.log import SQLiteLog, TrainingLog
from blocks.main_loop import MainLoop
from blocks_extensions import DataStreamMonitoring, Printing, ProgressBar, Timing, TrainingDataMonitoring
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream


def build(setup, log, finish):
    s = setup(num_examples=14, batch_size=4, learning_rate=0.1)
    stream = DataStream(
        IndexableDataset({"features": s.features, "targets": s.targets}), iteration_scheme=ShuffledScheme(14, 4, rng=7)
    )
    valid = s.stream(s.features[:5], s.targets[:5])
    extensions = [
        TrainingDataMonitoring([s.cost], prefix="train", every_n_batches=2),
        DataStreamMonitoring([s.cost], valid, prefix="valid"),
        Timing(),
        Printing(file=io.StringIO()),
        ProgressBar(file=io.StringIO()),
        finish,
    ]
    return s, MainLoop(s.algorithm(), stream, model=s.model, log=log, extensions=extensions)


@pytest.mark.parametrize("backend", ["python", "sqlite"])
def test_mid_epoch_resume_matches_an_uninterrupted_run(setup, tmp_path, backend):
    make_log = (lambda: TrainingLog()) if backend == "python" else (lambda: SQLiteLog(str(tmp_path / "run.sqlite")))
    reference_setup, reference = build(setup, TrainingLog(), FinishAfter(after_n_epochs=3))
    initial = reference_setup.model.get_parameter_values()
    reference.run()

    first_setup, first = build(setup, make_log(), FinishAfter(after_n_batches=6))  # stops in epoch 2 of 4 batches
    first_setup.model.set_parameter_values(initial)
    first.run()
    state = first.state_dict()
    parameters = first_setup.model.get_parameter_values()

    second_setup, second = build(setup, make_log(), FinishAfter(after_n_epochs=3))
    second_setup.model.set_parameter_values(parameters)
    second.load_state_dict(state)
    second.run()

    for name, value in reference_setup.model.get_parameter_values().items():
        numpy.testing.assert_allclose(second_setup.model.get_parameter_values()[name], value, rtol=1e-6, atol=1e-7)
    for key in ("train_cost", "valid_cost"):
        expected = [(t, row[key]) for t, row in reference.log.rows() if key in row]
        got = [(t, row[key]) for t, row in second.log.rows() if key in row]
        assert [t for t, _ in got] == [t for t, _ in expected]
        numpy.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-5)
    assert second.status["iterations_done"] == 12 and second.status["_epoch_ends"] == [4, 8, 12]
