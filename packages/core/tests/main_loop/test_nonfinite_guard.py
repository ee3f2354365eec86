"""The main loop's non-finite guard: real GradientDescent runs that go NaN stop with a clear error, at boundaries."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.backends import LossScaler
from blocks.config import config
from blocks.extensions import FinishAfter, SimpleExtension, TrainingExtension
from blocks.graph import matrix
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks.numerics import NonFiniteError
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream

BATCHES_PER_EPOCH = 10


def regression(features, learning_rate=0.01, monitor_norm=False):
    """Least squares on ``features`` (10 batches of 2 examples per epoch): the cost, its algorithm, the weights."""
    x = matrix("features")
    w = torch.nn.Parameter(torch.full((3, 1), 0.1))
    cost = ((x @ w - 1.0) ** 2).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost, parameters={"/w": w}, step_rule=Scale(learning_rate))
    if monitor_norm:
        algorithm.add_monitored([algorithm.total_gradient_norm])
    stream = DataStream(
        IndexableDataset({"features": features.astype("float32")}),
        iteration_scheme=SequentialScheme(len(features), len(features) // BATCHES_PER_EPOCH),
    )
    return algorithm, stream, w


def features_with_nan_at(example):
    features = numpy.random.default_rng(0).normal(size=(2 * BATCHES_PER_EPOCH, 3))
    if example is not None:
        features[example, 1] = numpy.nan
    return features


class Monitor(SimpleExtension):
    """Stands for monitoring: its work reads device values, so the guard may check after it."""

    reads_device = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ran_at = []

    def do(self, which_callback, *args):
        self.ran_at.append(self.main_loop.status["iterations_done"])


class Epochs(TrainingExtension):
    def __init__(self):
        super().__init__()
        self.after_epoch_at = []
        self.errors = []

    def after_epoch(self):
        self.after_epoch_at.append(self.main_loop.status["epochs_done"])

    def on_error(self, exception):
        self.errors.append(exception)


class EpochStream:
    """Epoch ``e`` yields the batches (of 2 examples) of ``epochs[e - 1]``."""

    def __init__(self, *epochs):
        self.epochs, self.epoch = [e.astype("float32") for e in epochs], 0

    def get_epoch_iterator(self, as_dict=False):
        self.epoch += 1
        data = self.epochs[self.epoch - 1]
        return iter([{"features": data[i : i + 2]} for i in range(0, len(data), 2)])


def test_a_run_that_goes_nan_stops_within_one_monitoring_period_naming_what():
    # epoch 2 has a NaN in its batch 7 (iteration 17): the cost is NaN there, and every parameter after its update
    algorithm, _, w = regression(features_with_nan_at(None))
    stream = EpochStream(features_with_nan_at(None), features_with_nan_at(13), features_with_nan_at(None))
    epochs, monitor = Epochs(), Monitor(every_n_batches=3)
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[monitor, epochs, FinishAfter(after_n_epochs=3)])
    with pytest.raises(NonFiniteError) as info:
        loop.run()
    message = str(info.value)
    # the monitor ran after batches 3, ..., 15 (all finite) and 18: the guard stopped right after 18
    assert loop.status["iterations_done"] == 18 and monitor.ran_at == [3, 6, 9, 12, 15, 18]
    assert "in epoch 2, after batch 18 (in one of batches 16-18): not finite: cost; parameter /w." in message
    assert "stop_on_nonfinite=False" in message and "CheckNumerics" in message
    assert epochs.after_epoch_at == [1] and epochs.errors == [info.value]
    assert "NonFiniteError" in loop.log.current_row["got_exception"]
    assert not torch.isfinite(w).all()


def test_without_monitoring_the_guard_stops_at_the_epoch_end_before_after_epoch():
    # a learning rate far too large: the weights overflow to inf, then NaN, after a few batches
    algorithm, stream, _ = regression(features_with_nan_at(None) * 100, learning_rate=10.0, monitor_norm=True)
    epochs = Epochs()
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[epochs, FinishAfter(after_n_epochs=5)])
    with pytest.raises(NonFiniteError, match=r"in epoch 1, after batch 10 \(in one of batches 1-10\): not finite: "
                       r"cost; gradient norm; parameter /w"):
        loop.run()
    assert epochs.after_epoch_at == []  # the epoch that went non-finite never reached after_epoch


def test_the_guard_reads_its_record_only_at_boundaries_never_per_batch():
    algorithm, stream, _ = regression(features_with_nan_at(None))
    calls = []
    original = algorithm.nonfinite_quantities

    def spy(parameters=True):
        calls.append((loop.status["iterations_done"], parameters))
        return original(parameters=parameters)

    algorithm.nonfinite_quantities = spy
    loop = MainLoop(algorithm, stream, log=TrainingLog(),
                    extensions=[Monitor(every_n_batches=5), FinishAfter(after_n_batches=25)])
    loop.run()
    # after each monitored batch (the record only), at each epoch end and at the end (the parameters too)
    assert calls == [(5, False), (10, False), (10, True), (15, False), (20, False), (20, True), (25, False),
                     (25, True)]


def test_finite_runs_and_the_switch_to_train_on_through_nan():
    algorithm, stream, _ = regression(features_with_nan_at(None))
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=3)])
    assert loop.stop_on_nonfinite
    loop.run()
    assert loop.status["epochs_done"] == 3

    for make in (
        lambda a, s: MainLoop(a, s, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=3)],
                              stop_on_nonfinite=False),
        lambda a, s: MainLoop(a, s, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=3)]),
    ):
        algorithm, stream, w = regression(features_with_nan_at(3))
        with config.override(stop_on_nonfinite=False):
            loop = make(algorithm, stream)
        loop.run()
        assert loop.status["epochs_done"] == 3 and not torch.isfinite(w).any()
        assert algorithm.nonfinite_quantities(parameters=False) == []  # nothing was recorded


def test_steps_skipped_by_the_loss_scaler_are_not_nonfinite_events():
    # batch 3 overflows: its cost is infinite and its gradients too, as an fp16 forward pass's would be
    features = features_with_nan_at(None)
    features[4:6] = 1e30
    algorithm, stream, w = regression(features)
    algorithm.loss_scaler = LossScaler(init_scale=2.0**10)
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=2)])
    loop.run()
    assert loop.status["epochs_done"] == 2 and torch.isfinite(w).all()
    assert algorithm.loss_scaler.scale < 2.0**10  # the scaler did skip

    algorithm, stream, _ = regression(features)  # the same batches without loss scaling go non-finite
    with pytest.raises(NonFiniteError, match="cost"):
        MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=2)]).run()


def test_algorithms_without_a_record_are_not_guarded(doubles):
    loop = MainLoop(doubles["RecordingAlgorithm"](), doubles["make_stream"](), log=TrainingLog(),
                    extensions=[FinishAfter(after_n_epochs=2)])
    loop.run()
    assert loop.status["epochs_done"] == 2


def test_huge_finite_costs_are_not_reported():
    # every cost is 1e38, finite in float32, though ten of them sum to 1e39 (beyond float32)
    x = matrix("features")
    w = torch.nn.Parameter(torch.zeros(1))
    cost = (x**2).mean() + (x[0] * 0) @ w
    algorithm = GradientDescent(cost, parameters={"/w": w})
    stream = DataStream(IndexableDataset({"features": numpy.full((20, 1), 1e19, dtype="float32")}),
                        iteration_scheme=SequentialScheme(20, 2))
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=2)])
    loop.run()
    assert loop.status["iterations_done"] == 20


class TwoRanks:
    """Stands for a torch.distributed group of two ranks, this process being rank 0.

    ``ranks_where`` answers as the group would: its first call is the guard's agreement at the start of the run
    (rank 1's guard is ``peer_guard``), later calls are read points, where rank 1 flags at ``peer_flags_at``.
    """

    def __init__(self, monkeypatch, peer_flags_at=(), peer_guard=True):
        from blocks import distributed

        self.peer_flags_at, self.peer_guard, self.loop, self.calls = set(peer_flags_at), peer_guard, None, []
        monkeypatch.setattr(distributed, "is_distributed", lambda: True)
        monkeypatch.setattr(distributed, "world_size", lambda: 2)
        monkeypatch.setattr(distributed, "ranks_where", self.ranks_where)
        monkeypatch.setattr(distributed, "all_gather_json", lambda found: [found, ["cost", "parameter /w"]])

    def ranks_where(self, flag):
        iteration = self.loop.status["iterations_done"]
        peer = self.peer_guard if not self.calls else iteration in self.peer_flags_at
        self.calls.append((iteration, flag))
        return [rank for rank, flagged in ((0, flag), (1, peer)) if flagged]


class TurnGuardOff(SimpleExtension):
    """What CheckNumerics(action="finish") does to this rank's guard."""

    def do(self, which_callback, *args):
        self.main_loop.stop_on_nonfinite = False


@pytest.mark.parametrize("guard_turned_off_here", [False, True])
def test_under_distributed_a_rank_whose_values_are_finite_stops_with_the_rank_that_saw_nan(
        monkeypatch, guard_turned_off_here):
    # rank 1 saw a NaN cost on batch 5: this rank (finite) must raise at the same read point, not train on into the
    # next gradient all-reduce and wait there for a rank that has stopped
    world = TwoRanks(monkeypatch, peer_flags_at={6})
    algorithm, stream, _ = regression(features_with_nan_at(None))
    algorithm.distributed = False  # the group is simulated: no DDP
    extensions = [Monitor(every_n_batches=3), FinishAfter(after_n_epochs=2)]
    if guard_turned_off_here:
        extensions.append(TurnGuardOff(after_n_batches=4))
    world.loop = loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=extensions)
    with pytest.raises(NonFiniteError) as info:
        loop.run()
    assert loop.status["iterations_done"] == 6
    assert world.calls == [(0, True), (3, False), (6, False)]  # the start, then each monitored batch
    assert ("in epoch 1, after batch 6 (in one of batches 4-6): not finite on rank 1 of 2: rank 0 [all finite], "
            "rank 1 [cost; parameter /w]; every rank stops at this batch. Training stops here.") in str(info.value)


