"""Utilities: seeded random generators, subsets, data-path lookup, Fuel's helpers.

``producer_consumer`` is in :mod:`fuel.utils.parallel` (as in Fuel); it imports
ZeroMQ when called.

Examples
--------
>>> from fuel.utils import Subset
>>> Subset([4, 1, 2], 10).map([0, 2]).tolist()
[1, 4]
"""

from __future__ import annotations

from fuel.utils.paths import DataFileNotFoundError, find_in_data_path, remember_cwd
from fuel.utils.pickling import do_not_pickle_attributes
from fuel.utils.random import PositionRNG, epoch_rng, position_rng, resolve_seed
from fuel.utils.subset import Subset

__all__ = [
    "DataFileNotFoundError",
    "PositionRNG",
    "Subset",
    "do_not_pickle_attributes",
    "epoch_rng",
    "find_in_data_path",
    "position_rng",
    "remember_cwd",
    "resolve_seed",
]
