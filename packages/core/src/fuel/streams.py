"""Data streams: a dataset paired with an iteration scheme.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import ShuffledScheme
>>> ds = IndexableDataset({"features": np.arange(8), "targets": np.arange(8) % 2})
>>> stream = DataStream(ds, iteration_scheme=ShuffledScheme(8, 4, rng=0))
>>> stream.num_requests, [len(b[0]) for b in stream.get_epoch_iterator()]
(2, [4, 4])

Exact resume (the protocol the main loop uses)::

    state = {"stream": stream.state_dict(), "iterator": it.state_dict()}
    stream.load_state_dict(state["stream"])
    it = stream.get_epoch_iterator(as_dict=True)
    it.load_state_dict(state["iterator"])

Fuel's own protocol — a stream or transformer that implements
``get_data(request)`` (and maybe ``get_epoch_iterator``) and keeps its
iteration state in itself — works too; see :class:`AbstractDataStream`.
"""

from __future__ import annotations

import functools
import importlib
import logging
from abc import ABC
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fuel.iterator import Cursor, DataIterator

if TYPE_CHECKING:  # pragma: no cover
    from fuel.datasets.base import Dataset
    from fuel.schemes import IterationScheme

__all__ = ["AbstractDataStream", "DataStream", "fuel_native"]

logger = logging.getLogger(__name__)


def fuel_native(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ``get_data``/``get_epoch_iterator`` as this package's own (not a Fuel-protocol override).

    A stream class whose ``get_data`` or ``get_epoch_iterator`` is not marked
    implements Fuel's protocol and is iterated through it (see
    :class:`AbstractDataStream`).

    Examples
    --------
    >>> fuel_native(lambda self: None)._fuel_native
    True
    """
    function._fuel_native = True  # type: ignore[attr-defined]
    return function


# live objects of the epoch being read through Fuel's protocol: never pickled with the stream
_TRANSIENT = (
    "_fuel_active", "_fuel_latest", "_fuel_building", "_fuel_built", "_fuel_last_epoch", "child_epoch_iterator"
)


def _overrides(cls: type, name: str) -> bool:
    return not getattr(getattr(cls, name, None), "_fuel_native", False)


def _wrap_epoch_iterator(method: Callable[..., Any]) -> Callable[..., Any]:
    """Make a Fuel-protocol ``get_epoch_iterator`` return an epoch iterator with ``state_dict`` (resumable).

    Fuel's own code returned any iterator (e.g. a ``filter`` over
    ``child_epoch_iterator``); the main loop needs ``state_dict`` and
    ``as_dict``. Such a result is wrapped; the epoch resumes by replay.
    """

    @functools.wraps(method)
    def get_epoch_iterator(self: "AbstractDataStream", *args: Any, **kwargs: Any) -> Any:
        state = self.__dict__
        if "_fuel_building" in state:  # open_cursor takes the raw result
            return method(self, *args, **kwargs)
        state.pop("_fuel_last_epoch", None)
        result = method(self, *args, **kwargs)
        if isinstance(result, DataIterator) or hasattr(result, "state_dict") or not hasattr(result, "__iter__"):
            return result  # already resumable its own way, or not an iterator at all
        epoch = state.pop("_fuel_last_epoch", None)
        if epoch is None:  # the method did not call super().get_epoch_iterator(): a new epoch all the same
            epoch = self._epochs_started
            self._epochs_started = epoch + 1
            inner = None
        else:
            inner = state.get("_fuel_active")
        as_dict = kwargs.get("as_dict", args[0] if args else False)
        return DataIterator(self, _IteratorCursor(result, inner, epoch), as_dict=as_dict)

    return get_epoch_iterator


def _strip_batch(labels: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Fuel's example-stream labels: every ``'batch'`` axis removed."""
    if labels is None:
        return None
    return {k: (tuple(a for a in v if a != "batch") if v is not None else None) for k, v in labels.items()}


