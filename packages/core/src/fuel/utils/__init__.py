"""Utilities: seeded random generators, subsets, data-path lookup.

Examples
--------
>>> from fuel.utils import Subset
>>> Subset([4, 1, 2], 10).map([0, 2]).tolist()
[1, 4]
"""

from __future__ import annotations

from fuel.utils.paths import find_in_data_path
from fuel.utils.random import PositionRNG, epoch_rng, position_rng, resolve_seed
from fuel.utils.subset import Subset

__all__ = ["PositionRNG", "Subset", "epoch_rng", "find_in_data_path", "position_rng", "resolve_seed"]