def test_under_distributed_only_read_points_that_every_rank_shares_count(monkeypatch):
    # a main_process_only monitor (rank 0 alone) reads the device on this rank only: a collective there would pair
    # with another collective on the other ranks
    import blocks.extensions.base as base

    now = [0.0]
    monkeypatch.setattr(base, "_clock", lambda: now[0])

    class RankZeroMonitor(Monitor):
        main_process_only = True

    class Tick(TrainingExtension):
        def after_batch(self, batch):
            now[0] += 1.0

    def run(distributed):
        world = TwoRanks(monkeypatch) if distributed else None
        algorithm, stream, _ = regression(features_with_nan_at(None))
        algorithm.distributed = False
        calls = []
        original = algorithm.nonfinite_quantities

        def spy(parameters=True):
            calls.append((loop.status["iterations_done"], parameters))
            return original(parameters=parameters)

        algorithm.nonfinite_quantities = spy
        loop = MainLoop(algorithm, stream, log=TrainingLog(),
                        extensions=[Tick(), RankZeroMonitor(every_n_batches=4), Monitor(every_n_seconds=3.0),
                                    FinishAfter(after_n_epochs=1)])
        if world is not None:
            world.loop = loop
        loop.run()
        return calls, world

    alone, _ = run(distributed=False)
    assert alone == [(4, False), (7, False), (8, False), (10, False), (10, True)]  # every 4 batches, every 3 s
    together, world = run(distributed=True)
    # the wall-clock trigger is decided by every rank together (rank 0's clock, one all-reduce per batch), so its
    # runs (4, 7, 10) are shared read points; the rank-0 monitor's (8) is not
    assert together == [(4, False), (7, False), (10, False), (10, True)]
    trigger_calls = [(i, flag) for i, flag in world.calls[1:] if i in (1, 2, 3, 5, 6, 8, 9)]
    assert trigger_calls == [(i, False) for i in (1, 2, 3, 5, 6, 8, 9)]  # asked after every batch, due on 4, 7, 10
    assert [call for call in world.calls if call[1]] == [(0, True), (4, True), (7, True), (10, True)]


