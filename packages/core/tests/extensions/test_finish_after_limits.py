"""FinishAfter records its limits in the log's status (a dashboard's ETA reads them from the log)."""

from __future__ import annotations

import numpy

from blocks.algorithms import GradientDescent, Scale
from blocks.extensions import FinishAfter
from blocks.extensions.training import FINISH_AFTER_STATUS
from blocks.graph import matrix
from blocks.log import SQLiteLog
from blocks.main_loop import MainLoop
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream


def make_loop(log, *extensions):
    import torch

    features = numpy.ones((8, 2), dtype="float32")
    weight = torch.nn.Parameter(torch.zeros(2, 1))
    x = matrix("features")
    cost = (x @ weight).pow(2).mean()
    cost.name = "cost"
    stream = DataStream(IndexableDataset({"features": features}), iteration_scheme=SequentialScheme(8, 4))
    return MainLoop(GradientDescent(cost, parameters=[weight], step_rule=Scale(0.1)), stream, log=log,
                    extensions=list(extensions))


def test_limits_are_in_the_status_the_log_stores(tmp_path):
    path = str(tmp_path / "log.sqlite")
    loop = make_loop(SQLiteLog(path), FinishAfter(after_n_epochs=3), FinishAfter(name="cap", after_n_batches=100))
    loop.run()
    expected = {"FinishAfter": {"after_n_epochs": 3}, "cap": {"after_n_batches": 100}}
    assert loop.status[FINISH_AFTER_STATUS] == expected
    assert loop.status["epochs_done"] == 3 and loop.status["iterations_done"] == 6
    assert SQLiteLog.read(path).status[FINISH_AFTER_STATUS] == expected


def test_changed_triggers_are_recorded_and_an_extension_without_limits_is_removed(tmp_path):
    finish = FinishAfter(after_n_batches=2)
    other = FinishAfter(name="other", after_n_epochs=9)
    loop = make_loop(SQLiteLog(str(tmp_path / "log.sqlite")), finish, other)
    loop.run()
    assert loop.status[FINISH_AFTER_STATUS] == {"FinishAfter": {"after_n_batches": 2}, "other": {"after_n_epochs": 9}}
    finish.set_conditions(after_n_batches=4)
    assert loop.status[FINISH_AFTER_STATUS]["FinishAfter"] == {"after_n_batches": 4}
    finish.set_conditions(every_n_batches=3)
    assert loop.status[FINISH_AFTER_STATUS] == {"other": {"after_n_epochs": 9}}
    assert finish.fired == {"after_batch": 1}  # recording the limits is not a firing
