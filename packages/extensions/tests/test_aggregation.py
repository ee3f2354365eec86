"""Aggregation schemes against direct numpy computations."""

from __future__ import annotations

import copy

import numpy
import pytest
import torch

from blocks.graph import vector
from blocks_extensions import aggregation
from blocks_extensions.aggregation import (
    COMPACT_EVERY,
    Concatenate,
    Maximum,
    Mean,
    Minimum,
    MonitoredQuantity,
    TakeLast,
    WeightedMean,
    get_aggregation_scheme,
)

RNG = numpy.random.default_rng(3)
SIZES = [int(s) for s in RNG.integers(1, 9, size=COMPACT_EVERY + 40)]  # more batches than one compaction
VALUES = [RNG.normal(size=3) for _ in SIZES]


def feed(scheme, values, sizes):
    aggregator = scheme.get_aggregator()
    for value, size in zip(values, sizes):
        aggregator.aggregate([torch.as_tensor(v) for v in value], size)
    return aggregator


def test_weighted_mean_is_the_mean_over_examples():
    aggregator = feed(WeightedMean("v"), [[v] for v in VALUES], SIZES)
    expected = sum(v * s for v, s in zip(VALUES, SIZES)) / sum(SIZES)
    numpy.testing.assert_allclose(aggregator.readout().numpy(), expected, rtol=1e-12)


def test_mean_sums_numerators_and_denominators():
    numerators = [v[0] for v in VALUES]
    aggregator = feed(Mean("n", "d"), [[n, float(s)] for n, s in zip(numerators, SIZES)], SIZES)
    assert float(aggregator.readout()) == pytest.approx(sum(numerators) / sum(SIZES), rel=1e-6)
    constant = feed(Mean("n", 2.0), [[n] for n in numerators], SIZES)
    assert float(constant.readout()) == pytest.approx(sum(numerators) / (2.0 * len(numerators)), rel=1e-6)


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        (TakeLast("v"), lambda: VALUES[-1]),
        (Minimum("v"), lambda: numpy.min(VALUES, axis=0)),
        (Maximum("v"), lambda: numpy.max(VALUES, axis=0)),
        (Concatenate("v"), lambda: numpy.concatenate(VALUES)),
    ],
)
def test_reductions(scheme, expected):
    aggregator = feed(scheme, [[v] for v in VALUES], SIZES)
    numpy.testing.assert_allclose(aggregator.readout().numpy(), expected())


@pytest.mark.parametrize("scheme", [WeightedMean("v"), Mean("v", 3.0), TakeLast("v"), Minimum("v"), Maximum("v")])
def test_state_dict_continues_the_aggregation(scheme):
    half = len(VALUES) // 2
    whole = feed(scheme, [[v] for v in VALUES], SIZES).readout()
    first = feed(scheme, [[v] for v in VALUES[:half]], SIZES[:half])
    second = scheme.get_aggregator()
    second.load_state_dict(first.state_dict())
    for value, size in zip(VALUES[half:], SIZES[half:]):
        second.aggregate([torch.as_tensor(value)], size)
    numpy.testing.assert_allclose(second.readout().numpy(), whole.numpy(), rtol=1e-12)


def test_empty_aggregators_read_none_and_initialize_resets():
    for scheme in (WeightedMean("v"), Mean("v"), TakeLast("v"), Minimum("v")):
        aggregator = scheme.get_aggregator()
        assert aggregator.readout() is None and aggregator.state_dict() == {}
        aggregator.aggregate([torch.tensor(1.0)], 1)
        aggregator.initialize()
        assert aggregator.readout() is None


def test_helpers_attach_schemes_to_copies():
    x = vector("x")
    total = x.sum()
    total.name = "total"
    for helper, cls in [
        (aggregation.take_last, TakeLast),
        (aggregation.minimum, Minimum),
        (aggregation.maximum, Maximum),
        (aggregation.concatenate, Concatenate),
    ]:
        copy = helper(total)
        assert isinstance(get_aggregation_scheme(copy), cls) and copy.name == "total"
        assert get_aggregation_scheme(copy).requires[0] is total
    assert isinstance(get_aggregation_scheme(total), WeightedMean)  # the original is untouched
    rate = aggregation.mean(total, x.shape[0], name="rate")
    assert isinstance(get_aggregation_scheme(rate), Mean) and rate.name == "rate"


