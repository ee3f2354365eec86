"""A subset of the examples of a container: a slice or a sorted list of indices.

:class:`Subset` behaves as Fuel's ``fuel.utils.Subset``: lists are
de-duplicated and sorted, contiguous lists become slices, slices need a step
of 1, and requests made *within* the subset (``subset[request]``) are
translated to requests on the container after the same bounds checks as
Fuel's. :meth:`Subset.map` is the fast path :class:`~fuel.datasets.H5PYDataset`
uses: it takes numpy index arrays and returns an int, a step-1 slice or an
int64 array.

Examples
--------
>>> s = Subset([7, 3, 3, 4], 10)
>>> s.is_list, s.num_examples, s.list_or_slice
(True, 3, [3, 4, 7])
>>> Subset([2, 3, 4], 10).list_or_slice   # contiguous lists collapse to slices
slice(2, 5, None)
>>> (Subset(slice(0, 2), 10) + Subset([5], 10)).get_list_representation()
[0, 1, 5]
>>> Subset(slice(1, 14), 16)[[3, 2, 4]]
[4, 3, 5]
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["Subset"]


def _is_slice(value: Any) -> bool:
    return isinstance(value, slice)


def _as_index_array(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"{what} must be a slice or a 1-D list of integer indices, got {values!r:.100}")
    return array.astype(np.int64, copy=False)


class Subset:
    """Examples ``list_or_slice`` of a container of ``original_num_examples``.

    Parameters
    ----------
    list_or_slice : slice or sequence of int
        The examples. A slice needs non-negative ``start``/``stop``, a step
        of 1 (or ``None``), ``start < original_num_examples`` and
        ``start <= stop <= original_num_examples``; a list needs indices in
        ``0 .. original_num_examples - 1``. Write a stepped slice as a list,
        e.g. ``list(range(0, 10, 2))``.
    original_num_examples : int
        Size of the container.

    Attributes
    ----------
    list_or_slice : list of int or slice
        The sorted unique indices, or the slice.
    original_num_examples : int
        Size of the container.

    Examples
    --------
    >>> Subset([0, 2, 5, 7, 10, 15], 16)[slice(1, 4, 2)]
    [2, 7]
    >>> Subset(slice(1, 14), 16)[slice(1, 4, 2)]
    slice(2, 5, 2)
    >>> Subset(slice(2, 8), 10).map(slice(1, 3))
    slice(3, 5, 1)
    """

    def __init__(self, list_or_slice: Any, original_num_examples: int):
        self.original_num_examples = int(original_num_examples)
        n = self.original_num_examples
        self._as_list: list[int] | None = None
        if _is_slice(list_or_slice):
            self._check_subset_slice(list_or_slice, n)
            start, stop, _ = self.slice_to_numerical_args(list_or_slice, n)
            self._given: Any = list_or_slice
            self._slice: slice | None = slice(start, stop, 1)
            self._list: np.ndarray | None = None
            return
        indices = _as_index_array(list_or_slice, "a subset")
        if indices.size and indices.min() < 0:
            raise ValueError(f"a Subset cannot hold negative indices (got {int(indices.min())})")
        if indices.size and indices.max() >= n:
            raise ValueError(
                f"a Subset of {n} examples needs indices in 0..{n - 1}, got {int(indices.max())}"
            )
        indices = np.unique(indices)
        if indices.size and int(indices[-1]) - int(indices[0]) + 1 == indices.size:
            self._given = slice(int(indices[0]), int(indices[-1]) + 1, None)
            self._slice = slice(int(indices[0]), int(indices[-1]) + 1, 1)
            self._list = None
        else:
            self._given = None
            self._slice = None
            self._list = indices

    @staticmethod
    def _check_subset_slice(slice_: slice, n: int) -> None:
        if any(arg is not None and arg < 0 for arg in (slice_.start, slice_.stop, slice_.step)):
            raise ValueError(f"a Subset cannot be a slice with a negative start, stop or step, got {slice_}")
        if slice_.step is not None and slice_.step != 1:
            raise ValueError(
                f"a Subset slice needs a step of 1, got {slice_}; give the indices as a list instead, e.g. "
                f"list(range({slice_.start or 0}, {n if slice_.stop is None else slice_.stop}, {slice_.step}))"
            )
        if slice_.stop is not None and slice_.stop > n:
            raise ValueError(f"subset {slice_} goes past the end of the {n} available examples")
        if slice_.start is not None and slice_.start >= n:
            raise ValueError(f"subset {slice_} starts at or after the end of the {n} available examples")
        if slice_.start is not None and slice_.stop is not None and slice_.start > slice_.stop:
            raise ValueError(f"subset {slice_} starts after it stops")

    # -- Fuel's API -----------------------------------------------------------------
    @property
    def list_or_slice(self) -> Any:
        """The sorted unique indices (a list), or the slice."""
        if self._list is None:
            return self._given
        if self._as_list is None:
            self._as_list = self._list.tolist()
        return self._as_list

    @property
    def is_list(self) -> bool:
        """Whether the subset is an index list (not a slice)."""
        return self._list is not None

    @property
    def num_examples(self) -> int:
        """Number of examples in the subset."""
        if self._list is not None:
            return int(self._list.size)
        assert self._slice is not None
        return self._slice.stop - self._slice.start

    @property
    def is_empty(self) -> bool:
        """Whether the subset holds no example."""
        return self.num_examples == 0

    @staticmethod
    def slice_to_numerical_args(slice_: slice, num_examples: int) -> tuple[int, int, int]:
        """``(start, stop, step)`` of ``slice_`` with ``None`` replaced by ``0``, ``num_examples`` and ``1``.

        Examples
        --------
        >>> Subset.slice_to_numerical_args(slice(None, 5), 10)
        (0, 5, 1)
        """
        start = 0 if slice_.start is None else slice_.start
        stop = num_examples if slice_.stop is None else slice_.stop
        step = 1 if slice_.step is None else slice_.step
        return start, stop, step

    @classmethod
    def subset_of(cls, subset: "Subset", list_or_slice: Any) -> "Subset":
        """The subset ``list_or_slice`` (relative to ``subset``) of ``subset``'s container."""
        return cls(subset[list_or_slice], subset.original_num_examples)

    @classmethod
    def empty_subset(cls, original_num_examples: int) -> "Subset":
        """A subset with no example."""
        return cls([], original_num_examples)

    @staticmethod
    def sorted_fancy_indexing(indexable: Any, request: Any) -> Any:
        """``indexable[request]`` read in increasing index order (as h5py needs), in ``request``'s order.

        Examples
        --------
        >>> Subset.sorted_fancy_indexing(np.arange(10) * 2, [5, 0, 5, 2]).tolist()
        [10, 0, 10, 4]
        """
        if len(request) < 2:
            return indexable[request]
        unique, inverse = np.unique(np.asarray(request), return_inverse=True)
        return np.asarray(indexable[unique])[inverse]

    def get_list_representation(self) -> list[int]:
        """Absolute indices as a list."""
        return self.indices().tolist()

    def __add__(self, other: "Subset") -> "Subset":
        if self.original_num_examples != other.original_num_examples:
            raise ValueError(
                f"cannot add subsets of containers of different sizes ({self.original_num_examples} and "
                f"{other.original_num_examples}): they cannot belong to the same dataset"
            )
        if self.is_empty:
            return other
        if not self.is_list and not other.is_list:
            a, b = self._slice, other._slice
            assert a is not None and b is not None
            if a.start <= b.stop and b.start <= a.stop:  # overlapping or touching: one slice
                return Subset(slice(min(a.start, b.start), max(a.stop, b.stop), 1), self.original_num_examples)
        return Subset(np.concatenate([self.indices(), other.indices()]), self.original_num_examples)

    def __getitem__(self, key: Any) -> Any:
        """Translate ``key``, a request within this subset, into a request on the container."""
        n = self.num_examples
        if isinstance(key, numbers.Integral):
            self._list_request_sanity_check([int(key)], n)
            return self.map(int(key))
        if _is_slice(key):
            self._slice_request_sanity_check(key, n)
            if key == slice(None, None, None):
                return self.list_or_slice
            start, stop, step = self.slice_to_numerical_args(key, n)
            if self._list is not None:
                return self._list[start:stop:step].tolist()
            assert self._slice is not None
            return slice(self._slice.start + start, self._slice.start + stop, step)
        indices = _as_index_array(key, "a request")
        self._list_request_sanity_check(indices, n)
        if self._list is not None:
            return self._list[indices].tolist()
        assert self._slice is not None
        return (indices + self._slice.start).tolist()

    def index_within_subset(self, indexable: Any, subset_request: Any, sort_indices: bool = False) -> Any:
        """``indexable`` indexed by ``subset_request`` (a request within this subset).

        Parameters
        ----------
        indexable : indexable
            The container (numpy array, h5py dataset, list, ...).
        subset_request : int, slice or list of int
            Relative to this subset.
        sort_indices : bool
            Read a list request in increasing order and restore the
            requested order afterwards (h5py needs increasing indices).

        Examples
        --------
        >>> Subset([1, 3, 5], 8).index_within_subset(list("abcdefgh"), [2, 0])
        ['f', 'b']
        """
        if isinstance(subset_request, numbers.Integral):
            (request,) = self[[int(subset_request)]]
        else:
            request = self[subset_request]
        if isinstance(request, (numbers.Integral, slice)):
            return indexable[request]
        if sort_indices:
            return self.sorted_fancy_indexing(indexable, request)
        if isinstance(indexable, np.ndarray) or (hasattr(indexable, "shape") and hasattr(indexable, "dtype")):
            return indexable[request]
        return [indexable[i] for i in request]

    @staticmethod
    def _list_request_sanity_check(indices: Any, num_examples: int) -> None:
        array = np.asarray(indices)
        if array.size == 0:
            raise ValueError("a list request cannot be empty (it would return no example)")
        if array.min() < 0:
            raise ValueError(f"a list request cannot hold negative indices (got {array.min()})")
        if array.max() >= num_examples:
            raise ValueError(
                f"a list request needs indices below the {num_examples} examples of the subset, got {array.max()}"
            )

    @staticmethod
    def _slice_request_sanity_check(slice_: slice, num_examples: int) -> None:
        if any(arg is not None and arg < 0 for arg in (slice_.start, slice_.stop, slice_.step)):
            raise ValueError(f"a slice request cannot have a negative start, stop or step, got {slice_}")
        if slice_.stop is not None and slice_.stop > num_examples:
            raise ValueError(f"slice request {slice_} goes past the {num_examples} examples of the subset")
        if slice_.start is not None and slice_.start >= num_examples:
            raise ValueError(f"slice request {slice_} starts at or after the {num_examples} examples of the subset")
        if slice_.start is not None and slice_.stop is not None and slice_.start >= slice_.stop:
            raise ValueError(f"slice request {slice_} selects no examples (start >= stop)")

    # -- fast path (numpy) --------------------------------------------------------------
    @property
    def slice(self) -> "slice | None":
        """The subset as a step-1 slice with numeric bounds (``None`` for lists)."""
        return self._slice

    def indices(self) -> np.ndarray:
        """Absolute indices as an int64 array."""
        if self._list is not None:
            return self._list
        assert self._slice is not None
        return np.arange(self._slice.start, self._slice.stop, dtype=np.int64)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Subset)
            and self.original_num_examples == other.original_num_examples
            and np.array_equal(self.indices(), other.indices())
        )

    __hash__ = None  # type: ignore[assignment]

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
        if isinstance(request, (bool, np.bool_)):
            raise ValueError(f"a request must be an int, a slice or a list of ints, not the boolean {request!r}")
        if isinstance(request, (int, np.integer)):
            if not 0 <= request < n:
                raise ValueError(f"index {int(request)} is out of range; this subset has {n} examples (0..{n - 1})")
            if self._list is not None:
                return int(self._list[request])
            return self._slice.start + int(request)  # type: ignore[union-attr]
        if isinstance(request, slice):
            start, stop, step = request.indices(n)
            if request.stop is not None and request.stop > n:
                raise ValueError(f"slice {request} is out of range; this subset has {n} examples")
            if stop <= start or step < 1:
                raise ValueError(f"slice {request} selects no examples of this subset of {n}")
            if self._list is None and step == 1:
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
        return array + self._slice.start if self._slice.start else array  # type: ignore[union-attr]
