"""Transformer base classes: a stream that wraps a stream.

State lives in the *cursor* of each epoch iterator, never in the transformer,
so two epoch iterators over one transformer never corrupt each other
(fuel#106). A transformer maps its child cursor's data to its own with
:meth:`Transformer.get_data_from`; most only implement ``transform_example``
and/or ``transform_batch``. A transformer written for Fuel (``get_data``
reading ``child_epoch_iterator``, state in the object) works too, as a
*sequential* stream (see :class:`Transformer`).

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> class Double(AgnosticTransformer):
...     def transform_any(self, data):
...         return tuple(2 * d for d in data)
>>> stream = Double(DataStream(IndexableDataset({"x": np.arange(4)}), iteration_scheme=SequentialScheme(4, 2)))
>>> [b[0].tolist() for b in stream.get_epoch_iterator()]
[[0, 2], [4, 6]]
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fuel.iterator import Cursor, DataIterator
from fuel.schemes import request_iterator
from fuel.streams import AbstractDataStream, fuel_native, superseded_error

__all__ = [
    "AgnosticSourcewiseTransformer",
    "AgnosticTransformer",
    "AxisLabelsMismatchError",
    "ExpectsAxisLabels",
    "SourcewiseTransformer",
    "Transformer",
    "TransformerCursor",
]

logger = logging.getLogger(__name__)


class AxisLabelsMismatchError(ValueError):
    """The axis labels of a stream are not what a transformer expects."""


def _identity(data: tuple[Any, ...]) -> tuple[Any, ...]:
    return data


class _Raise:
    """A transform that raises ``error`` (a transformer that cannot handle what the wrapped stream produces)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception):
        self.error = error

    def __call__(self, data: tuple[Any, ...]) -> tuple[Any, ...]:
        raise self.error


class TransformerCursor(Cursor):
    """The per-epoch-iterator state of a transformer.

    Attributes
    ----------
    transformer : Transformer
        Whose cursor this is.
    child : Cursor
        The wrapped stream's cursor.
    epoch, position : int
        The epoch, and how many items this cursor has produced.
    extra : dict
        Transformer-specific live state (buffers, request iterators).
    transform : callable
        What the default :meth:`Transformer.get_data_from` applies to each of
        the child's items (``transform_example`` or ``transform_batch``, chosen
        once per epoch).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> t = Transformer(DataStream(IndexableDataset([1, 2])))
    >>> c = t.open_cursor(0)
    >>> c.next(), c.state_dict()
    ((1,), {'position': 1, 'child': {'position': 1}})
    """

    __slots__ = ("transformer", "child", "epoch", "position", "extra", "transform")

    def __init__(self, transformer: "Transformer", child: Cursor, epoch: int):
        self.transformer = transformer
        self.child = child
        self.epoch = epoch
        self.position = 0
        self.extra: dict[str, Any] = {}
        self.transform = transformer._transform_for_cursor()

    def next(self) -> tuple[Any, ...]:
        data = self.transformer.get_data_from(self)
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        state = {"position": self.position, "child": self.child.state_dict()}
        state.update(self.transformer.cursor_state(self))
        return state

    def seek(self, position: int) -> None:
        self.transformer.seek_cursor(self, int(position))

    def close(self) -> None:
        self.transformer.close_cursor(self)
        self.child.close()


class _FuelTransformerCursor(TransformerCursor):
    """A transformer's epoch read through Fuel's protocol: ``get_data`` with each request."""

    __slots__ = ()

    def next(self) -> tuple[Any, ...]:
        transformer = self.transformer
        if transformer.__dict__.get("_fuel_active") is not self:
            raise superseded_error(transformer)
        requests = self.extra.get("requests")
        data = transformer.get_data() if requests is None else transformer.get_data(next(requests))
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}  # resumed by replaying the epoch from its start


