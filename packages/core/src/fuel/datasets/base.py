"""The dataset protocol and the in-memory datasets.

A :class:`Dataset` is an interface to data. It keeps no iteration state: a
stream calls ``state = dataset.open()`` and then ``dataset.get_data(state,
request)`` for every request of its iteration scheme, and ``close(state)`` at
the end.

Examples
--------
>>> import numpy as np
>>> ds = IndexableDataset({"features": np.arange(6).reshape(3, 2), "targets": np.array([0, 1, 0])})
>>> ds.sources, ds.num_examples
(('features', 'targets'), 3)
>>> ds.get_data(None, [0, 2])[1].tolist()
[0, 0]
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fuel.schemes import IterationScheme
    from fuel.streams import AbstractDataStream

__all__ = ["Dataset", "IndexableDataset", "IterableDataset"]


class Dataset:
    """Base class of datasets.

    Parameters
    ----------
    sources : sequence of str, optional
        The sources to return (default: all of :attr:`provides_sources`).
        Data always comes back in the order of :attr:`sources`, which follows
        :attr:`provides_sources`.
    axis_labels : dict, optional
        ``{source: tuple of axis names}``, e.g. ``("batch", "feature")``.

    Attributes
    ----------
    provides_sources : tuple of str
        Every source this dataset can return.
    default_transformers : tuple
        ``(TransformerClass, args, kwargs)`` triples that
        :meth:`fuel.streams.DataStream.default_stream` applies.

    Examples
    --------
    >>> class Squares(Dataset):
    ...     provides_sources = ("x", "x2")
    ...     def get_data(self, state=None, request=None):
    ...         r = np.asarray(request)
    ...         return self.filter_sources((r, r ** 2))
    >>> Squares(sources=["x2"]).get_data(None, [3])
    (array([9]),)
    """

    provides_sources: tuple[str, ...] = ()
    default_transformers: tuple[tuple[Any, tuple[Any, ...], dict[str, Any]], ...] = ()

    def __init__(self, sources: Sequence[str] | None = None, axis_labels: Mapping[str, tuple[str, ...]] | None = None):
        if sources is not None:
            if isinstance(sources, str):
                raise ValueError(f"sources must be a sequence of source names, not the string {sources!r}")
            unknown = [s for s in sources if s not in self.provides_sources]
            if unknown or not sources:
                raise ValueError(
                    f"unknown or no sources {unknown or list(sources)}; "
                    f"this dataset provides {list(self.provides_sources)}"
                )
            self._sources: tuple[str, ...] | None = tuple(s for s in self.provides_sources if s in sources)
        else:
            self._sources = None
        self.axis_labels = dict(axis_labels) if axis_labels is not None else None

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources returned by :meth:`get_data`, in order."""
        return self._sources if self._sources is not None else tuple(self.provides_sources)

    @sources.setter
    def sources(self, value: Sequence[str]) -> None:
        unknown = [s for s in value if s not in self.provides_sources]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; this dataset provides {list(self.provides_sources)}")
        self._sources = tuple(s for s in self.provides_sources if s in value)

    @property
    def num_examples(self) -> int | float:
        """Number of examples (``nan`` when unknown)."""
        return math.nan

    @property
    def example_iteration_scheme(self) -> "IterationScheme | None":
        """The scheme of :meth:`get_example_stream` (``None``: iterate the data without requests).

        Settable; a dataset that has none raises ``AttributeError`` (as in Fuel;
        a :class:`~fuel.streams.DataStream` then makes no requests).
        """
        scheme = getattr(self, "_example_iteration_scheme", _MISSING)
        if scheme is _MISSING:
            raise AttributeError(
                f"{type(self).__name__} provides no example iteration scheme; pass an iteration scheme to "
                "DataStream, or set example_iteration_scheme"
            )
        return scheme

    @example_iteration_scheme.setter
    def example_iteration_scheme(self, value: "IterationScheme | None") -> None:
        self._example_iteration_scheme = value

    def open(self) -> Any:
        """Start iterating; returns the iteration state (may be ``None``)."""
        return None

    def reset(self, state: Any) -> Any:
        """Close ``state`` and return a fresh one."""
        self.close(state)
        return self.open()

    def next_epoch(self, state: Any) -> Any:
        """The state for the next epoch (default: :meth:`reset`)."""
        return self.reset(state)

    def close(self, state: Any) -> None:
        """Release what ``state`` holds."""

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """Return the data of ``request`` as a tuple in :attr:`sources` order."""
        raise ValueError(f"{type(self).__name__} does not implement get_data")

    def filter_sources(self, data: Sequence[Any]) -> tuple[Any, ...]:
        """Keep the elements of ``data`` (in provides_sources order) that are requested."""
        if self._sources is None:
            return tuple(data)
        return tuple(d for d, s in zip(data, self.provides_sources) if s in self._sources)

    def get_example_stream(self) -> "AbstractDataStream":
        """A :class:`~fuel.streams.DataStream` over single examples."""
        from fuel.streams import DataStream

        return DataStream(self, iteration_scheme=self.example_iteration_scheme)

    def apply_default_transformers(self, stream: "AbstractDataStream") -> "AbstractDataStream":
        """Wrap ``stream`` in :attr:`default_transformers`."""
        for transformer, args, kwargs in self.default_transformers:
            stream = transformer(stream, *args, **kwargs)
        return stream


