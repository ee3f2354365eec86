"""The training-algorithm protocol that :class:`blocks.main_loop.MainLoop` drives."""

from __future__ import annotations

import abc
from typing import Any, Mapping

__all__ = ["TrainingAlgorithm"]


class TrainingAlgorithm(abc.ABC):
    """Base class of training algorithms (Blocks' ``TrainingAlgorithm``).

    A training algorithm is initialized once before training and then fed one
    batch at a time. The main loop calls :meth:`initialize` in
    ``before_training`` (not again on resumption of an initialized algorithm)
    and :meth:`process_batch` for every batch of the data stream.

    Examples
    --------
    >>> class CountBatches(TrainingAlgorithm):
    ...     def initialize(self) -> None:
    ...         self.count = 0
    ...     def process_batch(self, batch) -> None:
    ...         self.count += 1
    ...     def state_dict(self):
    ...         return {"count": self.count}
    ...     def load_state_dict(self, state):
    ...         self.count = int(state["count"])
    >>> algorithm = CountBatches()
    >>> algorithm.initialize()
    >>> algorithm.process_batch({"features": [1, 2]})
    >>> algorithm.state_dict()
    {'count': 1}
    """

    @abc.abstractmethod
    def initialize(self) -> None:
        """Prepare the algorithm (compile functions, create buffers)."""

    @abc.abstractmethod
    def process_batch(self, batch: Mapping[str, Any]) -> None:
        """Process one batch, a mapping from source names to arrays."""

    def track_nonfinite(self, enabled: bool = True) -> bool:
        """Start (or stop) recording on the device whether what :meth:`process_batch` computes stays finite.

        The main loop's non-finite guard calls it after :meth:`initialize`
        and reads the record with :meth:`nonfinite_quantities` at boundaries
        where the device is synchronised anyway. An algorithm that supports
        it returns ``True``; the base class records nothing and returns
        ``False`` (the guard is then off for it).
        """
        return False

    def nonfinite_quantities(self, parameters: bool = True) -> list[str]:
        """What became non-finite since the last call (``"cost"``, ``"parameter /mlp/linear_0.W"``, ...).

        Reads the record of :meth:`track_nonfinite` (one host
        synchronisation) and starts a new one. With ``parameters``, the
        trained parameters are checked too (they always are when something
        else was found). Empty when everything is finite, or when nothing is
        tracked (the base class).
        """
        return []

    def state_dict(self) -> dict[str, Any]:
        """The algorithm's state: JSON-able values and tensors (empty by default)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (nothing to restore by default)."""
        if state:
            raise ValueError(
                f"{type(self).__name__} has no state to load, got keys {sorted(state)}; "
                "override load_state_dict to restore them"
            )