class _ChildIterator(Iterator[Any]):
    """``child_epoch_iterator``: the wrapped stream's items of one cursor, as Fuel's transformers read them."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: TransformerCursor):
        self.cursor = cursor

    def __iter__(self) -> "_ChildIterator":
        return self

    def __next__(self) -> tuple[Any, ...]:
        return self.cursor.child.next()


class _Once(Iterator[Any]):
    __slots__ = ("request", "position")

    def __init__(self, request: Any):
        self.request = request
        self.position = 0

    def __next__(self) -> Any:
        if self.position:
            raise ValueError("one request was given to get_data, and it was read already")
        self.position = 1
        return self.request


class Transformer(AbstractDataStream):
    """A stream that transforms the data of another stream.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    produces_examples : bool, optional
        Default: the same as ``data_stream``.
    iteration_scheme : IterationScheme, optional
        For transformers that make their own requests (``Batch``, ``Cache``).
    axis_labels : dict, optional
        Default: the wrapped stream's (read when first asked for).

    Notes
    -----
    Subclasses implement ``transform_example`` / ``transform_batch`` (one
    output per input; the one the stream does not produce raises
    ``NotImplementedError``, as in Fuel), or override :meth:`get_data_from`
    to read any number of items from ``cursor.child``. Live state goes in
    ``cursor.extra``; :meth:`cursor_state` / :meth:`restore_cursor` save and
    restore it. A bare ``Transformer`` (neither method overridden) passes the
    data through.

    A subclass written for Fuel overrides ``get_data(request=None)`` and
    reads ``next(self.child_epoch_iterator)`` (and maybe overrides
    ``get_epoch_iterator`` to reset its state at each epoch); that works
    too, as a *sequential* stream (see
    :class:`~fuel.streams.AbstractDataStream`): resuming it replays its epoch
    from the start, and only its newest epoch iterator can be read.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> Transformer(DataStream(IndexableDataset({"a": [1]}))).sources
    ('a',)
    >>> class Pairs(Transformer):                  # Fuel's protocol
    ...     def get_data(self, request=None):
    ...         (a,), (b,) = next(self.child_epoch_iterator), next(self.child_epoch_iterator)
    ...         return (a + b,)
    >>> list(Pairs(DataStream(IndexableDataset([1, 2, 3, 4]))).get_epoch_iterator())
    [(3,), (7,)]
    """

    #: keep the newest epoch iterator (Fuel's ``get_data`` reads it); ``False``: only a weak reference
    _keep_latest_iterator = True

    #: whether output ``p`` is made from the wrapped stream's item ``p`` alone (and the position and epoch);
    #: ``None``: true when the class implements only ``transform_example``/``transform_batch`` (a subclass
    #: that overrides ``get_data_from`` sets it to ``True`` when it reads exactly one child item per output
    #: and keeps nothing between items). Pools of workers need it (see :attr:`seekable`).
    one_to_one: bool | None = None

    def __init__(
        self,
        data_stream: AbstractDataStream,
        produces_examples: bool | None = None,
        iteration_scheme: Any = None,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
    ):
        if not isinstance(data_stream, AbstractDataStream):
            raise ValueError(f"a transformer wraps a data stream, got {type(data_stream).__name__}")
        if produces_examples is None and iteration_scheme is None:
            try:
                produces_examples = data_stream.produces_examples
            except ValueError:  # the wrapped stream does not say; neither can this one
                produces_examples = None
        super().__init__(iteration_scheme, axis_labels, produces_examples)
        self.data_stream = data_stream

    def _source_names(self) -> tuple[str, ...]:
        return tuple(self.data_stream.sources)

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        return dict(labels) if labels else None

    @property
    def sequential(self) -> bool:
        """Whether this transformer or a stream it wraps keeps its iteration state in itself."""
        return super().sequential or self.data_stream.sequential

    def is_one_to_one(self) -> bool:
        """Whether each output comes from the wrapped stream's item at the same position (see :attr:`one_to_one`).

        Examples
        --------
        >>> from fuel.datasets import IndexableDataset
        >>> from fuel.streams import DataStream
        >>> Transformer(DataStream(IndexableDataset([1]))).is_one_to_one()
        True
        """
        if self._fuel_protocol or self.iteration_scheme is not None:
            return False
        declared = type(self).one_to_one
        if declared is not None:
            return bool(declared)
        return type(self).get_data_from is Transformer.get_data_from

    @property
    def seekable(self) -> bool:
        """True for a one-to-one transformer (:meth:`is_one_to_one`) of a seekable stream, unless sequential.

        A subclass with cursors of its own (``open_cursor`` overridden) says so itself.
        """
        if type(self).open_cursor is not Transformer.open_cursor:
            return False
        return self.is_one_to_one() and not self.sequential and self.data_stream.seekable

    @property
    def num_requests(self) -> int | None:
        """Items per epoch: the wrapped stream's for one-to-one transformers."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        return self.data_stream.num_requests

    # -- cursors ---------------------------------------------------------------------
    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """A cursor over ``epoch`` (restored from ``state`` when given)."""
        if self._fuel_protocol:
            return self._open_fuel_cursor(epoch, state)
        child = self.data_stream.open_cursor(epoch, state.get("child") if state else None)
        cursor = TransformerCursor(self, child, epoch)
        if state:
            cursor.position = int(state.get("position", 0))
            self.restore_cursor(cursor, state)
        else:
            self.init_cursor(cursor)
        return cursor

    def _new_fuel_cursor(self, epoch: int) -> Cursor:
        cursor = _FuelTransformerCursor(self, self.data_stream.open_cursor(epoch, None), epoch)
        self.init_cursor(cursor)
        self.__dict__["_fuel_active"] = cursor
        self.child_epoch_iterator = _ChildIterator(cursor)
        return cursor

    def _transform_for_cursor(self) -> Any:
        """What the default :meth:`get_data_from` applies (chosen once per epoch)."""
        try:
            examples = self.produces_examples
            child_examples = self.data_stream.produces_examples
        except ValueError as err:
            return _Raise(err)
        if examples != child_examples:
            kinds = {True: "examples", False: "batches"}
            return _Raise(NotImplementedError(
                f"the wrapped stream produces {kinds[child_examples]} while this {type(self).__name__} produces "
                f"{kinds[examples]}, which its transform_example/transform_batch do not support; override "
                "get_data_from (or Fuel's get_data) to change between examples and batches"
            ))
        cls = type(self)
        if (cls.transform_example, cls.transform_batch) == (Transformer.transform_example, Transformer.transform_batch):
            return _identity
        return self.transform_example if examples else self.transform_batch

    def init_cursor(self, cursor: TransformerCursor) -> None:
        """Set up ``cursor.extra`` at the start of an epoch."""
        if self.iteration_scheme is not None:
            cursor.extra["requests"] = request_iterator(self.iteration_scheme, cursor.epoch, 0)

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        """Set up ``cursor.extra`` from a saved cursor state."""
        if self.iteration_scheme is not None:
            position = int(state.get("requests", 0))
            cursor.extra["requests"] = request_iterator(self.iteration_scheme, cursor.epoch, position)

    def cursor_state(self, cursor: TransformerCursor) -> dict[str, Any]:
        """Transformer-specific part of a cursor's state."""
        requests = cursor.extra.get("requests")
        return {"requests": requests.position} if requests is not None else {}

    def close_cursor(self, cursor: TransformerCursor) -> None:
        """Release what ``cursor.extra`` holds."""

    def seek_cursor(self, cursor: TransformerCursor, position: int) -> None:
        """Move ``cursor`` to item ``position`` of its epoch (one-to-one transformers: the child moves too)."""
        if not self.is_one_to_one():
            raise NotImplementedError(
                f"{type(self).__name__} cannot seek: its outputs are not one per item of the wrapped stream "
                "at the same position (see Transformer.one_to_one)"
            )
        cursor.child.seek(position)
        cursor.position = position

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """The next output of ``cursor`` (default: transform the child's next item)."""
        return cursor.transform(cursor.child.next())

    def transform_example(self, example: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform one example (subclasses that accept examples implement this)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support examples as input, but the wrapped stream produces examples"
        )

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform one batch (subclasses that accept batches implement this)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support batches as input, but the wrapped stream produces batches"
        )

    # -- Fuel's protocol ---------------------------------------------------------------
    @fuel_native
    def get_epoch_iterator(self, as_dict: bool = False) -> DataIterator:
        """An iterator over the next epoch (the transformer keeps the newest one for Fuel's ``get_data``)."""
        iterator = super().get_epoch_iterator(as_dict)
        if not self._fuel_protocol and "_fuel_building" not in self.__dict__:
            # Fuel's transformers held their epoch (child_epoch_iterator) until the next one
            self.__dict__["_fuel_latest"] = iterator if self._keep_latest_iterator else weakref.ref(iterator)
        return iterator

    def _current_cursor(self) -> Cursor:
        cursor = self.__dict__.get("_fuel_active")
        if cursor is None:
            latest = self.__dict__.get("_fuel_latest")
            if isinstance(latest, weakref.ref):
                latest = latest()
            cursor = latest.cursor if latest is not None else None
        if cursor is None:
            raise ValueError(f"{type(self).__name__}.get_data: no epoch is open; call get_epoch_iterator() first")
        return cursor

    @fuel_native
    def get_data(self, request: Any = None) -> tuple[Any, ...]:
        """Fuel's protocol: the next item of the current epoch (``request``: one of this transformer's scheme).

        A transformer without an iteration scheme takes no request and one
        with a scheme needs one (``ValueError`` otherwise, as in Fuel).
        Subclasses written for Fuel call it through ``super().get_data``.
        """
        if self.iteration_scheme is None and request is not None:
            raise ValueError(f"{type(self).__name__} has no iteration scheme and takes no request, got {request!r}")
        if self.iteration_scheme is not None and request is None:
            raise ValueError(f"{type(self).__name__} serves requests of its iteration scheme; got request=None")
        cursor = self._current_cursor()
        if not isinstance(cursor, TransformerCursor):
            return cursor.next()
        fuel = isinstance(cursor, _FuelTransformerCursor)
        if type(self).get_data_from is Transformer.get_data_from:
            # Fuel's Transformer.get_data: transform the wrapped stream's next item
            child = self.__dict__.get("child_epoch_iterator")
            data = next(child) if fuel and child is not None else cursor.child.next()
            transform = self._transform_for_cursor()
            if not fuel:
                cursor.position += 1
            return transform(data)
        requests = cursor.extra.get("requests")
        if request is not None:
            cursor.extra["requests"] = _Once(request)
        try:
            return self.get_data_from(cursor) if fuel else cursor.next()
        finally:
            if request is not None:
                cursor.extra["requests"] = requests

    # -- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Epoch counter, own scheme and the wrapped stream's state."""
        state = super().state_dict()
        state["child"] = self.data_stream.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        super().load_state_dict(state)
        if "child" in state:
            self.data_stream.load_state_dict(state["child"])

    def reset(self) -> None:
        """Start over from epoch 0, and reset the wrapped stream (Fuel)."""
        super().reset()
        self.data_stream.reset()

    def next_epoch(self) -> None:
        """Skip to the next epoch, and so does the wrapped stream (Fuel)."""
        super().next_epoch()
        self.data_stream.next_epoch()

    def close(self) -> None:
        """Close the wrapped stream."""
        self.data_stream.close()