class AbstractDataStream(ABC):
    """Base class of streams (datasets with schemes, transformers, remote streams).

    Parameters
    ----------
    iteration_scheme : IterationScheme, optional
        Which requests to make each epoch.
    axis_labels : dict, optional
        ``{source: tuple of axis names}``; default: derived from the wrapped
        dataset or stream when first asked for (never earlier).
    produces_examples : bool, optional
        Whether the stream yields single examples; given by the scheme when
        there is one.

    Notes
    -----
    A stream produces each epoch through a *cursor* (:meth:`open_cursor`)
    that lives in the epoch iterator, so two iterators never interfere and
    resuming is O(1). A subclass written for Fuel instead implements
    ``get_data(request=None)`` (called with each request of its scheme, or
    without one) and perhaps ``get_epoch_iterator`` (its epoch-start code,
    returning ``super().get_epoch_iterator(**kwargs)`` or an iterator of its
    own), keeping its iteration state in the stream object. Such a stream is
    *sequential* (:attr:`sequential`): it runs in the process that iterates
    it; its newest epoch iterator is the only usable one (an older one raises
    ``RuntimeError``, never reads the newer one's data); and resuming
    mid-epoch re-runs its epoch-start code and replays the epoch from its
    start (O(position), exact when ``get_data`` depends only on what it
    reads). ``MultiProcessing`` runs such a stream in its one worker just
    the same; the data server serves it to one client at a time.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> s = DataStream(IndexableDataset({"x": [1, 2, 3]}))
    >>> s.produces_examples, s.sources, [d for d, in s.get_epoch_iterator()]
    (True, ('x',), [1, 2, 3])
    >>> class Countdown(AbstractDataStream):       # Fuel's protocol
    ...     sources = ("n",)
    ...     def get_epoch_iterator(self, **kwargs):
    ...         self.left = 3
    ...         return super().get_epoch_iterator(**kwargs)
    ...     def get_data(self, request=None):
    ...         if not self.left:
    ...             raise StopIteration
    ...         self.left -= 1
    ...         return (self.left,)
    >>> stream = Countdown(produces_examples=True)
    >>> list(stream.get_epoch_iterator()), stream.sequential
    ([(2,), (1,), (0,)], True)
    """

    iteration_scheme: "IterationScheme | None" = None
    _epochs_started: int = 0
    _fuel_protocol: bool = False
    _fuel_epoch_override: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fuel_epoch_override = _overrides(cls, "get_epoch_iterator")
        cls._fuel_protocol = cls._fuel_epoch_override or _overrides(cls, "get_data")
        own = cls.__dict__.get("get_epoch_iterator")
        if own is not None and not getattr(own, "_fuel_native", False):
            cls.get_epoch_iterator = _wrap_epoch_iterator(own)  # type: ignore[method-assign]

    def __init__(
        self,
        iteration_scheme: "IterationScheme | None" = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        produces_examples: bool | None = None,
    ):
        self.iteration_scheme = iteration_scheme
        if axis_labels is not None:
            self._axis_labels = dict(axis_labels)
        if produces_examples is not None:
            produces_examples = bool(produces_examples)
            if iteration_scheme is not None and produces_examples != iteration_scheme.requests_examples:
                raise ValueError(
                    f"produces_examples={produces_examples} contradicts the iteration scheme "
                    f"{type(iteration_scheme).__name__}, which requests "
                    f"{'examples' if iteration_scheme.requests_examples else 'batches'}"
                )
            self._produces_examples = produces_examples
        self._epochs_started = 0

    # -- Fuel's attributes -------------------------------------------------------------
    @property
    def produces_examples(self) -> bool:
        """Whether the stream yields examples (``True``) or batches; given by the scheme if there is one."""
        scheme = self.iteration_scheme
        if scheme is not None:
            return bool(scheme.requests_examples)
        value = self.__dict__.get("_produces_examples")
        if value is None:
            raise ValueError(
                f"cannot infer whether this {type(self).__name__} produces examples or batches: it has no "
                "iteration scheme; set its produces_examples attribute to True (examples) or False (batches)"
            )
        return value

    @produces_examples.setter
    def produces_examples(self, value: bool) -> None:
        if self.iteration_scheme is not None:
            raise ValueError(
                f"cannot set produces_examples of this {type(self).__name__}: its iteration scheme "
                f"{type(self.iteration_scheme).__name__} determines it"
            )
        self._produces_examples = bool(value)

    @property
    def sources(self) -> tuple[str, ...]:
        """Names of the data in every tuple this stream yields (settable, as in Fuel)."""
        sources = self.__dict__.get("_sources")
        return sources if sources is not None else self._source_names()

    @sources.setter
    def sources(self, value: Any) -> None:
        if isinstance(value, str):
            raise ValueError(f"sources must be a sequence of names, not the string {value!r}")
        self._sources = tuple(value)

    def _source_names(self) -> tuple[str, ...]:
        raise AttributeError(
            f"{type(self).__name__} has no sources: set stream.sources = (...) or define a sources property"
        )

    @property
    def axis_labels(self) -> dict[str, Any] | None:
        """``{source: tuple of axis names}`` or ``None``; derived when first asked for, then kept (settable)."""
        state = self.__dict__
        if "_axis_labels" not in state:
            state["_axis_labels"] = self._infer_axis_labels()
        return state["_axis_labels"]

    @axis_labels.setter
    def axis_labels(self, value: Mapping[str, Any] | None) -> None:
        self.__dict__["_axis_labels"] = value

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        """The labels when none were given (read from the wrapped data only when asked for)."""
        return None

    @property
    def sequential(self) -> bool:
        """Whether iteration state lives in the stream objects (Fuel's protocol) rather than in cursors.

        A sequential stream runs in order in one process; a pool of workers
        that splits batches between processes must not split it.
        """
        if self._fuel_protocol:
            return True
        scheme = self.iteration_scheme
        if scheme is not None:
            from fuel.schemes import implements_fuel_protocol

            return implements_fuel_protocol(scheme)
        return False

    @property
    def seekable(self) -> bool:
        """Whether this stream's cursors can :meth:`~fuel.iterator.Cursor.seek` to any item of an epoch in O(1).

        A pool of workers (``MultiProcessing(..., workers=N)``) needs it:
        each worker computes every ``N``-th item. A dataset with a scheme is
        seekable; so is a one-to-one transformer of a seekable stream.
        """
        return False

    @property
    def num_requests(self) -> int | None:
        """Batches (or examples) per epoch, ``None`` when unknown."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        return None

    @property
    def epoch(self) -> int:
        """Number of epoch iterators started so far (the next epoch's index)."""
        return self._epochs_started

    # -- cursors ---------------------------------------------------------------------
    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """The live state of ``epoch``, at the position ``state`` describes (start if ``None``).

        The default runs Fuel's protocol (:meth:`get_data` per request).
        """
        return self._open_fuel_cursor(epoch, state)

    @fuel_native
    def get_data(self, request: Any = None) -> tuple[Any, ...]:
        """Fuel's protocol: the data of one request (streams that implement it override this)."""
        if request is not None and self.iteration_scheme is None:
            raise ValueError(f"{type(self).__name__} has no iteration scheme and takes no request, got {request!r}")
        raise NotImplementedError(
            f"{type(self).__name__} implements neither open_cursor nor Fuel's get_data(request)"
        )

    @fuel_native
    def get_epoch_iterator(self, as_dict: bool = False) -> DataIterator:
        """An iterator over the next epoch."""
        building = self.__dict__.get("_fuel_building")
        if building is not None:
            # reached from open_cursor through a subclass's own get_epoch_iterator (Fuel's protocol)
            cursor = self._new_fuel_cursor(building)
            iterator = _FuelEpochIterator(self, cursor, as_dict=False)
            self.__dict__["_fuel_built"] = iterator
            return iterator
        epoch = self._epochs_started
        self._epochs_started = epoch + 1
        if self._fuel_epoch_override:
            # reached through the subclass's own get_epoch_iterator, whose epoch-start code has run
            self.__dict__["_fuel_last_epoch"] = epoch
            return _FuelEpochIterator(self, self._new_fuel_cursor(epoch), as_dict=as_dict)
        return DataIterator(self, self.open_cursor(epoch, None), as_dict=as_dict)

    def iterate_epochs(self, as_dict: bool = False) -> Iterator[DataIterator]:
        """Epoch iterators, forever."""
        while True:
            yield self.get_epoch_iterator(as_dict=as_dict)

    def reset(self) -> None:
        """Start over from epoch 0 (Fuel compatibility)."""
        self._epochs_started = 0

    def next_epoch(self) -> None:
        """Skip to the next epoch (Fuel compatibility)."""
        self._epochs_started += 1

    def close(self) -> None:
        """Release resources held by the stream itself."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in _TRANSIENT:
            state.pop(key, None)
        return state

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": next epoch to start, "scheme": ...}`` (see the resume protocol)."""
        state: dict[str, Any] = {"epoch": self._epochs_started}
        if self.iteration_scheme is not None:
            state["scheme"] = self.iteration_scheme.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch counter (and the scheme's seed)."""
        if not isinstance(state, Mapping) or "epoch" not in state:
            raise ValueError(f"not a stream state (expected a dict with key 'epoch'), got {state!r:.200}")
        self._epochs_started = int(state["epoch"])
        if self.iteration_scheme is not None and "scheme" in state:
            self.iteration_scheme.load_state_dict(state["scheme"])

    # -- Fuel's protocol ---------------------------------------------------------------
    def _new_fuel_cursor(self, epoch: int) -> Cursor:
        """A cursor that calls :meth:`get_data` with each request of ``epoch`` (this stream's state)."""
        requests = None
        if self.iteration_scheme is not None:
            from fuel.schemes import request_iterator

            requests = request_iterator(self.iteration_scheme, epoch)
        cursor = _FuelCursor(self, epoch, requests)
        self.__dict__["_fuel_active"] = cursor
        return cursor

    def _open_fuel_cursor(self, epoch: int, state: dict[str, Any] | None) -> Cursor:
        """Open ``epoch`` through Fuel's protocol: epoch-start code first, then replay up to ``state``."""
        position = int(state.get("position", 0)) if state else 0
        if self._fuel_epoch_override:
            self.__dict__["_fuel_building"] = epoch
            self.__dict__["_fuel_built"] = None
            try:
                result = self.get_epoch_iterator()
            finally:
                built = self.__dict__.pop("_fuel_built", None)
                self.__dict__.pop("_fuel_building", None)
            if built is not None and result is built:
                cursor: Cursor = built.cursor
            else:
                cursor = _IteratorCursor(result, built.cursor if built is not None else None, epoch)
        else:
            cursor = self._new_fuel_cursor(epoch)
        if position:
            logger.warning(
                "resuming %s (Fuel's get_data protocol: its state lives in the stream) replays epoch %d "
                "from its start to position %d; implement open_cursor (or, for a transformer, "
                "transform_example/transform_batch or get_data_from) for an O(1) resume",
                type(self).__name__, epoch, position,
            )
            for _ in range(position):
                try:
                    cursor.next()
                except StopIteration:
                    cursor.close()
                    raise ValueError(
                        f"cannot resume {type(self).__name__} at position {position} of epoch {epoch}: "
                        "replaying the epoch ended earlier"
                    ) from None
        return cursor


class _FuelEpochIterator(DataIterator):
    """An epoch iterator of a Fuel-protocol stream (its cursor is shared with the stream's own code).

    Code of the stream's ``get_epoch_iterator`` may drop this iterator and go
    on reading through ``child_epoch_iterator``, so it does not close the
    cursor when collected; the end of the epoch or :meth:`close` does.
    """

    def __del__(self) -> None:
        pass


class _FuelCursor(Cursor):
    """Runs a stream's ``get_data`` (Fuel's protocol) with each request of one epoch."""

    __slots__ = ("stream", "epoch", "position", "requests")

    def __init__(self, stream: AbstractDataStream, epoch: int, requests: Any):
        self.stream = stream
        self.epoch = epoch
        self.position = 0
        self.requests = requests

    def next(self) -> tuple[Any, ...]:
        stream = self.stream
        if stream.__dict__.get("_fuel_active") is not self:
            raise superseded_error(stream)
        requests = self.requests
        data = stream.get_data() if requests is None else stream.get_data(next(requests))
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}


class _IteratorCursor(Cursor):
    """The iterator a Fuel-protocol ``get_epoch_iterator`` returned, as a cursor."""

    __slots__ = ("iterator", "inner", "epoch", "position")

    def __init__(self, iterator: Any, inner: Cursor | None, epoch: int):
        self.iterator = iter(iterator)
        self.inner = inner
        self.epoch = epoch
        self.position = 0

    def next(self) -> tuple[Any, ...]:
        data = next(self.iterator)
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


def superseded_error(stream: AbstractDataStream) -> RuntimeError:
    """The error of an epoch iterator that a newer one of the same Fuel-protocol stream replaced."""
    return RuntimeError(
        f"this epoch iterator of {type(stream).__name__} was superseded by a newer one: "
        f"{type(stream).__name__} keeps its iteration state in the stream object (Fuel's get_data protocol), "
        "so only its newest epoch iterator can be read; use one iterator at a time, or implement "
        "open_cursor / get_data_from so that each iterator has its own state"
    )


class _SchemeCursor(Cursor):
    __slots__ = ("dataset", "data_state", "requests", "epoch", "owns_state")

    def __init__(self, dataset: "Dataset", data_state: Any, requests: Any, owns_state: bool = True):
        self.dataset = dataset
        self.data_state = data_state
        self.requests = requests
        self.epoch = requests.epoch
        self.owns_state = owns_state

    def next(self) -> tuple[Any, ...]:
        return self.dataset.get_data(self.data_state, next(self.requests))

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.requests.position}

    def seek(self, position: int) -> None:
        requests = self.requests
        if not self.owns_state or not hasattr(requests, "seek"):
            super().seek(position)
        length = requests.num_requests
        requests.seek(min(int(position), length) if length is not None else int(position))

    def close(self) -> None:
        if self.data_state is not None and self.owns_state:
            state, self.data_state = self.data_state, None
            self.dataset.close(state)