_MISSING = object()


def _as_source_dict(data: Any, kind: str) -> "OrderedDict[str, Any]":
    if isinstance(data, Mapping):
        if not data:
            raise ValueError(f"{kind} needs at least one source")
        for key in data:
            if not isinstance(key, str):
                raise ValueError(f"source names must be strings, got {key!r}")
        return OrderedDict(data)
    return OrderedDict([("data", data)])


class IndexableDataset(Dataset):
    """Random access over in-memory containers (numpy arrays, lists, tensors).

    Parameters
    ----------
    indexables : mapping or indexable
        ``{source: container}``; a single container becomes source ``"data"``.
        All containers need the same length.
    start, stop : int, optional
        Use only examples ``start:stop``.
    sources, axis_labels :
        See :class:`Dataset`.

    Examples
    --------
    >>> ds = IndexableDataset(np.arange(10) * 2, start=2, stop=5)
    >>> ds.num_examples, ds.data.tolist()
    (3, [4, 6, 8])
    >>> ds.get_data(None, slice(0, 2))
    (array([4, 6]),)
    """

    def __init__(
        self,
        indexables: Any,
        start: int | None = None,
        stop: int | None = None,
        sources: Sequence[str] | None = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
    ):
        containers = _as_source_dict(indexables, "IndexableDataset")
        lengths = {name: len(value) for name, value in containers.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"all sources of an IndexableDataset need the same length, got {lengths}")
        if start is not None or stop is not None:
            containers = OrderedDict((k, v[slice(start, stop)]) for k, v in containers.items())
        self.provides_sources = tuple(containers)
        super().__init__(sources, axis_labels)
        self.indexables = [containers[s] for s in self.sources]
        self._all = containers
        self._length = len(self.indexables[0])

    def __getattr__(self, name: str) -> Any:
        all_sources = self.__dict__.get("_all")
        if all_sources is not None and name in all_sources:
            return all_sources[name]
        raise AttributeError(name)

    @property
    def num_examples(self) -> int:
        """Number of examples."""
        return self._length

    @property
    def example_iteration_scheme(self) -> "IterationScheme | None":
        """Sequential single examples (settable)."""
        scheme = self.__dict__.get("_example_iteration_scheme", _MISSING)
        if scheme is not _MISSING:
            return scheme
        from fuel.schemes import SequentialExampleScheme

        return SequentialExampleScheme(self.num_examples)

    @example_iteration_scheme.setter
    def example_iteration_scheme(self, value: "IterationScheme | None") -> None:
        self._example_iteration_scheme = value

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """The examples of ``request`` (an int, a slice or a sequence of indices); ``state`` must be ``None``."""
        if request is None or state is not None:
            raise ValueError(
                "IndexableDataset.get_data takes no state (it keeps none; got "
                f"{type(state).__name__}) and needs a request (int, slice or indices); use an iteration scheme"
                if state is not None
                else "IndexableDataset needs a request (int, slice or indices); use an iteration scheme"
            )
        try:  # a loop, not a generator: this runs once per batch and arrays need no helper call
            data = []
            for container in self.indexables:
                data.append(container[request] if type(container) is np.ndarray else _index(container, request))
            return tuple(data)
        except IndexError as err:
            raise ValueError(f"request {_describe(request)} is out of range for {self._length} examples") from err


