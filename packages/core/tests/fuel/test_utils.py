"""fuel.utils: Subset arithmetic and bounds, seeded generators."""

from __future__ import annotations

import numpy as np
import pytest

from fuel.utils import PositionRNG, Subset, epoch_rng, position_rng, resolve_seed


def test_subset_normalises_lists_and_merges():
    s = Subset([9, 2, 2, 5], 10)
    assert s.is_list and s.num_examples == 3 and s.get_list_representation() == [2, 5, 9]
    assert not Subset([4, 3, 5], 10).is_list and Subset([4, 3, 5], 10).slice == slice(3, 6, 1)
    assert (Subset(slice(0, 3), 10) + Subset(slice(3, 6), 10)).slice == slice(0, 6, 1)
    assert (Subset(slice(0, 2), 10) + Subset([7], 10)).get_list_representation() == [0, 1, 7]
    assert Subset(list(range(1, 9, 3)), 10).get_list_representation() == [1, 4, 7]
    with pytest.raises(ValueError, match=r"step of 1.*list\(range\(1, 9, 3\)\)"):
        Subset(slice(1, 9, 3), 10)
    with pytest.raises(ValueError, match="0..9"):
        Subset([3, 10], 10)
    with pytest.raises(ValueError, match="past the end"):
        Subset(slice(0, 11), 10)


def test_subset_map_matches_numpy_indexing_and_checks_bounds():
    base = np.arange(100)
    for subset in (Subset(slice(10, 60), 100), Subset([3, 50, 7, 99, 20], 100), Subset(list(range(5, 95, 5)), 100)):
        selected = base[subset.indices()]
        for request in (2, slice(1, 4), np.array([4, 0, 2]), [1, 1, 3]):
            mapped = subset.map(request)
            assert np.array_equal(np.atleast_1d(base[mapped]), np.atleast_1d(selected[request]))
        n = subset.num_examples
        with pytest.raises(ValueError, match=f"has {n} examples"):
            subset.map(n)
        with pytest.raises(ValueError, match="out of range"):
            subset.map(np.array([0, n]))
        with pytest.raises(ValueError, match="out of range"):
            subset.map([-1])
        with pytest.raises(ValueError, match="no examples"):
            subset.map(slice(3, 3))


def test_seeded_generators():
    assert resolve_seed(4) == 4
    with pytest.raises(ValueError, match=">= 0"):
        resolve_seed(-1)
    assert epoch_rng(1, 2).integers(1 << 30) == epoch_rng(1, 2).integers(1 << 30)
    assert epoch_rng(1, 2).integers(1 << 30) != epoch_rng(1, 3).integers(1 << 30)
    rngs = PositionRNG(5, 0)
    draws = [rngs.at(p).random(3).tolist() for p in range(4)]
    assert len({tuple(d) for d in draws}) == 4
    assert rngs.at(2).random(3).tolist() == draws[2] == position_rng(5, 0, 2).random(3).tolist()
    assert PositionRNG(5, 1).at(2).random(3).tolist() != draws[2]