def test_monitored_quantity_needs_a_name():
    class Count(MonitoredQuantity):
        def initialize(self):
            pass

        def aggregate(self, *values):
            pass

        def get_aggregated_value(self):
            return 0

    with pytest.raises(ValueError, match="needs a name"):
        Count(requires=[])


FLOAT32_VALUES = [torch.tensor(v, dtype=torch.float32) for v in RNG.normal(loc=2.0, size=3 * COMPACT_EVERY + 17)]
FLOAT32_SIZES = [int(s) for s in RNG.integers(1, 64, size=len(FLOAT32_VALUES))]


def _float32_feed(aggregator, start=0, stop=None):
    for value, size in zip(FLOAT32_VALUES[start:stop], FLOAT32_SIZES[start:stop]):
        aggregator.aggregate([value.clone()], size)
    return aggregator


@pytest.mark.parametrize(
    ("scheme", "kept"),
    [(WeightedMean("v"), 0), (Mean("v", "d"), 0), (Mean("v", 2.0), 0), (Minimum("v"), 0), (Maximum("v"), 0),
     (TakeLast("v"), 1)],
)
def test_aggregators_keep_no_batch_tensor_alive(scheme, kept):
    # a list of thousands of live per-batch tensors fragmented the heap and slowed every training step
    import gc
    import weakref

    aggregator = scheme.get_aggregator()
    references = []
    for index in range(2 * COMPACT_EVERY + 3):
        values = [torch.tensor(float(index)), torch.tensor(3.0)]
        references += [weakref.ref(v) for v in values]
        aggregator.aggregate(values[: len(scheme.requires)], 3)
        del values
    gc.collect()
    assert sum(r() is not None for r in references) == kept
    assert aggregator.readout() is not None


def test_float32_sums_are_folded_into_float64():
    aggregator = _float32_feed(WeightedMean("v").get_aggregator())
    expected = sum(float(v) * s for v, s in zip(FLOAT32_VALUES, FLOAT32_SIZES)) / sum(FLOAT32_SIZES)
    result = aggregator.readout()
    assert result.dtype == torch.float64
    assert float(result) == pytest.approx(expected, rel=1e-6)


def test_half_precision_values_are_summed_in_float32_at_least():
    values = [torch.tensor(v, dtype=torch.bfloat16) for v in RNG.normal(loc=5.0, size=COMPACT_EVERY - 1)]
    aggregator = WeightedMean("v").get_aggregator()
    for value in values:
        aggregator.aggregate([value], 4)
    expected = sum(float(v) for v in values) / len(values)
    # a bfloat16 running sum would be off by percents after a few hundred batches
    assert float(aggregator.readout()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("scheme", [WeightedMean("v"), Mean("v", 2.0), Minimum("v"), Maximum("v")])
def test_a_checkpoint_mid_period_leaves_the_sums_bitwise_unchanged(scheme):
    half = COMPACT_EVERY + 40  # one fold done, a partial sum pending
    straight = _float32_feed(scheme.get_aggregator())
    checkpointed = _float32_feed(scheme.get_aggregator(), 0, half)
    state = copy.deepcopy(checkpointed.state_dict())  # what a checkpoint writes (state tensors are references)
    _float32_feed(checkpointed, half)
    resumed = scheme.get_aggregator()
    resumed.load_state_dict(state)
    _float32_feed(resumed, half)
    assert torch.equal(checkpointed.readout(), straight.readout())
    assert torch.equal(resumed.readout(), straight.readout())


def test_states_of_older_checkpoints_still_load():
    weighted = WeightedMean("v").get_aggregator()
    weighted.load_state_dict({"total": torch.tensor(10.0, dtype=torch.float64), "total_weight": 4.0})
    weighted.aggregate([torch.tensor(1.0)], 1)
    assert float(weighted.readout()) == pytest.approx(11.0 / 5.0)
    mean = Mean("n", "d").get_aggregator()
    mean.load_state_dict({"numerator": torch.tensor(3.0), "denominator": torch.tensor(6.0)})
    mean.aggregate([torch.tensor(1.0), torch.tensor(2.0)], 1)
    assert float(mean.readout()) == pytest.approx(4.0 / 8.0)
