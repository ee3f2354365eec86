"""TrainingDataMonitoring and DataStreamMonitoring values against hand computations."""

from __future__ import annotations

import types

import numpy
import pytest
import torch

from blocks.extensions import FinishAfter
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks_extensions import (
    DataStreamMonitoring,
    MonitoredQuantity,
    TrainingDataMonitoring,
    maximum,
    mean,
    minimum,
    take_last,
)


def batches(n, size):
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def test_training_data_monitoring_equals_hand_computation(setup):
    s = setup(num_examples=10, batch_size=4, learning_rate=0.05)
    errors = (s.output.sum(dim=1) > 0).sum()
    errors.name = "positives"
    algorithm = s.algorithm()
    monitor = TrainingDataMonitoring(
        [
            s.cost,
            algorithm.total_gradient_norm,
            take_last(s.cost, name="last_cost"),
            minimum(s.cost, name="min_cost"),
            maximum(s.cost, name="max_cost"),
            mean(errors, 1.0, name="mean_positives"),
        ],
        prefix="train",
        after_epoch=True,
    )
    # the hand computation: replay training with plain torch on a copy of the parameters
    expected_costs, expected_norms, expected_positives = [], [], []
    params = [p.detach().clone().requires_grad_(True) for p in s.model.get_parameter_dict().values()]
    w0, b0, w1, b1 = params
    for part in batches(10, 4):
        x, t = torch.as_tensor(s.features[part]), torch.as_tensor(s.targets[part])
        out = torch.tanh(x @ w0 + b0) @ w1 + b1
        cost = ((out - t) ** 2).mean()
        grads = torch.autograd.grad(cost, params)
        expected_costs.append((float(cost.detach()), len(x)))
        expected_norms.append(float(torch.sqrt(sum((g**2).sum() for g in grads))))
        expected_positives.append(int((out.sum(dim=1) > 0).sum()))
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= 0.05 * g
    loop = MainLoop(
        algorithm, s.stream(), model=s.model, log=TrainingLog(), extensions=[monitor, FinishAfter(after_n_epochs=1)]
    )
    loop.run()
    row = loop.log[3]
    weighted = sum(c * n for c, n in expected_costs) / 10
    assert row["train_cost"] == pytest.approx(weighted, rel=1e-5)
    assert row["train_total_gradient_norm"] == pytest.approx(
        sum(n * k for n, (_, k) in zip(expected_norms, expected_costs)) / 10, rel=1e-5
    )
    assert row["train_last_cost"] == pytest.approx(expected_costs[-1][0], rel=1e-5)
    assert row["train_min_cost"] == pytest.approx(min(c for c, _ in expected_costs), rel=1e-5)
    assert row["train_max_cost"] == pytest.approx(max(c for c, _ in expected_costs), rel=1e-5)
    assert row["train_mean_positives"] == pytest.approx(sum(expected_positives) / 3)
    for parameter, expected in zip(s.model.get_parameter_dict().values(), params):
        torch.testing.assert_close(parameter.detach(), expected.detach())


def test_training_data_monitoring_reports_each_window(setup):
    s = setup(num_examples=12, batch_size=2, learning_rate=0.0)  # fixed parameters: per-batch costs are known
    costs = s.per_example_cost()
    monitor = TrainingDataMonitoring([s.cost], every_n_batches=4)
    loop = MainLoop(
        s.algorithm(), s.stream(), model=s.model, log=TrainingLog(), extensions=[monitor, FinishAfter(after_n_epochs=1)]
    )
    loop.run()
    assert loop.log[4]["cost"] == pytest.approx(costs[:8].mean(), rel=1e-5)
    assert "cost" not in loop.log[5]
    # the epoch's last 2 batches are not reported (no trigger), and the next window starts fresh
    assert monitor._monitored.count == 2


def test_training_data_monitoring_adds_no_host_sync_per_batch(monkeypatch):
    class Algorithm:
        monitored_values = {"cost": torch.tensor(1.0), "total_gradient_norm": torch.tensor(2.0)}

    class Named:
        name = "cost"

    monitor = TrainingDataMonitoring([Named()], every_n_batches=10)
    monitor._algorithm = Algorithm()
    monitor.main_loop = types.SimpleNamespace(log=TrainingLog(), algorithm=monitor._algorithm)
    monitor.main_loop.log.status["iterations_done"] = 1  # not a reporting iteration

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync in the per-batch path")

    for method in ("item", "tolist", "numpy", "__float__", "__bool__", "cpu"):
        monkeypatch.setattr(torch.Tensor, method, forbidden)
    for _ in range(COMPACT := 300):  # crosses a compaction too
        monitor.dispatch("after_batch", {"x": numpy.zeros((4, 1))})
    assert monitor._monitored.count == COMPACT


