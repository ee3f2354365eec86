"""Seeds and random generators derived from ``(seed, epoch, position)``.

Every random choice Fuel makes is a pure function of a seed, the epoch and the
position inside the epoch, so resuming from a checkpoint (or computing batches
ahead of time in another process) gives exactly the same data.

Examples
--------
>>> a = epoch_rng(3, 0).integers(100, size=3)
>>> b = epoch_rng(3, 0).integers(100, size=3)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["epoch_rng", "position_rng", "resolve_seed"]


def resolve_seed(rng: Any = None) -> int:
    """Turn Fuel's ``rng`` argument into an integer seed.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` means ``fuel.config.default_seed``; a generator is asked for
        one seed, once.

    Returns
    -------
    int
        A non-negative seed.

    Examples
    --------
    >>> resolve_seed(5)
    5
    """
    if rng is None:
        from fuel import config

        return int(config.default_seed)
    if isinstance(rng, bool):
        raise ValueError(f"rng must be None, an int seed or a numpy generator, got {rng!r}")
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise ValueError(f"a seed must be >= 0, got {rng}")
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63 - 1))
    if isinstance(rng, np.random.RandomState):
        return int(rng.randint(2**31 - 1))
    raise ValueError(f"rng must be None, an int seed, a numpy Generator or RandomState, got {type(rng).__name__}")


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of ``epoch`` for ``seed``.

    Examples
    --------
    >>> int(epoch_rng(1, 2).integers(10**6)) == int(epoch_rng(1, 2).integers(10**6))
    True
    """
    return np.random.default_rng((int(seed), int(epoch)))


def position_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The generator of one batch/example ``position`` of ``epoch``.

    Examples
    --------
    >>> g = position_rng(1, 0, 7)
    >>> float(g.random()) == float(position_rng(1, 0, 7).random())
    True
    """
    return np.random.default_rng((int(seed), int(epoch), int(position), 0x5EED))
