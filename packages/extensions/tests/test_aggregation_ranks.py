"""Aggregates of data-parallel ranks merge into one process's aggregate (uneven and empty shards, resumes).

Each global batch is cut into contiguous per-rank parts as ``fuel.schemes.ShardedScheme`` cuts it; every rank
aggregates its parts; the merged state must read out what one aggregator fed the whole batches reads out.
"""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.graph import vector
from blocks_extensions.aggregation import (
    AggregationScheme,
    Aggregator,
    Concatenate,
    Maximum,
    Mean,
    Minimum,
    MonitoredQuantity,
    TakeLast,
    WeightedMean,
)
from blocks_extensions.monitoring import _Monitored

RNG = numpy.random.default_rng(11)
BATCH_SIZES = [15, 15, 15, 5, 2, 14, 3]  # with 3 ranks, the batch of 2 leaves the last rank empty
EXAMPLES = [torch.from_numpy(RNG.normal(size=(size, 2))) for size in BATCH_SIZES]


def _parts(batch: torch.Tensor, ranks: int) -> list[torch.Tensor]:
    quotient, remainder = divmod(batch.shape[0], ranks)
    sizes = [quotient + (1 if r < remainder else 0) for r in range(ranks)]
    return list(torch.split(batch, sizes))


# what a monitored variable gives for one batch part: (values, number of examples)
VIEWS = {
    "weighted": (WeightedMean("v"), lambda part: [part.mean(0)]),
    "mean": (Mean("n", "d"), lambda part: [part.sum(0), torch.tensor(float(part.shape[0]))]),
    "constant": (Mean("n", 2.0), lambda part: [part.sum(0)]),
    "minimum": (Minimum("v"), lambda part: [part.min(0).values]),
    "maximum": (Maximum("v"), lambda part: [part.max(0).values]),
    "last": (TakeLast("v"), lambda part: [part.mean(0)]),
    "concatenate": (Concatenate("v"), lambda part: [part]),
}


def _feed(aggregator: Aggregator, view, batches, ranks: int, rank: int) -> None:
    for batch in batches:
        part = _parts(batch, ranks)[rank]
        if part.shape[0] or view is VIEWS["concatenate"][1]:  # an empty part only reaches sums and concatenation
            aggregator.aggregate(view(part), part.shape[0])


def _merged(scheme: AggregationScheme, aggregators: list[Aggregator]) -> torch.Tensor:
    merged = scheme.get_aggregator()
    merged.load_state_dict(aggregators[0].merge_states([a.state_dict() for a in aggregators]))
    return merged.readout()


@pytest.mark.parametrize("name", sorted(VIEWS))
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_merge_into_the_single_process_aggregate(name, ranks):
    scheme, view = VIEWS[name]
    batches = EXAMPLES if name in ("weighted", "mean", "constant", "concatenate") else EXAMPLES[:4]
    single = scheme.get_aggregator()
    _feed(single, view, batches, 1, 0)
    aggregators = [scheme.get_aggregator() for _ in range(ranks)]
    for rank, aggregator in enumerate(aggregators):
        _feed(aggregator, view, batches, ranks, rank)
    torch.testing.assert_close(_merged(scheme, aggregators), single.readout(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_merged_checkpoint_resumes_on_any_number_of_ranks(name):
    scheme, view = VIEWS[name]
    batches = EXAMPLES[:4]
    single = scheme.get_aggregator()
    _feed(single, view, batches, 1, 0)
    before = [scheme.get_aggregator() for _ in range(2)]  # two ranks, then a checkpoint after two batches
    for rank, aggregator in enumerate(before):
        _feed(aggregator, view, batches[:2], 2, rank)
    saved = before[0].merge_states([a.state_dict() for a in before])
    after = [scheme.get_aggregator() for _ in range(3)]  # resumed under three ranks: rank 0 holds the saved part
    after[0].load_state_dict(saved)
    for rank, aggregator in enumerate(after):
        _feed(aggregator, view, batches[2:], 3, rank)
    torch.testing.assert_close(_merged(scheme, after), single.readout(), rtol=1e-12, atol=1e-12)


def test_equal_last_values_keep_their_dtype_and_empty_states_are_left_out():
    aggregator = TakeLast("v").get_aggregator()
    states = [{"value": torch.tensor(7), "examples": 3}, {}, {"value": torch.tensor(7), "examples": 2}]
    merged = aggregator.merge_states(states)
    assert merged["value"].dtype == torch.int64 and merged["value"].item() == 7
    assert WeightedMean("v").get_aggregator().merge_states([{}, {}]) == {}


def test_an_empty_batch_adds_nothing_to_a_weighted_mean():
    aggregator = WeightedMean("v").get_aggregator()
    aggregator.aggregate([torch.tensor(2.0)], 3)
    aggregator.aggregate([torch.tensor(float("nan"))], 0)  # the mean over no example
    assert float(aggregator.readout()) == 2.0


class _Opaque(AggregationScheme):
    def __init__(self, variable):
        self.requires = [variable]

    def get_aggregator(self):
        class _Sum(Aggregator):
            def initialize(self):
                self.total = None

            def aggregate(self, values, batch_size):
                self.total = values[0]

            def readout(self):
                return self.total

        return _Sum()


class _Errors(MonitoredQuantity):
    def initialize(self):
        self.errors, self.examples = 0, 0

    def aggregate(self, value):
        self.errors += int((value > 0).sum())
        self.examples += value.size

    def get_aggregated_value(self):
        return self.errors / self.examples


def _named(variable, name):
    variable.name = name
    return variable


def test_what_cannot_merge_is_refused_by_name():
    x = vector("x")
    opaque = _named(x.sum(), "opaque")
    opaque.meta["aggregation_scheme"] = _Opaque(opaque)
    with pytest.raises(ValueError, match=r"cannot monitor 'opaque'.*_Opaque.*merge_states"):
        _Monitored([opaque]).check_across_ranks()
    with pytest.raises(ValueError, match=r"'rate'.*rank_reduction"):
        _Monitored([_Errors([x], name="rate")]).check_across_ranks()


@pytest.mark.parametrize(("reduction", "expected"), [("mean", 0.5), ("sum", 0.5), ("min", 0.5), ("max", 0.5)])
def test_the_gathered_readout_of_one_process_is_its_own(reduction, expected):
    x = vector("x")
    mean = _named(x.mean(), "mean")
    quantity = _Errors([x], name="rate")
    quantity.rank_reduction = reduction
    monitored = _Monitored([mean, _named(x.max(), "largest"), quantity])
    monitored.initialize()
    for values in (numpy.array([1.0, -1.0]), numpy.array([2.0, -3.0, 4.0, -5.0])):
        tensor = torch.from_numpy(values)
        monitored.aggregate([tensor.mean(), tensor.max(), tensor], len(values))
    assert monitored.readout(across_ranks=True) == monitored.readout()
    assert monitored.readout(across_ranks=True)["rate"] == expected
