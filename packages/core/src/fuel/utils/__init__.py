"""Utilities: seeded random generators, subsets, data-path lookup, Fuel's helpers.

``producer_consumer`` is in :mod:`fuel.utils.parallel` (as in Fuel); it imports
ZeroMQ when called. Importing the package imports none of its modules: each
name is imported when first used (:mod:`fuel.utils.lazy`, the helper plugins
use for the same purpose).

Examples
--------
>>> from fuel.utils import Subset
>>> Subset([4, 1, 2], 10).map([0, 2]).tolist()
[1, 4]
"""

from __future__ import annotations

from fuel.utils.lazy import Exports

EXPORTS = Exports(__name__, [
    ("DataFileNotFoundError", ".paths"),
    ("PositionRNG", ".random"),
    ("Subset", ".subset"),
    ("do_not_pickle_attributes", ".pickling"),
    ("epoch_rng", ".random"),
    ("find_in_data_path", ".paths"),
    ("position_rng", ".random"),
    ("remember_cwd", ".paths"),
    ("resolve_seed", ".random"),
])
"""The public names of :mod:`fuel.utils`, imported on first use (:mod:`fuel.utils.lazy`)."""

__getattr__, __dir__, __all__ = EXPORTS.module_attributes()
