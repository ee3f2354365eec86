"""The plugin's extensions behave as Blocks' did (Timing, TrackTheBest, ProgressBar, monitoring, aggregation)."""

from __future__ import annotations

from unittest.mock import Mock

import numpy
import pytest
import torch

from blocks.extensions import FinishAfter, OnLogRecord, SimpleExtension, TrainingExtension
from blocks.graph import as_variable, matrix, vector
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks.utils import shared_floatx
from blocks_extensions import (
    DatasetEvaluator,
    EarlyStopping,
    MonitoredQuantity,
    MonitoringExtension,
    Perplexity,
    ProgressBar,
    SharedVariableModifier,
    Timing,
    TrackTheBest,
    TrainingDataMonitoring,
    mean,
    perplexity,
)
from fuel.datasets import IndexableDataset, IterableDataset
from fuel.schemes import ConstantScheme, SequentialExampleScheme, SequentialScheme
from fuel.streams import DataStream


def make_loop(s, extensions, epochs=2):
    return MainLoop(s.algorithm(), s.stream(), model=s.model, log=TrainingLog(),
                    extensions=[*extensions, FinishAfter(after_n_epochs=epochs)])


def test_two_timings_keep_their_prefixes_averages_and_totals_across_a_resume(setup):
    s = setup(num_examples=8, batch_size=4)
    each, every_second = Timing(prefix="each"), Timing(prefix="each_second", every_n_epochs=2, after_epoch=False)
    loop = make_loop(s, [each, every_second], epochs=2)
    loop.run()
    row = loop.log[2]  # two batches per epoch
    assert "each_time_train_this_epoch" in row and "each_second_time_train_this_epoch" not in row
    last = loop.log[4]
    # the second Timing reports every two epochs the time per epoch: the mean of the two epochs
    assert last["each_second_time_train_this_epoch"] == pytest.approx(last["each_time_train_total"] / 2)
    state = loop.state_dict()
    assert set(state["extensions"]) >= {"Timing", "Timing#2"}
    resumed_each = Timing(prefix="each")
    resumed_second = Timing(prefix="each_second", every_n_epochs=2, after_epoch=False)
    resumed = make_loop(s, [resumed_each, resumed_second], epochs=4)
    resumed.load_state_dict(state)
    assert resumed_second.previous_count["epoch"] == 2 and resumed_each.previous_count["epoch"] == 2
    resumed.run()
    final = resumed.log[8]
    assert final["each_second_time_train_total"] == pytest.approx(final["each_time_train_total"])
    assert final["each_second_time_train_this_epoch"] == pytest.approx(
        (final["each_time_train_total"] - last["each_time_train_total"]) / 2, rel=1e-6)


def test_two_track_the_best_resume_with_their_own_bests():
    class Costs(TrainingExtension):
        def after_batch(self, batch):
            done = self.main_loop.status["iterations_done"]
            self.main_loop.log.current_row["a"] = [5, 3, 4, 1, 2, 0][done - 1]
            self.main_loop.log.current_row["b"] = [1, 2, 0, 3, 4, 5][done - 1]

    def loop(batches, trackers):
        stream = IterableDataset(range(10)).get_example_stream()
        from blocks.utils.testing import MockAlgorithm

        return MainLoop(MockAlgorithm(), stream, log=TrainingLog(),
                        extensions=[Costs(), *trackers, FinishAfter(after_n_batches=batches)])

    first = [TrackTheBest("a", after_batch=True, after_epoch=False), TrackTheBest("b", after_batch=True,
                                                                                  after_epoch=False)]
    training = loop(3, first)
    training.run()
    assert training.status["best_a"] == 3 and training.status["best_b"] == 0
    trackers = [TrackTheBest("a", after_batch=True, after_epoch=False), TrackTheBest("b", after_batch=True,
                                                                                     after_epoch=False)]
    resumed = loop(6, trackers)
    resumed.load_state_dict(training.state_dict())
    resumed.run()
    assert resumed.status["best_a"] == 0 and resumed.status["best_b"] == 0
    assert [t for t in range(4, 7) if resumed.log[t].get("a_best_so_far")] == [4, 6]
    assert [t for t in range(4, 7) if resumed.log[t].get("b_best_so_far")] == []


@pytest.mark.parametrize(("scheme", "expected"), [(SequentialExampleScheme(100), 100),
                                                  (SequentialScheme(1000, 10), 100),
                                                  (ConstantScheme(10, 1000), 100),
                                                  (SequentialScheme(105, 10), 11)])
def test_progress_bar_iterations_per_epoch(scheme, expected):
    bar = ProgressBar()
    bar.main_loop = Mock(data_stream=DataStream(IndexableDataset({"x": numpy.zeros(1000)}), iteration_scheme=scheme))
    assert bar.get_iter_per_epoch() == expected


def test_shared_variable_modifier_takes_numpy_values(setup):
    s = setup()
    algorithm = s.algorithm()
    modifier = SharedVariableModifier(algorithm.step_rule.learning_rate,
                                      lambda n: numpy.asarray(10.0 / n, dtype="float32"))
    loop = MainLoop(algorithm, s.stream(), log=TrainingLog(), extensions=[modifier, FinishAfter(after_n_epochs=1)])
    loop.run()
    assert algorithm.step_rule.learning_rate.item() == pytest.approx(10.0 / 3)