class AgnosticTransformer(Transformer):
    """A transformer that treats examples and batches the same way (``transform_any``).

    Examples
    --------
    >>> issubclass(AgnosticTransformer, Transformer)
    True
    """

    def transform_any(self, data: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform an example or a batch (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement transform_any")

    def transform_example(self, example: tuple[Any, ...]) -> tuple[Any, ...]:
        """Calls :meth:`transform_any`."""
        return self.transform_any(example)

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Calls :meth:`transform_any`."""
        return self.transform_any(batch)


class SourcewiseTransformer(Transformer):
    """Applies a per-source transformation to ``which_sources``.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    produces_examples : bool, optional
        Default: the wrapped stream's.
    which_sources : sequence of str or str, optional
        Sources to transform (default: all); a string names one source.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> class Neg(SourcewiseTransformer):
    ...     def transform_source_example(self, example, source_name):
    ...         return -example
    >>> s = Neg(DataStream(IndexableDataset({"a": [1], "b": [2]})), which_sources="b")
    >>> next(s.get_epoch_iterator())
    (1, -2)
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        produces_examples: bool | None = None,
        which_sources: Sequence[str] | str | None = None,
        **kwargs: Any,
    ):
        super().__init__(data_stream, produces_examples, **kwargs)
        names = tuple(self.data_stream.sources)
        if which_sources is None:
            which_sources = names
        elif isinstance(which_sources, str):
            which_sources = (which_sources,)
        unknown = [s for s in which_sources if s not in names]
        if unknown:
            raise ValueError(f"which_sources {unknown} are not sources of the stream {list(names)}")
        self.which_sources = tuple(which_sources)
        self._names = names
        self._mask = tuple(s in self.which_sources for s in names)

    def transform_source_example(self, example: Any, source_name: str) -> Any:
        """Transform one source of an example (subclasses that accept examples implement this)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support examples as input, but the wrapped stream produces examples"
        )

    def transform_source_batch(self, batch: Any, source_name: str) -> Any:
        """Transform one source of a batch (subclasses that accept batches implement this)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support batches as input, but the wrapped stream produces batches"
        )

    def transform_example(self, example: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform ``which_sources`` of one example."""
        method = self.transform_source_example
        return tuple(method(d, n) if m else d for d, n, m in zip(example, self._names, self._mask))

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform ``which_sources`` of one batch."""
        method = self.transform_source_batch
        return tuple(method(d, n) if m else d for d, n, m in zip(batch, self._names, self._mask))


class AgnosticSourcewiseTransformer(SourcewiseTransformer):
    """A sourcewise transformer that treats examples and batches alike (``transform_any_source``).

    Examples
    --------
    >>> issubclass(AgnosticSourcewiseTransformer, SourcewiseTransformer)
    True
    """

    def transform_any_source(self, source_data: Any, source_name: str) -> Any:
        """Transform one source of an example or batch (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement transform_any_source")

    def transform_source_example(self, example: Any, source_name: str) -> Any:
        """Calls :meth:`transform_any_source`."""
        return self.transform_any_source(example, source_name)

    def transform_source_batch(self, batch: Any, source_name: str) -> Any:
        """Calls :meth:`transform_any_source`."""
        return self.transform_any_source(batch, source_name)


class ExpectsAxisLabels:
    """Mixin: check a stream's axis labels against what is expected, once per source.

    Missing labels (``None``) are logged as a warning; labels that differ raise
    :class:`AxisLabelsMismatchError` (as in Fuel).

    Examples
    --------
    >>> ExpectsAxisLabels().verify_axis_labels(("batch", "feature"), ("batch", "feature"), "x")
    """

    def verify_axis_labels(self, expected: Sequence[str], actual: Sequence[str] | None, source_name: str) -> None:
        """Raise :class:`AxisLabelsMismatchError` unless ``actual`` is ``expected``; warn once if ``None``."""
        checked = self.__dict__.setdefault("_checked_axis_labels", set())
        if source_name in checked:
            return
        if actual is None:
            logger.warning(
                "%s could not verify the axis labels of source %r: expected %s, the stream has none",
                type(self).__name__, source_name, tuple(expected),
            )
        elif tuple(actual) != tuple(expected):
            raise AxisLabelsMismatchError(
                f"{type(self).__name__} expects axis labels {tuple(expected)} for source {source_name!r}, "
                f"got {tuple(actual)}"
            )
        checked.add(source_name)
