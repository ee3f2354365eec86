"""Iteration schemes: order as a function of (seed, epoch), O(1) seek, sharding."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fuel
from fuel.schemes import (
    BootstrapScheme,
    BucketScheme,
    ConcatenatedScheme,
    ConstantScheme,
    SequentialExampleScheme,
    SequentialScheme,
    ShardedScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
    cross_validation,
)


def _flat(scheme, epoch):
    return [int(i) for r in scheme.get_request_iterator(epoch=epoch, native=True) for i in np.atleast_1d(r)]


def test_sequential_scheme_batches_and_short_last():
    requests = [r.tolist() for r in SequentialScheme(7, 3).get_request_iterator(native=True)]
    assert requests == [[0, 1, 2], [3, 4, 5], [6]]
    assert SequentialScheme(7, 3).num_requests == 3
    assert [r.tolist() for r in SequentialScheme([9, 8, 7], 2).get_request_iterator(native=True)] == [[9, 8], [7]]


def test_shuffled_scheme_is_function_of_seed_and_epoch():
    a, b = ShuffledScheme(50, 8, rng=4), ShuffledScheme(50, 8, rng=4)
    assert _flat(a, 0) == _flat(b, 0)
    assert _flat(a, 3) == _flat(b, 3)
    assert _flat(a, 0) != _flat(a, 1)
    assert sorted(_flat(a, 2)) == list(range(50))
    assert _flat(a, 0) != _flat(ShuffledScheme(50, 8, rng=5), 0)
    # calling without an epoch walks through epochs 0, 1, ...
    c = ShuffledScheme(50, 8, rng=4)
    assert _flat(c, None) == _flat(a, 0) and _flat(c, None) == _flat(a, 1)


def test_shuffled_default_seed_from_config():
    with fuel.config.override(default_seed=11):
        s = ShuffledScheme(20, 5)
    assert s.seed == 11
    assert _flat(s, 0) == _flat(ShuffledScheme(20, 5, rng=11), 0)


def test_shuffled_rng_generators_accepted_and_bad_rejected():
    assert isinstance(ShuffledScheme(5, 2, rng=np.random.default_rng(0)).seed, int)
    assert isinstance(BootstrapScheme(5, 2, rng=np.random.RandomState(0)).seed, int)
    assert ShuffledScheme(5, 2, rng=np.random.RandomState(0)).seed is None  # drawn from as in Fuel
    with pytest.raises(ValueError, match="rng"):
        ShuffledScheme(5, 2, rng="abc")
    with pytest.raises(ValueError, match="batch_size"):
        SequentialScheme(5, 0)
    with pytest.raises(ValueError, match="examples"):
        SequentialScheme(-1, 2)


def test_sorted_indices_sorts_within_batches_only():
    s = ShuffledScheme(23, 5, rng=1, sorted_indices=True)
    plain = ShuffledScheme(23, 5, rng=1)
    for got, ref in zip(s.get_request_iterator(epoch=2, native=True), plain.get_request_iterator(epoch=2, native=True)):
        assert got.tolist() == sorted(ref.tolist())


def test_request_iterator_seek_is_consistent_and_state_roundtrips():
    scheme = ShuffledScheme(40, 6, rng=2)
    full = [r.tolist() for r in scheme.get_request_iterator(epoch=5, native=True)]
    it = scheme.get_request_iterator(epoch=5, native=True)
    next(it), next(it)
    state = json.loads(json.dumps(it.state_dict()))
    fresh = scheme.get_request_iterator(epoch=0, native=True)
    fresh.load_state_dict(state)
    assert [r.tolist() for r in fresh] == full[2:]
    with pytest.raises(ValueError, match="out of range"):
        scheme.get_request_iterator(epoch=0, position=99, native=True)


def test_example_schemes():
    assert list(SequentialExampleScheme(3).get_request_iterator(native=True)) == [0, 1, 2]
    s = ShuffledExampleScheme(10, rng=3)
    order = list(s.get_request_iterator(epoch=1, native=True))
    assert sorted(order) == list(range(10)) and all(isinstance(i, int) for i in order)
    assert order == list(ShuffledExampleScheme(10, rng=3).get_request_iterator(epoch=1, native=True))
    assert s.requests_examples and not ShuffledScheme(3, 1).requests_examples


def test_constant_scheme():
    assert list(ConstantScheme(4, num_examples=10).get_request_iterator(native=True)) == [4, 4, 2]
    assert list(ConstantScheme(4, times=3).get_request_iterator(native=True)) == [4, 4, 4]
    infinite = ConstantScheme(2).get_request_iterator(native=True)
    assert [next(infinite) for _ in range(5)] == [2] * 5
    assert ConstantScheme(2).num_requests is None
    with pytest.raises(ValueError, match="not both"):
        ConstantScheme(2, num_examples=3, times=2)


def test_concatenated_scheme_and_seek():
    s = ConcatenatedScheme([SequentialScheme(5, 2), SequentialScheme([10, 11, 12], 2)])
    assert [r.tolist() for r in s.get_request_iterator(native=True)] == [[0, 1], [2, 3], [4], [10, 11], [12]]
    it = s.get_request_iterator(epoch=0, position=3, native=True)
    assert next(it).tolist() == [10, 11]
    assert s.num_requests == 5
    with pytest.raises(ValueError, match="request examples"):
        ConcatenatedScheme([SequentialScheme(2, 1), SequentialExampleScheme(2)])


def test_cross_validation_matches_fuel():
    folds = list(cross_validation(SequentialScheme, 6, 3, batch_size=2))
    assert len(folds) == 3
    train, valid = folds[1]
    assert _flat(train, 0) == [0, 1, 4, 5] and _flat(valid, 0) == [2, 3]
    with pytest.raises(ValueError, match="divisible"):
        list(cross_validation(SequentialScheme, 7, 3, batch_size=2))
    loose = list(cross_validation(SequentialScheme, 7, 3, strict=False, batch_size=2))
    assert [f[2] for f in loose] == [2, 2, 3]


def test_bootstrap_samples_with_replacement():
    s = BootstrapScheme(10, 5, num_samples=1000, rng=0)
    drawn = _flat(s, 0)
    assert len(drawn) == 1000 and set(drawn) <= set(range(10))
    assert len(set(drawn)) == 10 and len(drawn) > len(set(drawn))
    assert drawn == _flat(BootstrapScheme(10, 5, num_samples=1000, rng=0), 0)
    assert drawn != _flat(s, 1)
    weighted = _flat(BootstrapScheme(3, 10, num_samples=300, rng=0, weights=[0, 0, 1]), 0)
    assert set(weighted) == {2}


def test_bucket_scheme_groups_similar_lengths_and_covers_all():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=200)
    s = BucketScheme(lengths, 16, num_buckets=5, rng=3)
    batches = list(s.get_request_iterator(epoch=0, native=True))
    assert len(batches) == s.num_requests
    assert sorted(i for b in batches for i in b.tolist()) == list(range(200))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    shuffled = ShuffledScheme(200, 16, rng=3).get_request_iterator(epoch=0, native=True)
    random_spread = np.mean([np.ptp(lengths[b]) for b in shuffled])
    assert spread < random_spread / 2
    assert [b.tolist() for b in batches] == [b.tolist() for b in BucketScheme(lengths, 16, num_buckets=5, rng=3)
                                              .get_request_iterator(epoch=0, native=True)]


def test_sharded_scheme_partitions_global_order_independent_of_num_shards():
    base = ShuffledScheme(100, 10, rng=7)
    global_order = [r.tolist() for r in base.get_request_iterator(epoch=1, native=True)]
    for num_shards in (1, 3, 4):
        shards = [list(ShardedScheme(base, num_shards, k).get_request_iterator(epoch=1, native=True))
                  for k in range(num_shards)]
        for i, request in enumerate(global_order):
            assert [x for k in range(num_shards) for x in shards[k][i].tolist()] == request
    sizes = [len(r) for r in ShardedScheme(SequentialScheme(10, 10), 3, 0).get_request_iterator(native=True)]
    assert sizes == [4]
    assert list(ShardedScheme(ConstantScheme(10, times=1), 3, 2).get_request_iterator(native=True)) == [3]
    with pytest.raises(ValueError, match="shard"):
        ShardedScheme(base, 2, 2)
    with pytest.raises(ValueError, match="example scheme"):
        ShardedScheme(SequentialExampleScheme(4), 2, 0)


def test_scheme_state_dict_roundtrip_restores_seed_and_epoch():
    s = ShuffledScheme(30, 4, rng=9)
    s.get_request_iterator(native=True), s.get_request_iterator(native=True)
    state = json.loads(json.dumps(s.state_dict()))
    t = ShuffledScheme(30, 4, rng=1)
    t.load_state_dict(state)
    assert t.seed == 9 and _flat(t, None) == _flat(s, 2)
    sharded = ShardedScheme(ShuffledScheme(30, 4, rng=9), 2, 0)
    assert json.loads(json.dumps(sharded.state_dict()))["scheme"]["seed"] == 9