def test_monitoring_extension_is_a_blocks_mixin():
    monitor = MonitoringExtension(prefix="abc", suffix="def")
    assert isinstance(monitor, TrainingExtension) and not isinstance(monitor, SimpleExtension)
    assert monitor._record_name("x") == "abc_x_def" and monitor.SEPARATOR == "_"
    x = vector("x").sum()
    x.name = "total"
    assert monitor.record_name(x) == "abc_total_def" and MonitoringExtension()._record_name("x") == "x"
    with pytest.raises(ValueError, match="record name must be a string"):
        monitor._record_name(None)


def test_training_data_monitoring_of_named_parameters_and_quantities(setup):
    s = setup(num_examples=6, batch_size=2)
    V = shared_floatx(7, name="V")

    class Seen(MonitoredQuantity):
        def initialize(self):
            self.batches = 0

        def aggregate(self, features):
            self.batches += 1

        def get_aggregated_value(self):
            return self.batches

    features = [v for v in s.model.inputs if v.name == "features"][0]
    monitor = TrainingDataMonitoring([V, Seen(requires=[features], name="seen")], prefix="train",
                                     after_batch=True)
    loop = make_loop(s, [monitor], epochs=1)
    loop.run()
    assert loop.log[3]["train_V"] == 7.0 and loop.log[3]["train_seen"] == 1


def test_mean_keeps_the_numerator_name_and_perplexity_is_exp_of_minus_the_mean():
    errors = vector("errors").sum()
    errors.name = "errors"
    assert mean(errors, 10).name == "errors" and mean(errors, 10, name="rate").name == "rate"
    ll = vector("ll")
    log_likelihood = ll.sum()
    variable = perplexity(log_likelihood, ll.shape[0])
    assert variable.name == "perplexity" and isinstance(variable.meta["aggregation_scheme"], Perplexity)
    stream = DataStream(IndexableDataset({"ll": numpy.array([-1.0, -2.0, -3.0], dtype="float32")}),
                        iteration_scheme=SequentialScheme(3, 2))
    value = DatasetEvaluator([variable]).evaluate(stream)["perplexity"]
    assert value == pytest.approx(numpy.exp(2.0))


def test_dataset_evaluator(setup):
    x = matrix("x")
    total, biggest = x.sum(), (x * 2).max()
    total.name, biggest.name = "total", "biggest"
    stream = DataStream(IndexableDataset({"x": numpy.arange(6, dtype="float32").reshape(3, 2), "y": numpy.zeros(3)}),
                        iteration_scheme=SequentialScheme(3, 2))
    from blocks_extensions import maximum

    evaluator = DatasetEvaluator([total, maximum(biggest)])
    values = evaluator.evaluate(stream)
    assert values == {"total": pytest.approx((6 * 2 + 9 * 1) / 3), "biggest": 10.0}  # a mean over examples
    with pytest.raises(ValueError, match="Not all data sources"):
        evaluator.evaluate(DataStream(IndexableDataset({"z": numpy.zeros((2, 2))})))
    with pytest.raises(ValueError, match="must have names"):
        DatasetEvaluator([x * 2])
    with pytest.raises(ValueError, match="unique"):
        DatasetEvaluator([vector("a"), vector("a")])


def test_early_stopping_configures_a_given_checkpoint_as_blocks_did():
    checkpoint = Mock()
    EarlyStopping("cost", iterations=3, notification_name="notified", checkpoint_extension=checkpoint,
                  checkpoint_filename="best.tar")
    checkpoint.add_condition.assert_called_with(["after_batch"], OnLogRecord("notified"), ("best.tar",))
    assert [c.args[0] for c in checkpoint.add_condition.call_args_list] == [["after_epoch"], ["after_batch"]]


def test_lifted_parameter_and_tensor_monitoring_agree():
    W = shared_floatx([1.0, 2.0], name="W")
    total = as_variable(W).sum()
    total.name = "W_sum"
    stream = DataStream(IndexableDataset({"x": numpy.zeros((2, 1), dtype="float32")}))
    assert DatasetEvaluator([total, W]).evaluate(stream)["W_sum"] == 3.0
    assert torch.equal(torch.as_tensor(DatasetEvaluator([W]).evaluate(stream)["W"]), torch.tensor([1.0, 2.0]))


def test_mean_of_an_algorithm_quantity_is_monitored_as_in_blocks(setup):
    s = setup(num_examples=10, batch_size=4)  # batches of 4, 4 and 2
    algorithm = s.algorithm()
    norms = []

    class Norms(TrainingExtension):
        def after_batch(self, batch):
            norms.append(float(algorithm.monitored_values["total_gradient_norm"]))

    monitor = TrainingDataMonitoring([mean(algorithm.total_gradient_norm)], prefix="train", after_epoch=True)
    loop = MainLoop(algorithm, s.stream(), log=TrainingLog(),
                    extensions=[monitor, Norms(), FinishAfter(after_n_epochs=1)])
    loop.run()
    assert len(norms) == 3
    # Blocks' aggregation.mean: the mean of the batches' values (not weighted by their sizes)
    assert loop.log[3]["train_total_gradient_norm"] == pytest.approx(sum(norms) / 3)