def test_one_process_takes_no_collective_decision(monkeypatch):
    from blocks import distributed

    def no_collective(flag):
        raise AssertionError("a collective in a single-process run")

    monkeypatch.setattr(distributed, "ranks_where", no_collective)
    algorithm, stream, _ = regression(features_with_nan_at(None))
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[Monitor(every_n_batches=3),
                                                                      FinishAfter(after_n_epochs=2)])
    loop.run()
    assert loop.status["iterations_done"] == 20


def test_under_distributed_the_guard_must_be_on_for_every_rank_or_none(monkeypatch):
    world = TwoRanks(monkeypatch, peer_guard=False)
    algorithm, stream, _ = regression(features_with_nan_at(None))
    algorithm.distributed = False
    world.loop = loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=1)])
    with pytest.raises(ValueError, match=r"is on for rank\(s\) 0 only, of 2: .* same MainLoop\(stop_on_nonfinite"):
        loop.run()
    assert loop.status["iterations_done"] == 0


def test_a_loss_scaler_skipping_every_step_is_stopped_not_trained_forever():
    # a NaN in every batch: the scaler halves its scale at each skipped step; below the smallest fp16 subnormal no
    # overflow can be the cause, so the guard stops the run (it skipped every step silently before)
    features = features_with_nan_at(None)
    features[:] = float("nan")
    algorithm, stream, w = regression(features)
    algorithm.loss_scaler = LossScaler(init_scale=2.0**4)
    before = w.detach().clone()
    loop = MainLoop(algorithm, stream, log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=100)])
    with pytest.raises(NonFiniteError, match=r"every step skipped by the loss scaler down to scale"):
        loop.run()
    assert loop.status["epochs_done"] < 100  # stopped at the first read point after the floor (an epoch's end)
    assert algorithm.loss_scaler.scale < 2.0**-24 and torch.equal(w, before)  # no step was ever taken