class _IterableCursor(Cursor):
    __slots__ = ("dataset", "data_state", "position", "epoch", "owns_state")

    def __init__(self, dataset: "Dataset", data_state: Any, epoch: int, position: int, owns_state: bool = True):
        self.dataset = dataset
        self.data_state = data_state
        self.epoch = epoch
        self.position = 0
        self.owns_state = owns_state
        if position:
            skip = getattr(dataset, "skip", None) if owns_state else None
            if skip is not None:
                skip(data_state, position)
            else:
                for _ in range(position):
                    dataset.get_data(data_state)
            self.position = position

    def next(self) -> tuple[Any, ...]:
        data = self.dataset.get_data(self.data_state)
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def close(self) -> None:
        if self.data_state is not None and self.owns_state:
            state, self.data_state = self.data_state, None
            self.dataset.close(state)


def _example_scheme(dataset: "Dataset") -> "IterationScheme | None":
    try:
        return dataset.example_iteration_scheme
    except AttributeError:  # Fuel: a dataset without an example scheme is iterated without requests
        return None


def _has_epoch_state(dataset: "Dataset") -> bool:
    """Whether the dataset's epochs come from its state (``next_epoch``/``reset`` overridden, as Fuel allowed)."""
    from fuel.datasets.base import Dataset

    cls = type(dataset)
    return getattr(cls, "next_epoch", None) is not Dataset.next_epoch or getattr(cls, "reset", None) is not (
        Dataset.reset
    )


