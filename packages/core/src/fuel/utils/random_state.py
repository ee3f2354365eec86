"""Fuel's way of shuffling: one permutation per epoch drawn from a shared ``numpy.random.RandomState``.

Fuel's shuffled schemes drew each epoch's permutation from the generator they
were given, so the order depends on everything else that draws from it. To
resume such a run exactly, :class:`EpochPermutations` records the generator's
state as of the start of the last epoch it drew (a fixed-size MT19937 state:
624 ``uint32`` words and three numbers) and, on load, puts the generator back
there and draws that epoch again; the generator then stands where it stood
after the draw, so the following epochs continue as in the uninterrupted run.

Examples
--------
>>> import numpy as np
>>> draws = EpochPermutations(np.random.RandomState(3))
>>> first = draws.permutation(0, 5).tolist()
>>> first == np.random.RandomState(3).permutation(5).tolist()
True
>>> saved = draws.state_dict()
>>> second = draws.permutation(1, 5).tolist()
>>> again = EpochPermutations(np.random.RandomState(0))
>>> again.load_state_dict(saved, 5)
>>> again.permutation(0, 5).tolist() == first, again.permutation(1, 5).tolist() == second
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["EpochPermutations", "random_state_from_dict", "random_state_to_dict"]

_WORDS = 624  # MT19937's state: 624 32-bit words and a position in them


def random_state_to_dict(random_state: np.random.RandomState) -> dict[str, Any]:
    """The state of ``random_state`` as a state dict (JSON-able values and one ``uint32`` array).

    Examples
    --------
    >>> state = random_state_to_dict(np.random.RandomState(1))
    >>> sorted(state), state["key"].shape, state["key"].dtype.name
    (['bit_generator', 'gauss', 'has_gauss', 'key', 'pos'], (624,), 'uint32')
    """
    state = random_state.get_state(legacy=False)
    return {
        "bit_generator": str(state["bit_generator"]),
        "key": np.array(state["state"]["key"], dtype=np.uint32),
        "pos": int(state["state"]["pos"]),
        "has_gauss": int(state["has_gauss"]),
        "gauss": float(state["gauss"]),
    }


def random_state_from_dict(state: Any) -> np.random.RandomState:
    """A new ``RandomState`` in the state :func:`random_state_to_dict` described.

    Raises
    ------
    ValueError
        For anything but an MT19937 state of 624 words in range, a position in
        ``0..624``, ``has_gauss`` 0 or 1 and a finite ``gauss``.

    Examples
    --------
    >>> rs = np.random.RandomState(5)
    >>> copy = random_state_from_dict(random_state_to_dict(rs))
    >>> int(copy.randint(1000)) == int(rs.randint(1000))
    True
    """
    if not isinstance(state, Mapping):
        raise ValueError(f"a RandomState's state must be a dict, got {type(state).__name__}")
    missing = sorted({"bit_generator", "key", "pos", "has_gauss", "gauss"} - set(state))
    if missing:
        raise ValueError(f"a RandomState's state lacks {', '.join(missing)}")
    if state["bit_generator"] != "MT19937":
        raise ValueError(f"a RandomState's bit generator must be MT19937, got {state['bit_generator']!r}")
    try:
        key = np.asarray(state["key"])
    except (TypeError, ValueError) as err:  # pragma: no cover - numpy accepts nearly anything
        raise ValueError(f"a RandomState's key must be {_WORDS} integers: {err}") from None
    if key.shape != (_WORDS,) or (key.size and key.dtype.kind not in "iu"):
        raise ValueError(f"a RandomState's key must be {_WORDS} integers, got shape {key.shape} of {key.dtype}")
    if key.size and (int(key.min()) < 0 or int(key.max()) >= 2**32):
        raise ValueError("a RandomState's key words must be in 0..2**32-1")
    pos, has_gauss, gauss = state["pos"], state["has_gauss"], state["gauss"]
    if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)) or not 0 <= pos <= _WORDS:
        raise ValueError(f"a RandomState's pos must be an int in 0..{_WORDS}, got {pos!r}")
    if isinstance(has_gauss, bool) or has_gauss not in (0, 1):
        raise ValueError(f"a RandomState's has_gauss must be 0 or 1, got {has_gauss!r}")
    if isinstance(gauss, bool) or not isinstance(gauss, (int, float, np.floating)) or not math.isfinite(gauss):
        raise ValueError(f"a RandomState's gauss must be a finite number, got {gauss!r}")
    random_state = np.random.RandomState()
    random_state.set_state(("MT19937", key.astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    return random_state


class EpochPermutations:
    """Permutations drawn from a shared ``RandomState``, one per epoch, as Fuel's shuffled schemes drew them.

    The permutation of an epoch is drawn the first time that epoch is asked
    for; asking for the same epoch again gives the same permutation (so
    several iterators of one epoch agree), asking for any other epoch draws
    the next one. :meth:`state_dict` holds the generator's state as of the
    start of the last draw; :meth:`load_state_dict` makes the generator (the
    object given, which others may share) continue from there exactly.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        The generator to draw from (not copied).

    Examples
    --------
    >>> rs = np.random.RandomState(0)
    >>> draws = EpochPermutations(rs)
    >>> draws.permutation(0, 4) is draws.permutation(0, 4), draws.random_state is rs
    (True, True)
    """

    __slots__ = ("random_state", "_epoch", "_start", "_permutation")

    def __init__(self, random_state: np.random.RandomState):
        if not isinstance(random_state, np.random.RandomState):
            raise ValueError(f"EpochPermutations draws from a numpy RandomState, got {type(random_state).__name__}")
        self.random_state = random_state
        self._epoch: int | None = None
        self._start: dict[str, Any] | None = None
        self._permutation: np.ndarray | None = None

    def permutation(self, epoch: int, size: int) -> np.ndarray:
        """The permutation of ``range(size)`` of ``epoch`` (drawn now unless it is the last one drawn)."""
        epoch = int(epoch)
        permutation = self._permutation
        if permutation is None or self._epoch != epoch or permutation.shape[0] != size:
            self._start = random_state_to_dict(self.random_state)
            permutation = self._permutation = self.random_state.permutation(size)
            self._epoch = epoch
        return permutation

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": last epoch drawn or None, "start": the generator's state before that draw (or now)}``."""
        if self._start is None:
            return {"epoch": None, "start": random_state_to_dict(self.random_state)}
        start = dict(self._start)
        start["key"] = start["key"].copy()
        return {"epoch": self._epoch, "start": start}

    def load_state_dict(self, state: Any, size: int) -> None:
        """Put the generator where :meth:`state_dict` found it and redraw that epoch (all or nothing).

        Raises
        ------
        ValueError
            For a malformed state (nothing is changed then).
        """
        if not isinstance(state, Mapping) or "epoch" not in state or "start" not in state:
            raise ValueError(f"not a drawn-permutation state (expected keys 'epoch' and 'start'), got {state!r:.200}")
        epoch = state["epoch"]
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0):
            raise ValueError(f"the epoch of a drawn permutation must be an int >= 0 or None, got {epoch!r}")
        scratch = random_state_from_dict(state["start"])
        start = random_state_to_dict(scratch)
        permutation = None if epoch is None else scratch.permutation(size)
        self.random_state.set_state(scratch.get_state())
        if epoch is None:
            self._epoch, self._start, self._permutation = None, None, None
        else:
            self._epoch, self._start, self._permutation = int(epoch), start, permutation