def _index(container: Any, request: Any) -> Any:
    if isinstance(container, np.ndarray) or isinstance(request, (int, np.integer, slice)):
        return container[request]
    if hasattr(container, "__array__") and not isinstance(container, (list, tuple)):
        return container[np.asarray(request)]
    return [container[int(i)] for i in request]


def _describe(request: Any) -> str:
    if isinstance(request, np.ndarray) and request.size > 8:
        return f"[{request.min()} .. {request.max()}] ({request.size} indices)"
    return repr(request)


class _IterState:
    __slots__ = ("iterators",)

    def __init__(self, iterators: list[Any]):
        self.iterators = iterators


class IterableDataset(Dataset):
    """Sequential data from iterables (no requests).

    Parameters
    ----------
    iterables : mapping or iterable
        ``{source: iterable}``; a single iterable becomes source ``"data"``.
        Each epoch iterates them again (they must be re-iterable, e.g. lists).
    sources, axis_labels :
        See :class:`Dataset`.

    Examples
    --------
    >>> ds = IterableDataset({"x": [1, 2, 3], "y": "abc"})
    >>> state = ds.open()
    >>> ds.get_data(state), ds.get_data(state)
    ((1, 'a'), (2, 'b'))
    """

    example_iteration_scheme = None  # iterated without requests

    def __init__(
        self,
        iterables: Any,
        sources: Sequence[str] | None = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
    ):
        containers = _as_source_dict(iterables, "IterableDataset")
        for name, value in containers.items():
            if not isinstance(value, Iterable):
                raise ValueError(f"source {name!r} is not iterable ({type(value).__name__})")
        self.provides_sources = tuple(containers)
        super().__init__(sources, axis_labels)
        self.iterables = [containers[s] for s in self.sources]
        lengths = {}
        for name, iterable in zip(self.sources, self.iterables):
            try:
                lengths[name] = len(iterable)
            except TypeError:
                continue
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the sources of an IterableDataset must have the same length, got {lengths}")

    @property
    def num_examples(self) -> int | float:
        """The length of the sources, or ``nan`` if some iterable has no length."""
        try:
            return min(len(it) for it in self.iterables)  # type: ignore[arg-type]
        except TypeError:
            return math.nan

    def open(self) -> _IterState:
        """Fresh iterators over every source."""
        return _IterState([iter(it) for it in self.iterables])

    def skip(self, state: _IterState, count: int) -> None:
        """Advance ``state`` by ``count`` examples (used when resuming)."""
        for index, iterator in enumerate(state.iterators):
            state.iterators[index] = itertools.islice(iterator, count, None)

    def get_data(self, state: Any = None, request: Any = None) -> tuple[Any, ...]:
        """The next example."""
        if request is not None:
            raise ValueError(f"IterableDataset takes no requests, got {request!r}; use a DataStream without scheme")
        if state is None:
            raise ValueError("IterableDataset.get_data needs the state returned by open()")
        return tuple([next(it) for it in state.iterators])
