"""Aggregation schemes against direct numpy computations."""

from __future__ import annotations

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