class DataStream(AbstractDataStream):
    """A dataset paired with an iteration scheme.

    Parameters
    ----------
    dataset : Dataset
        The data.
    iteration_scheme : IterationScheme, optional
        Requests made each epoch; default the dataset's
        ``example_iteration_scheme``; when it has none the dataset is
        iterated without requests (``IterableDataset``).
    axis_labels : dict, optional
        Default: the dataset's (read when first asked for). Example streams
        drop every ``'batch'`` axis, as in Fuel.

    Notes
    -----
    Each epoch normally opens its own dataset state (``dataset.open()``), so
    resuming is O(1). A dataset that overrides ``next_epoch(state)`` or
    ``reset(state)`` gets its epochs from one state the stream keeps, as in
    Fuel: the stream calls ``next_epoch`` between epochs and ``reset`` on
    :meth:`reset`; resuming then replays its epochs and the requests of the
    current one.

    Examples
    --------
    >>> import numpy as np
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> ds = IndexableDataset({"x": np.zeros((4, 2))}, axis_labels={"x": ("batch", "feature")})
    >>> DataStream(ds, iteration_scheme=SequentialScheme(4, 2)).axis_labels
    {'x': ('batch', 'feature')}
    >>> DataStream(ds, iteration_scheme=ds.example_iteration_scheme).axis_labels
    {'x': ('feature',)}
    """

    def __init__(
        self,
        dataset: "Dataset",
        iteration_scheme: "IterationScheme | None" = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        produces_examples: bool | None = None,
    ):
        if iteration_scheme is None:
            iteration_scheme = _example_scheme(dataset)
        if iteration_scheme is None and produces_examples is None:
            produces_examples = True  # a stream without requests yields examples (Fuel)
        super().__init__(iteration_scheme, None, produces_examples)
        self.dataset = dataset
        if axis_labels is not None:
            self._axis_labels = _strip_batch(axis_labels) if self.produces_examples else dict(axis_labels)
        self._data_state: Any = None
        self._state_epoch: int | None = None
        self._state_used = False
        self._epoch_state = _has_epoch_state(dataset)

    @classmethod
    def default_stream(cls, dataset: "Dataset", **kwargs: Any) -> AbstractDataStream:
        """A stream wrapped in the dataset's ``default_transformers``.

        Examples
        --------
        >>> from fuel.datasets import IndexableDataset
        >>> DataStream.default_stream(IndexableDataset([1])).sources
        ('data',)
        """
        return dataset.apply_default_transformers(cls(dataset, **kwargs))

    def _source_names(self) -> tuple[str, ...]:
        return tuple(self.dataset.sources)

    @AbstractDataStream.sources.setter  # type: ignore[attr-defined]
    def sources(self, value: Any) -> None:
        # The dataset's values come in the dataset's order and the names label them by position (Fuel's
        # renaming: ('features',) for a dataset of one source 'data'). Fewer or more names, or a name of another
        # of the dataset's sources at this position, would label values wrongly (Fuel did so silently).
        AbstractDataStream.sources.fset(self, value)  # type: ignore[attr-defined]
        names, provided = self.__dict__["_sources"], tuple(self.dataset.sources)
        if len(names) != len(provided) or any(
            new != old and new in provided for new, old in zip(names, provided)
        ):
            self.__dict__["_sources"] = None
            raise ValueError(
                f"a DataStream yields its dataset's sources {provided}, in that order, and its sources only "
                f"rename them position by position: {names} would label values wrongly. To choose sources, "
                "give the dataset sources=(...) or wrap the stream in FilterSources"
            )

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = getattr(self.dataset, "axis_labels", None)
        if not labels:
            return None
        return _strip_batch(labels) if self.produces_examples else dict(labels)

    @property
    def sequential(self) -> bool:
        """Whether iteration state lives in stream objects (see :class:`AbstractDataStream`)."""
        return self._epoch_state or super().sequential

    @property
    def seekable(self) -> bool:
        """True with an iteration scheme (requests are computed from the position), unless sequential."""
        return self.iteration_scheme is not None and not self.sequential

    @property
    def num_requests(self) -> int | None:
        """Requests per epoch (examples when there is no scheme and the length is known)."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        num = self.dataset.num_examples
        return int(num) if num == num else None

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """Open the dataset and position the requests of ``epoch``."""
        if self._fuel_protocol:
            return self._open_fuel_cursor(epoch, state)
        from fuel.schemes import request_iterator

        position = int(state.get("position", 0)) if state else 0
        scheme = self.iteration_scheme
        if not self._epoch_state:
            data_state = self.dataset.open()
            if scheme is None:
                return _IterableCursor(self.dataset, data_state, epoch, position)
            return _SchemeCursor(self.dataset, data_state, request_iterator(scheme, epoch, position))
        data_state = self._epoch_data_state(epoch)
        if scheme is None:
            return _IterableCursor(self.dataset, data_state, epoch, position, owns_state=False)
        cursor = _SchemeCursor(self.dataset, data_state, request_iterator(scheme, epoch), owns_state=False)
        for _ in range(position):  # the dataset's state is sequential: replay the requests
            cursor.next()
        return cursor

    def _epoch_data_state(self, epoch: int) -> Any:
        """The stream's dataset state at the start of ``epoch`` (``next_epoch`` between epochs, as Fuel)."""
        dataset = self.dataset
        if self._state_epoch is None:
            self._data_state, self._state_epoch, self._state_used = dataset.open(), 0, False
        at = self._state_epoch
        if epoch == at + 1 or (epoch == at and not self._state_used):
            if epoch != at:
                self._data_state = dataset.next_epoch(self._data_state)
        else:  # another epoch, or this one again: from the first epoch
            self._data_state = dataset.reset(self._data_state)
            for _ in range(epoch):
                self._data_state = dataset.next_epoch(self._data_state)
        self._state_epoch, self._state_used = epoch, True
        return self._data_state

    def _new_fuel_cursor(self, epoch: int) -> Cursor:
        self._epoch_data_state(epoch)
        return super()._new_fuel_cursor(epoch)

    @fuel_native
    def get_data(self, request: Any = None) -> tuple[Any, ...]:
        """Fuel's protocol: data of one request from the stream's own dataset state."""
        if self._state_epoch is None:
            self._data_state, self._state_epoch, self._state_used = self.dataset.open(), 0, True
        return self.dataset.get_data(self._data_state, request)

    def reset(self) -> None:
        """Start over from epoch 0; a dataset state the stream keeps is ``reset`` (Fuel)."""
        super().reset()
        if self._state_epoch is not None:
            self._data_state = self.dataset.reset(self._data_state)
            self._state_epoch, self._state_used = 0, False

    def close(self) -> None:
        """Close the stream-level dataset state, if any."""
        if self._state_epoch is not None:
            state, self._data_state, self._state_epoch = self._data_state, None, None
            self.dataset.close(state)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_data_state"], state["_state_epoch"], state["_state_used"] = None, None, False
        return state


def __getattr__(name: str) -> Any:
    if name == "ServerDataStream":
        return importlib.import_module("fuel.server").ServerDataStream
    raise AttributeError(f"module 'fuel.streams' has no attribute {name!r}")