def test_training_data_monitoring_validation(setup):
    s = setup()
    unnamed = s.cost * 2
    with pytest.raises(ValueError, match="no name"):
        TrainingDataMonitoring([unnamed])
    with pytest.raises(ValueError, match="unique"):
        TrainingDataMonitoring([s.cost, s.cost])
    with pytest.raises(ValueError, match="nothing to monitor"):
        TrainingDataMonitoring([])

    class NoMonitoring:
        def initialize(self):
            pass

        def process_batch(self, batch):
            pass

    loop = MainLoop(NoMonitoring(), s.stream(), log=TrainingLog(), extensions=[TrainingDataMonitoring([s.cost])])
    with pytest.raises(ValueError, match="add_monitored"):
        loop.run()


def test_training_data_monitoring_state_resumes_a_window(setup):
    s = setup(num_examples=12, batch_size=2, learning_rate=0.0)
    costs = s.per_example_cost()
    first = TrainingDataMonitoring([s.cost], after_epoch=True)
    loop = MainLoop(
        s.algorithm(), s.stream(), model=s.model, log=TrainingLog(), extensions=[first, FinishAfter(after_n_batches=2)]
    )
    loop.run()
    state = loop.state_dict()
    second_monitor = TrainingDataMonitoring([s.cost], after_epoch=True)
    second = MainLoop(
        s.algorithm(),
        s.stream(),
        model=s.model,
        log=TrainingLog(),
        extensions=[second_monitor, FinishAfter(after_n_epochs=1)],
    )
    second.load_state_dict(state)
    second.run()
    assert second.log[6]["cost"] == pytest.approx(costs.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="aggregators"):
        TrainingDataMonitoring([s.cost, take_last(s.cost, name="last")]).load_state_dict(
            state["extensions"]["TrainingDataMonitoring"]
        )


class SquaredErrorSum(MonitoredQuantity):
    """Sum of squared outputs, computed in numpy."""

    def initialize(self):
        self.total = 0.0

    def aggregate(self, output):
        assert isinstance(output, numpy.ndarray)
        self.total += float((output**2).sum())

    def get_aggregated_value(self):
        return self.total


def test_data_stream_monitoring_equals_hand_computation(setup):
    s = setup(num_examples=10, batch_size=4, learning_rate=0.1)
    rng = numpy.random.default_rng(5)
    valid_x = rng.normal(size=(7, 3)).astype("float32")
    valid_t = rng.normal(size=(7, 2)).astype("float32")
    quantity = SquaredErrorSum(requires=[s.output], name="output_energy")
    monitor = DataStreamMonitoring([s.cost, quantity], s.stream(valid_x, valid_t), prefix="valid")
    assert monitor._function is None  # nothing compiled in the constructor
    values_at = {}

    class Snapshot(FinishAfter):
        def do(self, which_callback, *args):
            values_at[self.main_loop.status["epochs_done"]] = (
                s.per_example_cost(valid_x, valid_t).mean(),
                float(
                    (
                        torch.tanh(
                            torch.as_tensor(valid_x) @ s.mlp.linear_transformations[0].W
                            + s.mlp.linear_transformations[0].b
                        )
                        @ s.mlp.linear_transformations[1].W
                        + s.mlp.linear_transformations[1].b
                    )
                    .detach()
                    .pow(2)
                    .sum()
                ),
            )

    loop = MainLoop(
        s.algorithm(),
        s.stream(),
        model=s.model,
        log=TrainingLog(),
        extensions=[
            Snapshot(before_first_epoch=True, after_epoch=True, name="snap"),
            monitor,
            FinishAfter(after_n_epochs=2),
        ],
    )
    loop.run()
    assert monitor._function is not None
    for epoch, time in ((0, 0), (1, 3), (2, 6)):
        cost, energy = values_at[epoch]
        assert loop.log[time]["valid_cost"] == pytest.approx(cost, rel=1e-5)  # weighted: last batch has 3 examples
        assert loop.log[time]["valid_output_energy"] == pytest.approx(energy, rel=1e-5)


def test_data_stream_monitoring_rejects_empty_streams(setup):
    s = setup()
    monitor = DataStreamMonitoring([s.cost], s.stream(s.features[:0], s.targets[:0]))
    with pytest.raises(ValueError):
        monitor.evaluate()
