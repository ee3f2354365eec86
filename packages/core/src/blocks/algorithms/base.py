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
