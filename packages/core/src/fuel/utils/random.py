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

__all__ = ["PositionRNG", "epoch_rng", "position_rng", "resolve_seed"]


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


class PositionRNG:
    """Generators for every position of one epoch, cheaply (a Philox counter jump per position).

    The key comes from ``(seed, epoch)``; position ``p`` uses the counter
    block starting at ``p * 2**192``, so positions never share random numbers.
    :meth:`at` re-seats one shared generator (a few microseconds), so the
    generator it returns is valid until the next call.

    Parameters
    ----------
    seed, epoch : int
        What the key is derived from.

    Examples
    --------
    >>> rngs = PositionRNG(3, 1)
    >>> a = rngs.at(5).random(2)
    >>> b = rngs.at(5).random(2)
    >>> bool((a == b).all()) and bool((a != rngs.at(6).random(2)).all())
    True
    """

    __slots__ = ("_bit_generator", "_generator", "_key", "_state")

    def __init__(self, seed: int, epoch: int):
        self._key = np.random.SeedSequence((int(seed), int(epoch), 0x5EED)).generate_state(2, np.uint64)
        self._bit_generator = np.random.Philox(key=self._key)
        self._generator = np.random.Generator(self._bit_generator)
        self._state = {
            "bit_generator": "Philox",
            "state": {"counter": np.zeros(4, dtype=np.uint64), "key": self._key},
            "buffer": np.zeros(4, dtype=np.uint64),
            "buffer_pos": 4,
            "has_uint32": 0,
            "uinteger": 0,
        }

    def at(self, position: int) -> np.random.Generator:
        """The generator of ``position`` (re-seated on each call)."""
        self._state["state"]["counter"][3] = int(position)  # type: ignore[index]
        self._bit_generator.state = self._state
        return self._generator


def position_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The generator of one batch/example ``position`` of ``epoch`` (same numbers as :class:`PositionRNG`).

    Examples
    --------
    >>> g = position_rng(1, 0, 7)
    >>> float(g.random()) == float(PositionRNG(1, 0).at(7).random())
    True
    """
    return PositionRNG(seed, epoch).at(position)
