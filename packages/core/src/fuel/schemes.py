"""Iteration schemes: which examples, in what order.

A scheme turns an epoch number into a sequence of *requests* (an index, an
array of indices, or a batch size). The order is a function of ``(seed,
epoch)`` only, so a checkpoint needs nothing but the seed, the epoch and the
position inside the epoch; :class:`RequestIterator` jumps to any position in
O(1).

As in Fuel, a batch scheme's request iterator yields lists of indices. Streams
take the same requests as numpy index arrays, without a conversion per batch
(``get_request_iterator(..., native=True)``).

Examples
--------
>>> scheme = ShuffledScheme(10, batch_size=4, rng=3)
>>> [len(r) for r in scheme.get_request_iterator(epoch=0)]
[4, 4, 2]
>>> list(SequentialScheme(5, 3).get_request_iterator())
[[0, 1, 2], [3, 4]]
>>> it = scheme.get_request_iterator(epoch=0, position=2)
>>> sorted(next(it) + [i for r in scheme.get_request_iterator(epoch=0) for i in r][:8])
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import bisect
import itertools
import logging
from abc import ABC
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fuel.utils.random import epoch_rng, resolve_seed
from fuel.utils.random_state import EpochPermutations

__all__ = [
    "BatchScheme",
    "BatchSizeScheme",
    "BootstrapScheme",
    "BucketScheme",
    "ConcatenatedScheme",
    "ConstantScheme",
    "IndexScheme",
    "IterationScheme",
    "ListRequestIterator",
    "RequestIterator",
    "SequentialExampleScheme",
    "SequentialScheme",
    "ShardedScheme",
    "ShuffledExampleScheme",
    "ShuffledScheme",
    "cross_validation",
    "implements_fuel_protocol",
    "request_iterator",
]

logger = logging.getLogger(__name__)


def _as_indices(examples: Any, name: str = "examples") -> np.ndarray:
    if isinstance(examples, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number of examples (int >= 0) or a sequence of indices, got {examples!r}")
    if isinstance(examples, (int, np.integer)):
        if examples < 0:
            raise ValueError(f"{name} must be >= 0, got {examples}")
        return np.arange(int(examples), dtype=np.int64)
    if isinstance(examples, range):
        return np.arange(examples.start, examples.stop, examples.step, dtype=np.int64)
    try:
        array = np.asarray(examples)
    except (TypeError, ValueError) as err:  # pragma: no cover - numpy accepts nearly anything
        raise ValueError(f"{name} must be an int or a sequence of indices: {err}") from err
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be an int or a 1-D sequence of integer indices, got {examples!r}")
    return array.astype(np.int64, copy=False)


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


_UNPLANNED = object()


class RequestIterator(Iterator[Any]):
    """The requests of one epoch of a scheme, with O(1) seeking.

    This iterator yields requests in their native form, as streams pass them
    to datasets: numpy index arrays for batch schemes (no copy). The iterator
    of :meth:`IterationScheme.get_request_iterator` yields lists instead, as
    Fuel's did.

    Parameters
    ----------
    scheme : IterationScheme
        The scheme that computes each request.
    epoch : int
        The epoch (the order depends on it and on the scheme's seed).
    position : int
        Index of the next request.

    Examples
    --------
    >>> it = SequentialScheme(5, 2).get_request_iterator(epoch=0, native=True)
    >>> next(it), it.position
    (array([0, 1]), 1)
    >>> it.load_state_dict({"epoch": 0, "position": 2}); next(it)
    array([4])
    """

    __slots__ = ("scheme", "epoch", "position", "_plan", "_length")

    def __init__(self, scheme: "IterationScheme", epoch: int, position: int = 0):
        self.scheme = scheme
        self.epoch = int(epoch)
        # the plan (e.g. a permutation of a million indices) is computed on first use, so that a
        # resume, which replaces a fresh iterator's epoch and position, computes only the saved one
        self._plan: Any = _UNPLANNED
        self._length: int | None = None
        self.position = 0
        if position:
            self.seek(position)

    def _ensure_plan(self) -> None:
        self._plan = self.scheme._plan(self.epoch)
        self._length = self.scheme._length(self._plan)

    def __iter__(self) -> "RequestIterator":
        return self

    def __next__(self) -> Any:
        if self._plan is _UNPLANNED:
            self._ensure_plan()
        position = self.position
        if self._length is not None and position >= self._length:
            raise StopIteration
        request = self.scheme._get(self._plan, position)
        self.position = position + 1
        return request

    def __len__(self) -> int:
        length = self.num_requests
        if length is None:
            raise TypeError("this request iterator is infinite")
        return length

    @property
    def num_requests(self) -> int | None:
        """Requests in this epoch (``None`` when infinite)."""
        if self._plan is _UNPLANNED:
            self._ensure_plan()
        return self._length

    def seek(self, position: int) -> None:
        """Make ``position`` the index of the next request (O(1))."""
        position = int(position)
        length = self.num_requests
        if position < 0 or (length is not None and position > length):
            raise ValueError(f"request position {position} is out of range; valid: 0..{length}")
        self.position = position

    def state_dict(self) -> dict[str, int]:
        """``{"epoch": e, "position": p}``."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Jump to ``state["position"]`` of ``state["epoch"]``."""
        epoch = int(state["epoch"])
        if epoch != self.epoch:
            self.epoch = epoch
            self._plan, self._length = _UNPLANNED, None
        self.seek(int(state["position"]))


class ListRequestIterator(RequestIterator):
    """A :class:`RequestIterator` that yields index lists, as Fuel's request iterators did.

    Examples
    --------
    >>> list(ShuffledScheme(4, 2, rng=0, sorted_indices=True).get_request_iterator(epoch=0))
    [[0, 2], [1, 3]]
    """

    __slots__ = ()

    def __next__(self) -> Any:
        request = RequestIterator.__next__(self)
        if type(request) is np.ndarray:
            return request.tolist()
        return request


class _ReplayedRequests(Iterator[Any]):
    """The requests of a scheme that implements Fuel's ``get_request_iterator()`` itself.

    Such a scheme hands out a new iterator per call and keeps no position, so
    a position inside the epoch is reached by skipping requests (O(position)).
    """

    def __init__(self, scheme: "IterationScheme", epoch: int, position: int = 0):
        self.scheme = scheme
        self.epoch = int(epoch)
        self.position = 0
        self._iterator = iter(scheme.get_request_iterator())
        if position:
            logger.warning(
                "resuming %s at request %d replays the requests of a new iterator from "
                "get_request_iterator() (Fuel's protocol); this is exact only if its requests are the same "
                "in every epoch. Implement _plan/_length/_get for an O(1), seed-and-epoch resume.",
                type(scheme).__name__, int(position),
            )
            for _ in range(int(position)):
                try:
                    next(self._iterator)
                except StopIteration:
                    raise ValueError(
                        f"request position {position} is beyond the end of {type(scheme).__name__}'s epoch"
                    ) from None
            self.position = int(position)

    def __iter__(self) -> "_ReplayedRequests":
        return self

    def __next__(self) -> Any:
        request = next(self._iterator)
        self.position += 1
        return request

    @property
    def num_requests(self) -> int | None:
        """Unknown (the scheme computes its requests as it goes)."""
        return None

    def state_dict(self) -> dict[str, int]:
        """``{"epoch": e, "position": p}``."""
        return {"epoch": self.epoch, "position": self.position}


def implements_fuel_protocol(scheme: "IterationScheme") -> bool:
    """Whether ``scheme`` overrides ``get_request_iterator`` (Fuel's protocol) instead of ``_plan``/``_get``.

    Examples
    --------
    >>> implements_fuel_protocol(SequentialScheme(4, 2))
    False
    """
    return type(scheme).get_request_iterator is not IterationScheme.get_request_iterator


def request_iterator(scheme: "IterationScheme", epoch: int, position: int = 0) -> Any:
    """The requests of ``epoch`` from ``position``, in the native form streams pass to datasets.

    A scheme that implements Fuel's ``get_request_iterator()`` itself is asked
    for a new iterator, and ``position`` is reached by skipping requests.

    Examples
    --------
    >>> next(request_iterator(SequentialScheme(6, 2), epoch=0, position=2))
    array([4, 5])
    """
    if implements_fuel_protocol(scheme):
        return _ReplayedRequests(scheme, epoch, position)
    return RequestIterator(scheme, epoch, position)


class IterationScheme(ABC):
    """Base class of iteration schemes.

    Subclasses compute a per-epoch *plan* (``_plan``), its number of requests
    (``_length``) and the ``i``-th request of a plan (``_get``); the order is
    then a function of ``(seed, epoch)`` and resuming is O(1). A subclass may
    instead implement Fuel's ``get_request_iterator(self)`` (a new iterator
    per call); streams then resume it by skipping requests. The scheme keeps a
    counter of epochs handed out when ``get_request_iterator`` is called
    without an explicit epoch (Fuel's behaviour: each call is a new epoch).

    Attributes
    ----------
    requests_examples : bool
        Whether requests are single examples (``True``) or batches.

    Examples
    --------
    >>> scheme = SequentialExampleScheme(3)
    >>> list(scheme.get_request_iterator())
    [0, 1, 2]
    >>> class Sizes(BatchSizeScheme):          # Fuel's protocol
    ...     def get_request_iterator(self):
    ...         return iter([1, 2])
    >>> list(request_iterator(Sizes(), epoch=0)), Sizes().num_requests
    ([1, 2], None)
    """

    requests_examples: bool = False
    seed: int | None = None

    def __init__(self) -> None:
        self._epoch = 0

    def get_request_iterator(
        self, epoch: int | None = None, position: int = 0, native: bool = False
    ) -> RequestIterator:
        """An iterator over the requests of ``epoch`` starting at ``position``.

        Batch requests are lists of indices, as in Fuel; with ``native=True``
        they are numpy index arrays (what streams pass to datasets).
        """
        if epoch is None:
            epoch = getattr(self, "_epoch", 0)
            self._epoch = epoch + 1
        if native:
            return RequestIterator(self, epoch, position)
        return ListRequestIterator(self, epoch, position)

    @property
    def num_requests(self) -> int | None:
        """Requests per epoch, ``None`` when infinite or unknown."""
        if type(self)._plan is IterationScheme._plan:
            return None
        return self._length(self._plan(0))

    def _plan(self, epoch: int) -> Any:
        """Whatever the requests of ``epoch`` are computed from."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither _plan/_length/_get nor Fuel's get_request_iterator()"
        )

    def _length(self, plan: Any) -> int | None:
        """Number of requests of a plan (``None``: infinite)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _length")

    def _get(self, plan: Any, index: int) -> Any:
        """The ``index``-th request of a plan."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _get")

    def check_worker_safe(self) -> None:
        """Raise ``ValueError`` if another process cannot compute this scheme's epochs (never, here)."""

    def state_dict(self) -> dict[str, Any]:
        """Seed and epoch counter (JSON-able)."""
        return {"seed": self.seed, "epoch": getattr(self, "_epoch", 0)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore seed and epoch counter."""
        if "seed" in state and state["seed"] is not None:
            self.seed = int(state["seed"])
        self._epoch = int(state.get("epoch", 0))


class _SeededScheme(IterationScheme):
    """A scheme whose order is a function of :attr:`seed` and the epoch.

    A subclass that sets ``_draws_from_random_state`` (the shuffled schemes)
    instead draws each epoch's permutation from a ``numpy.random.RandomState``
    given as ``rng``, as Fuel did (:class:`~fuel.utils.random_state.EpochPermutations`).
    """

    _draws_from_random_state = False
    _draws: EpochPermutations | None = None

    def _set_rng(self, rng: Any) -> None:
        if self._draws_from_random_state and isinstance(rng, np.random.RandomState):
            self._draws = EpochPermutations(rng)
            self.seed = None
        else:
            self.seed = resolve_seed(rng)
            self._draws = None

    @property
    def rng(self) -> Any:
        """Fuel's attribute: the ``RandomState`` drawn from, or a new generator seeded with :attr:`seed`.

        Setting it (an int seed, a numpy ``Generator`` or ``RandomState``)
        does what the ``rng`` argument does.
        """
        if self._draws is not None:
            return self._draws.random_state
        return np.random.default_rng(self.seed)

    @rng.setter
    def rng(self, value: Any) -> None:
        self._set_rng(value)

    def _permutation(self, epoch: int, size: int) -> np.ndarray:
        if self._draws is None:
            return epoch_rng(self.seed, epoch).permutation(size)  # type: ignore[arg-type]
        return self._draws.permutation(epoch, size)

    def check_worker_safe(self) -> None:
        """Raise ``ValueError`` if another process cannot compute this scheme's epochs.

        A scheme drawing from a shared ``RandomState`` can: the copy in another
        process would draw on its own, and the checkpoint would not know.
        """
        if self._draws is not None:
            raise ValueError(
                f"{type(self).__name__} draws its epochs from a numpy RandomState (Fuel's rng): a worker process "
                "or a data server would draw from a copy of it, and a checkpoint could not resume that order. "
                "Pass an int seed (rng=1234) to read this stream in another process"
            )

    def state_dict(self) -> dict[str, Any]:
        """Seed and epoch counter; with a ``RandomState``, also its state as of the last epoch's draw.

        The second layout is marked ``"version": 2``.
        """
        state = super().state_dict()
        if self._draws is not None:
            state["version"] = 2
            state["random_state"] = self._draws.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the seed and epoch counter, or the ``RandomState`` and the epoch it last drew.

        The saved state decides: a state with a ``RandomState`` makes this
        scheme draw from one (its own ``rng`` object if it has one) from where
        the saved run stood; a state with a seed makes it use that seed.
        """
        version = state.get("version", 1)
        try:
            int(state.get("epoch", 0))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{type(self).__name__} state has a malformed epoch counter: {err}") from None
        if version not in (1, 2):
            raise ValueError(
                f"{type(self).__name__} state has version {version!r}; this blocks-core reads versions 1 and 2"
            )
        if "random_state" in state:
            if not self._draws_from_random_state:
                raise ValueError(f"{type(self).__name__} does not draw from a RandomState; its state must not either")
            draws = self._draws if self._draws is not None else EpochPermutations(np.random.RandomState())
            draws.load_state_dict(state["random_state"], self._permutation_size())
            if self._draws is None:
                logger.info("%s resumes drawing from a RandomState, as the saved run did", type(self).__name__)
            self._draws, self.seed = draws, None
        elif self._draws is not None and state.get("seed") is not None:
            logger.warning(
                "%s: the saved order came from seed %s, which it keeps using; its RandomState (rng) is no longer "
                "drawn from", type(self).__name__, state["seed"],
            )
            self._draws = None
        super().load_state_dict(state)

    def _permutation_size(self) -> int:
        return int(self.indices.shape[0])  # type: ignore[attr-defined]


class BatchSizeScheme(IterationScheme):
    """Requests are batch sizes (for data that cannot be indexed).

    Examples
    --------
    >>> ConstantScheme(3, num_examples=7).requests_examples
    False
    """

    requests_examples = False


class BatchScheme(IterationScheme):
    """Requests are arrays of example indices.

    Parameters
    ----------
    examples : int or sequence of int
        Number of examples (indices ``0..examples-1``) or the indices themselves.
    batch_size : int
        Examples per request (the last one may be shorter).

    Examples
    --------
    >>> SequentialScheme([4, 5, 6], 2).num_requests
    2
    """

    requests_examples = False

    def __init__(self, examples: Any, batch_size: int):
        super().__init__()
        self.indices = _as_indices(examples)
        self.batch_size = _check_batch_size(batch_size)

    @property
    def num_examples(self) -> int:
        """Number of examples per epoch."""
        return int(self.indices.shape[0])

    def _length(self, plan: Any) -> int:
        return -(-int(plan.shape[0]) // self.batch_size)

    def _get(self, plan: np.ndarray, index: int) -> np.ndarray:
        start = index * self.batch_size
        return plan[start : start + self.batch_size]

    @property
    def num_requests(self) -> int:
        """Requests per epoch."""
        return -(-self.num_examples // self.batch_size)


class IndexScheme(IterationScheme):
    """Requests are single example indices.

    Parameters
    ----------
    examples : int or sequence of int
        Number of examples or the indices themselves.

    Examples
    --------
    >>> list(SequentialExampleScheme([3, 1]).get_request_iterator())
    [3, 1]
    """

    requests_examples = True

    def __init__(self, examples: Any):
        super().__init__()
        self.indices = _as_indices(examples)

    @property
    def num_examples(self) -> int:
        """Number of examples per epoch."""
        return int(self.indices.shape[0])

    def _length(self, plan: Any) -> int:
        return int(plan.shape[0])

    def _get(self, plan: np.ndarray, index: int) -> int:
        return int(plan[index])

    @property
    def num_requests(self) -> int:
        """Requests per epoch."""
        return self.num_examples


class ConstantScheme(BatchSizeScheme):
    """The same batch size again and again.

    Parameters
    ----------
    batch_size : int
        The request.
    num_examples : int, optional
        Stop after this many examples (the last request is the remainder).
    times : int, optional
        Stop after this many requests. Infinite when neither is given.

    Examples
    --------
    >>> list(ConstantScheme(3, num_examples=7).get_request_iterator())
    [3, 3, 1]
    >>> list(ConstantScheme(2, times=2).get_request_iterator())
    [2, 2]
    """

    def __init__(self, batch_size: int, num_examples: int | None = None, times: int | None = None):
        super().__init__()
        self.batch_size = _check_batch_size(batch_size)
        if num_examples is not None and times is not None:
            raise ValueError("ConstantScheme takes num_examples or times, not both")
        for name, value in (("num_examples", num_examples), ("times", times)):
            if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")
        self.num_examples = num_examples
        self.times = times

    def _plan(self, epoch: int) -> None:
        return None

    def _length(self, plan: Any) -> int | None:
        if self.num_examples is not None:
            return -(-int(self.num_examples) // self.batch_size)
        if self.times is not None:
            return int(self.times)
        return None

    def _get(self, plan: Any, index: int) -> int:
        if self.num_examples is not None:
            return min(self.batch_size, int(self.num_examples) - index * self.batch_size)
        return self.batch_size


class SequentialScheme(BatchScheme):
    """Consecutive batches of indices, in order.

    Examples
    --------
    >>> list(SequentialScheme(5, 2).get_request_iterator())
    [[0, 1], [2, 3], [4]]
    """

    def _plan(self, epoch: int) -> np.ndarray:
        return self.indices


class ShuffledScheme(BatchScheme, _SeededScheme):
    """Batches of a fresh permutation every epoch.

    Parameters
    ----------
    examples : int or sequence of int
        Number of examples or the indices.
    batch_size : int
        Examples per batch.
    rng : int, numpy Generator/RandomState or None
        An int (or ``None``: ``fuel.config.default_seed``) is a seed: the
        order of epoch *e* is a function of ``(seed, e)``; a numpy
        ``Generator`` is asked for one seed. A ``numpy.random.RandomState``
        is drawn from as in Fuel: each epoch's permutation is drawn from it
        when the epoch's first request is read (one draw per epoch number;
        iterators of the same epoch share it), and the scheme's
        ``state_dict`` records where the generator stood, so a checkpoint
        resumes the same order. Such a scheme cannot be read in another
        process (``MultiProcessing``, ``DataLoader`` workers, a data server).
    sorted_indices : bool
        Sort the indices inside each batch (faster out-of-core reads).

    Examples
    --------
    >>> s = ShuffledScheme(6, 3, rng=0, sorted_indices=True)
    >>> all((np.diff(r) > 0).all() for r in s.get_request_iterator(epoch=1))
    True
    >>> order = list(range(7)); np.random.RandomState(3).shuffle(order)
    >>> list(ShuffledScheme(7, 3, rng=np.random.RandomState(3)).get_request_iterator()) == [
    ...     order[:3], order[3:6], order[6:]]
    True
    """

    _draws_from_random_state = True

    def __init__(self, examples: Any, batch_size: int, rng: Any = None, sorted_indices: bool = False):
        super().__init__(examples, batch_size)
        self._set_rng(rng)
        self.sorted_indices = bool(sorted_indices)

    def _plan(self, epoch: int) -> np.ndarray:
        order = self.indices[self._permutation(epoch, self.indices.shape[0])]
        if self.sorted_indices:
            order = _sort_within_batches(order, self.batch_size)
        return order


def _sort_within_batches(order: np.ndarray, batch_size: int) -> np.ndarray:
    full = (order.shape[0] // batch_size) * batch_size
    head = np.sort(order[:full].reshape(-1, batch_size), axis=1).reshape(-1)
    tail = np.sort(order[full:])
    return np.concatenate([head, tail])


class SequentialExampleScheme(IndexScheme):
    """Single examples, in order.

    Examples
    --------
    >>> list(SequentialExampleScheme(3).get_request_iterator())
    [0, 1, 2]
    """

    def _plan(self, epoch: int) -> np.ndarray:
        return self.indices


class ShuffledExampleScheme(IndexScheme, _SeededScheme):
    """Single examples of a fresh permutation every epoch.

    Parameters
    ----------
    examples : int or sequence of int
        Number of examples or the indices.
    rng : int, numpy Generator/RandomState or None
        A seed, or a ``RandomState`` drawn from as in Fuel (see
        :class:`ShuffledScheme`); default ``fuel.config.default_seed``.

    Examples
    --------
    >>> sorted(ShuffledExampleScheme(4, rng=1).get_request_iterator())
    [0, 1, 2, 3]
    """

    _draws_from_random_state = True

    def __init__(self, examples: Any, rng: Any = None):
        super().__init__(examples)
        self._set_rng(rng)

    def _plan(self, epoch: int) -> np.ndarray:
        return self.indices[self._permutation(epoch, self.indices.shape[0])]


class BootstrapScheme(BatchScheme, _SeededScheme):
    """Batches sampled uniformly *with replacement* (bootstrap resampling).

    Parameters
    ----------
    examples : int or sequence of int
        Number of examples or the indices to sample from.
    batch_size : int
        Examples per batch.
    num_samples : int, optional
        Samples drawn per epoch (default: as many as there are examples).
    rng : int, numpy Generator/RandomState or None
        The seed; default ``fuel.config.default_seed``.
    sorted_indices : bool
        Sort indices inside each batch.
    weights : sequence of float, optional
        Sampling probabilities (normalised), one per example.

    Examples
    --------
    >>> s = BootstrapScheme(5, batch_size=4, num_samples=8, rng=2)
    >>> [len(r) for r in s.get_request_iterator(epoch=0)]
    [4, 4]
    """

    def __init__(
        self,
        examples: Any,
        batch_size: int,
        num_samples: int | None = None,
        rng: Any = None,
        sorted_indices: bool = False,
        weights: Sequence[float] | None = None,
    ):
        super().__init__(examples, batch_size)
        if self.indices.shape[0] == 0:
            raise ValueError("BootstrapScheme needs at least one example to sample from")
        if num_samples is None:
            num_samples = self.indices.shape[0]
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
            raise ValueError(f"num_samples must be a non-negative int, got {num_samples!r}")
        self.num_samples = int(num_samples)
        self.seed = resolve_seed(rng)
        self.sorted_indices = bool(sorted_indices)
        if weights is not None:
            probabilities = np.asarray(weights, dtype=np.float64)
            if probabilities.shape != self.indices.shape or (probabilities < 0).any() or probabilities.sum() <= 0:
                raise ValueError(
                    f"weights must be {self.indices.shape[0]} non-negative numbers with a positive sum"
                )
            self.weights: np.ndarray | None = probabilities / probabilities.sum()
        else:
            self.weights = None

    @property
    def num_examples(self) -> int:
        """Samples per epoch."""
        return self.num_samples

    def _plan(self, epoch: int) -> np.ndarray:
        rng = epoch_rng(self.seed, epoch)
        choice = rng.choice(self.indices.shape[0], size=self.num_samples, replace=True, p=self.weights)
        order = self.indices[choice]
        if self.sorted_indices:
            order = _sort_within_batches(order, self.batch_size)
        return order


class BucketScheme(BatchScheme, _SeededScheme):
    """Batches of examples of similar length (bucketing by sequence length).

    Examples are put in buckets by length; each epoch every bucket is shuffled
    and cut into batches, and the batches of all buckets are shuffled together.
    Every example appears exactly once per epoch.

    Parameters
    ----------
    lengths : sequence of int
        Length of every example (index ``i`` has length ``lengths[i]``).
    batch_size : int
        Examples per batch.
    bucket_boundaries : sequence of int, optional
        Increasing upper bounds (exclusive) of the buckets; a last bucket holds
        the longer examples. Default: ``num_buckets`` quantiles of ``lengths``.
    num_buckets : int
        Number of quantile buckets when no boundaries are given.
    rng : int, numpy Generator/RandomState or None
        The seed; default ``fuel.config.default_seed``.
    shuffle : bool
        Shuffle inside buckets and the batch order (``False``: sorted by length).

    Examples
    --------
    >>> s = BucketScheme([1, 9, 2, 8, 1, 9], batch_size=2, bucket_boundaries=[5], shuffle=False)
    >>> list(s.get_request_iterator(epoch=0))
    [[0, 4], [2], [1, 3], [5]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        bucket_boundaries: Sequence[int] | None = None,
        num_buckets: int = 10,
        rng: Any = None,
        shuffle: bool = True,
    ):
        lengths_array = np.asarray(lengths)
        if lengths_array.ndim != 1:
            raise ValueError("lengths must be a 1-D sequence with one length per example")
        super().__init__(lengths_array.shape[0], batch_size)
        self.lengths = lengths_array
        if bucket_boundaries is None:
            if num_buckets < 1:
                raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
            cuts = np.linspace(0, 1, num_buckets + 1)[1:-1]
            quantiles = np.quantile(lengths_array, cuts) if lengths_array.size else []
            boundaries = np.unique(np.asarray(quantiles, dtype=np.float64))
        else:
            boundaries = np.asarray(bucket_boundaries, dtype=np.float64)
            if boundaries.ndim != 1 or (np.diff(boundaries) <= 0).any():
                raise ValueError(f"bucket_boundaries must be strictly increasing, got {list(bucket_boundaries)}")
        self.bucket_boundaries = boundaries
        bucket_of = np.searchsorted(boundaries, lengths_array, side="right")
        order = np.argsort(lengths_array, kind="stable")
        self.buckets = [order[bucket_of[order] == b] for b in range(len(boundaries) + 1)]
        self.buckets = [b for b in self.buckets if b.size]
        self.seed = resolve_seed(rng)
        self.shuffle = bool(shuffle)
        self._num_batches = sum(-(-b.size // self.batch_size) for b in self.buckets)

    def _plan(self, epoch: int) -> list[np.ndarray]:
        rng = epoch_rng(self.seed, epoch)
        batches: list[np.ndarray] = []
        for bucket in self.buckets:
            members = rng.permutation(bucket) if self.shuffle else bucket
            batches.extend(np.sort(members[i : i + self.batch_size]) for i in range(0, members.size, self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _length(self, plan: Any) -> int:
        return len(plan)

    def _get(self, plan: list[np.ndarray], index: int) -> np.ndarray:
        return plan[index]

    @property
    def num_requests(self) -> int:
        """Batches per epoch."""
        return self._num_batches


class ConcatenatedScheme(IterationScheme):
    """The requests of several schemes, one after the other.

    Parameters
    ----------
    schemes : sequence of IterationScheme
        Schemes with the same request type; all but the last must be finite.

    Examples
    --------
    >>> s = ConcatenatedScheme([SequentialExampleScheme(2), SequentialExampleScheme([7])])
    >>> list(s.get_request_iterator())
    [0, 1, 7]
    """

    def __init__(self, schemes: Sequence[IterationScheme]):
        super().__init__()
        self.schemes = list(schemes)
        if not self.schemes:
            raise ValueError("ConcatenatedScheme needs at least one scheme")
        kinds = {s.requests_examples for s in self.schemes}
        if len(kinds) != 1:
            raise ValueError("all schemes of a ConcatenatedScheme must request examples, or all batches")
        self.requests_examples = kinds.pop()

    def _plan(self, epoch: int) -> tuple[list[Any], list[int], int | None]:
        plans = [s._plan(epoch) for s in self.schemes]
        lengths = [s._length(p) for s, p in zip(self.schemes, plans)]
        if any(n is None for n in lengths[:-1]):
            raise ValueError("only the last scheme of a ConcatenatedScheme may be infinite")
        starts = [0, *itertools.accumulate(lengths[:-1])]  # type: ignore[arg-type]
        total = None if lengths[-1] is None else starts[-1] + lengths[-1]
        return plans, starts, total

    def _length(self, plan: Any) -> int | None:
        return plan[2]

    @property
    def num_requests(self) -> int | None:
        """The sum of the schemes' requests (``None`` if one is infinite)."""
        counts = [s.num_requests for s in self.schemes]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[arg-type]

    def _get(self, plan: Any, index: int) -> Any:
        plans, starts, _ = plan
        which = bisect.bisect_right(starts, index) - 1
        return self.schemes[which]._get(plans[which], index - starts[which])

    def state_dict(self) -> dict[str, Any]:
        """Epoch counter and every sub-scheme's state."""
        return {"epoch": self._epoch, "schemes": [s.state_dict() for s in self.schemes]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch counter and the sub-schemes."""
        self._epoch = int(state.get("epoch", 0))
        for scheme, sub in zip(self.schemes, state.get("schemes", [])):
            scheme.load_state_dict(sub)


class ShardedScheme(IterationScheme):
    """One shard of every request of a batch scheme (data parallelism).

    Every request of ``scheme`` is split into ``num_shards`` contiguous,
    near-equal parts and part ``shard`` is yielded, so the global order (and a
    checkpoint position, the global request index) does not depend on the
    number of workers.

    Parameters
    ----------
    scheme : IterationScheme
        A batch scheme (index arrays) or a batch-size scheme.
    num_shards : int
        Number of workers/ranks.
    shard : int
        This worker's part, ``0 <= shard < num_shards``.

    Examples
    --------
    >>> base = SequentialScheme(10, 5)
    >>> list(ShardedScheme(base, 2, 1).get_request_iterator())
    [[3, 4], [8, 9]]
    """

    def __init__(self, scheme: IterationScheme, num_shards: int, shard: int):
        super().__init__()
        if scheme.requests_examples:
            raise ValueError("ShardedScheme splits batch requests; got an example scheme (use a batch scheme)")
        if not isinstance(num_shards, (int, np.integer)) or num_shards < 1:
            raise ValueError(f"num_shards must be a positive int, got {num_shards!r}")
        if not isinstance(shard, (int, np.integer)) or not 0 <= shard < num_shards:
            raise ValueError(f"shard must be an int in 0..{num_shards - 1}, got {shard!r}")
        self.scheme = scheme
        self.num_shards = int(num_shards)
        self.shard = int(shard)
        self.requests_examples = False

    @property
    def seed(self) -> int | None:  # type: ignore[override]
        """The wrapped scheme's seed."""
        return self.scheme.seed

    def _plan(self, epoch: int) -> Any:
        return self.scheme._plan(epoch)

    def _length(self, plan: Any) -> int | None:
        return self.scheme._length(plan)

    def _get(self, plan: Any, index: int) -> Any:
        request = self.scheme._get(plan, index)
        size = request if isinstance(request, (int, np.integer)) else len(request)
        quotient, remainder = divmod(int(size), self.num_shards)
        start = self.shard * quotient + min(self.shard, remainder)
        stop = start + quotient + (1 if self.shard < remainder else 0)
        if isinstance(request, (int, np.integer)):
            return stop - start
        return request[start:stop]

    @property
    def num_requests(self) -> int | None:
        """Requests per epoch (the same as the wrapped scheme's)."""
        return self.scheme.num_requests

    def state_dict(self) -> dict[str, Any]:
        """Epoch counter and the wrapped scheme's state."""
        return {"epoch": self._epoch, "scheme": self.scheme.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch counter and the wrapped scheme."""
        self._epoch = int(state.get("epoch", 0))
        if "scheme" in state:
            self.scheme.load_state_dict(state["scheme"])


def cross_validation(
    scheme_class: type[IterationScheme], num_examples: int, num_folds: int, strict: bool = True, **kwargs: Any
) -> Iterator[tuple[Any, ...]]:
    """Schemes for ``num_folds``-fold cross-validation (as in Fuel).

    Parameters
    ----------
    scheme_class : type
        A scheme taking ``examples`` as first argument.
    num_examples : int
        Total number of examples.
    num_folds : int
        Number of folds.
    strict : bool
        Require ``num_examples`` divisible by ``num_folds``; when ``False``
        each fold also yields the validation size.
    **kwargs
        Passed to ``scheme_class``.

    Yields
    ------
    tuple
        ``(train_scheme, valid_scheme)`` or, if not strict,
        ``(train_scheme, valid_scheme, valid_size)``.

    Examples
    --------
    >>> folds = list(cross_validation(SequentialExampleScheme, 4, 2))
    >>> [list(v.get_request_iterator()) for _, v in folds]
    [[0, 1], [2, 3]]
    """
    if num_folds < 1 or num_folds > max(num_examples, 1):
        raise ValueError(f"num_folds must be in 1..{num_examples}, got {num_folds}")
    if strict and num_examples % num_folds != 0:
        raise ValueError(
            f"{num_examples} examples are not divisible into {num_folds} folds; pass strict=False to allow "
            "folds of unequal size"
        )
    for fold in range(num_folds):
        begin = num_examples * fold // num_folds
        end = num_examples * (fold + 1) // num_folds
        train = scheme_class(list(itertools.chain(range(0, begin), range(end, num_examples))), **kwargs)
        valid = scheme_class(list(range(begin, end)), **kwargs)
        if strict:
            yield train, valid
        else:
            yield train, valid, end - begin

