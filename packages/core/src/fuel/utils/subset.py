"""A subset of the examples of a file: a slice or a sorted list of indices.

Examples
--------
>>> s = Subset([7, 3, 3, 4], 10)
>>> s.is_list, s.num_examples, s.get_list_representation()
(True, 3, [3, 4, 7])
>>> Subset([2, 3, 4], 10).is_list   # contiguous lists collapse to slices
False
>>> (Subset(slice(0, 2), 10) + Subset([5], 10)).get_list_representation()
[0, 1, 5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Subset"]


class Subset:
    """Examples ``list_or_slice`` of a container of ``original_num_examples``.

    Lists are de-duplicated and sorted; contiguous lists become slices.
    Requests relative to the subset are mapped to absolute indices with
    :meth:`map`, which checks bounds (no negative indices, no empty results).

    Parameters
    ----------
    list_or_slice : slice or sequence of int
        The examples.
    original_num_examples : int
        Size of the container (for bounds checks).

    Examples
    --------
    >>> Subset(slice(2, 8, 2), 10).map(slice(1, 3)).tolist()
    [4, 6]
    """

    def __init__(self, list_or_slice: Any, original_num_examples: int):
        self.original_num_examples = int(original_num_examples)
        if isinstance(list_or_slice, slice):
            start, stop, step = list_or_slice.indices(self.original_num_examples)
            if step < 1:
                raise ValueError(f"subset slices need a positive step, got {list_or_slice}")
            if list_or_slice.stop is not None and list_or_slice.stop > self.original_num_examples:
                raise ValueError(
                    f"subset {list_or_slice} goes past the end of the {self.original_num_examples} available examples"
                )
            self._slice: slice | None = slice(start, max(start, stop), step)
            self._list: np.ndarray | None = None
        else:
            indices = np.unique(np.asarray(list_or_slice, dtype=np.int64).reshape(-1))
            if indices.size and (indices[0] < 0 or indices[-1] >= self.original_num_examples):
                raise ValueError(
                    f"subset indices must be in 0..{self.original_num_examples - 1}, got "
                    f"{int(indices[0])}..{int(indices[-1])}"
                )
            if indices.size and indices[-1] - indices[0] + 1 == indices.size:
                self._slice = slice(int(indices[0]), int(indices[-1]) + 1, 1)
                self._list = None
            else:
                self._slice = None
                self._list = indices

    @property
    def is_list(self) -> bool:
        """Whether the subset is an index list (not a slice)."""
        return self._list is not None

    @property
    def slice(self) -> "slice | None":
        """The subset as a slice (``None`` for lists)."""
        return self._slice

    @property
    def num_examples(self) -> int:
        """Number of examples in the subset."""
        if self._list is not None:
            return int(self._list.size)
        assert self._slice is not None
        return len(range(self._slice.start, self._slice.stop, self._slice.step))

    def indices(self) -> np.ndarray:
        """Absolute indices as an int64 array."""
        if self._list is not None:
            return self._list
        assert self._slice is not None
        return np.arange(self._slice.start, self._slice.stop, self._slice.step, dtype=np.int64)

    def get_list_representation(self) -> list[int]:
        """Absolute indices as a list."""
        return self.indices().tolist()

    def __add__(self, other: "Subset") -> "Subset":
        if self.original_num_examples != other.original_num_examples:
            raise ValueError("cannot add subsets of containers of different sizes")
        if not self.is_list and not other.is_list and self._slice.step == other._slice.step == 1:  # type: ignore[union-attr]
            a, b = self._slice, other._slice
            if a.start <= b.stop and b.start <= a.stop:  # type: ignore[union-attr]
                return Subset(slice(min(a.start, b.start), max(a.stop, b.stop)), self.original_num_examples)  # type: ignore[union-attr]
        return Subset(np.concatenate([self.indices(), other.indices()]), self.original_num_examples)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subset) and np.array_equal(self.indices(), other.indices())

    def __repr__(self) -> str:
        what = self._slice if self._list is None else f"list of {self._list.size}"
        return f"Subset({what}, {self.original_num_examples})"

    def map(self, request: Any) -> Any:
        """Absolute indices of ``request`` (int, slice or indices, relative to the subset).

        Returns an int for an int request, a step-1 slice when the result is
        contiguous, otherwise an int64 array. Raises ``ValueError`` if the
        request is out of range or empty.
        """
        n = self.num_examples
        if isinstance(request, (int, np.integer)):
            if not 0 <= request < n:
                raise ValueError(f"index {int(request)} is out of range; this subset has {n} examples (0..{n - 1})")
            if self._list is not None:
                return int(self._list[request])
            return self._slice.start + int(request) * self._slice.step  # type: ignore[union-attr]
        if isinstance(request, slice):
            start, stop, step = request.indices(n)
            if request.stop is not None and request.stop > n:
                raise ValueError(f"slice {request} is out of range; this subset has {n} examples")
            if stop <= start or step < 1:
                raise ValueError(f"slice {request} selects no examples of this subset of {n}")
            if self._list is None and step == 1 and self._slice.step == 1:  # type: ignore[union-attr]
                base = self._slice.start  # type: ignore[union-attr]
                return slice(base + start, base + stop, 1)
            return self.indices()[start:stop:step]
        array = np.asarray(request)
        if array.ndim != 1 or array.size == 0 or (array.dtype.kind not in "iu"):
            raise ValueError(f"a request must be an int, a slice or a non-empty 1-D list of ints, got {request!r:.100}")
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= n:
            raise ValueError(f"indices {low}..{high} are out of range; this subset has {n} examples (0..{n - 1})")
        if self._list is not None:
            return self._list[array]
        if self._slice.step == 1:  # type: ignore[union-attr]
            return array + self._slice.start if self._slice.start else array  # type: ignore[union-attr]
        return array * self._slice.step + self._slice.start  # type: ignore[union-attr]
