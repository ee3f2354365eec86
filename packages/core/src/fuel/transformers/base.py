"""Transformer base classes: a stream that wraps a stream.

State lives in the *cursor* of each epoch iterator, never in the transformer,
so two epoch iterators over one transformer never corrupt each other
(fuel#106). A transformer maps its child cursor's data to its own with
:meth:`Transformer.get_data_from`; most only implement ``transform_example``
and/or ``transform_batch``.

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

from collections.abc import Mapping, Sequence
from typing import Any

from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream

__all__ = [
    "AgnosticSourcewiseTransformer",
    "AgnosticTransformer",
    "AxisLabelsMismatchError",
    "ExpectsAxisLabels",
    "SourcewiseTransformer",
    "Transformer",
    "TransformerCursor",
]


class AxisLabelsMismatchError(ValueError):
    """The axis labels of a stream are not what a transformer expects."""


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

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> t = Transformer(DataStream(IndexableDataset([1, 2])))
    >>> c = t.open_cursor(0)
    >>> c.next(), c.state_dict()
    ((1,), {'position': 1, 'child': {'position': 1}})
    """

    __slots__ = ("transformer", "child", "epoch", "position", "extra")

    def __init__(self, transformer: "Transformer", child: Cursor, epoch: int):
        self.transformer = transformer
        self.child = child
        self.epoch = epoch
        self.position = 0
        self.extra: dict[str, Any] = {}

    def next(self) -> tuple[Any, ...]:
        data = self.transformer.get_data_from(self)
        self.position += 1
        return data

    def state_dict(self) -> dict[str, Any]:
        state = {"position": self.position, "child": self.child.state_dict()}
        state.update(self.transformer.cursor_state(self))
        return state

    def close(self) -> None:
        self.transformer.close_cursor(self)
        self.child.close()


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
        Default: the wrapped stream's.

    Notes
    -----
    Subclasses implement ``transform_example`` / ``transform_batch`` (one
    output per input), or override :meth:`get_data_from` to read any number
    of items from ``cursor.child``. Live state goes in ``cursor.extra``;
    :meth:`cursor_state` / :meth:`restore_cursor` save and restore it.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> Transformer(DataStream(IndexableDataset({"a": [1]}))).sources
    ('a',)
    """

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
            produces_examples = data_stream.produces_examples
        super().__init__(iteration_scheme, axis_labels, produces_examples)
        self.data_stream = data_stream
        if self.axis_labels is None and data_stream.axis_labels is not None:
            self.axis_labels = dict(data_stream.axis_labels)

    @property
    def sources(self) -> tuple[str, ...]:
        """The wrapped stream's sources (subclasses may change them)."""
        return tuple(self.data_stream.sources)

    @property
    def num_requests(self) -> int | None:
        """Items per epoch: the wrapped stream's for one-to-one transformers."""
        if self.iteration_scheme is not None:
            return self.iteration_scheme.num_requests
        return self.data_stream.num_requests

    # -- cursors ---------------------------------------------------------------------
    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> TransformerCursor:
        """A cursor over ``epoch`` (restored from ``state`` when given)."""
        child = self.data_stream.open_cursor(epoch, state.get("child") if state else None)
        cursor = TransformerCursor(self, child, epoch)
        if state:
            cursor.position = int(state.get("position", 0))
            self.restore_cursor(cursor, state)
        else:
            self.init_cursor(cursor)
        return cursor

    def init_cursor(self, cursor: TransformerCursor) -> None:
        """Set up ``cursor.extra`` at the start of an epoch."""
        if self.iteration_scheme is not None:
            cursor.extra["requests"] = self.iteration_scheme.get_request_iterator(cursor.epoch, 0)

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        """Set up ``cursor.extra`` from a saved cursor state."""
        if self.iteration_scheme is not None:
            position = int(state.get("requests", 0))
            cursor.extra["requests"] = self.iteration_scheme.get_request_iterator(cursor.epoch, position)

    def cursor_state(self, cursor: TransformerCursor) -> dict[str, Any]:
        """Transformer-specific part of a cursor's state."""
        requests = cursor.extra.get("requests")
        return {"requests": requests.position} if requests is not None else {}

    def close_cursor(self, cursor: TransformerCursor) -> None:
        """Release what ``cursor.extra`` holds."""

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """The next output of ``cursor`` (default: transform the child's next item)."""
        data = cursor.child.next()
        if self.produces_examples:
            return self.transform_example(data)
        return self.transform_batch(data)

    def transform_example(self, example: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform one example (identity by default)."""
        return example

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform one batch (identity by default)."""
        return batch

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
        """Transform an example or a batch (identity by default)."""
        return data

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
    which_sources : sequence of str, optional
        Sources to transform (default: all).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> class Neg(SourcewiseTransformer):
    ...     def transform_source_example(self, example, source_name):
    ...         return -example
    >>> s = Neg(DataStream(IndexableDataset({"a": [1], "b": [2]})), which_sources=("b",))
    >>> next(s.get_epoch_iterator())
    (1, -2)
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        produces_examples: bool | None = None,
        which_sources: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(data_stream, produces_examples, **kwargs)
        if which_sources is None:
            which_sources = self.data_stream.sources
        elif isinstance(which_sources, str):
            raise ValueError(f"which_sources must be a sequence of names, not the string {which_sources!r}")
        unknown = [s for s in which_sources if s not in self.data_stream.sources]
        if unknown:
            raise ValueError(f"which_sources {unknown} are not sources of the stream {list(self.data_stream.sources)}")
        self.which_sources = tuple(which_sources)
        self._mask = tuple(s in self.which_sources for s in self.data_stream.sources)

    def transform_source_example(self, example: Any, source_name: str) -> Any:
        """Transform one source of an example (identity by default)."""
        return example

    def transform_source_batch(self, batch: Any, source_name: str) -> Any:
        """Transform one source of a batch (identity by default)."""
        return batch

    def transform_example(self, example: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform ``which_sources`` of one example."""
        names = self.data_stream.sources
        return tuple(
            self.transform_source_example(d, n) if m else d for d, n, m in zip(example, names, self._mask)
        )

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Transform ``which_sources`` of one batch."""
        names = self.data_stream.sources
        return tuple(self.transform_source_batch(d, n) if m else d for d, n, m in zip(batch, names, self._mask))


class AgnosticSourcewiseTransformer(SourcewiseTransformer):
    """A sourcewise transformer that treats examples and batches alike (``transform_any_source``).

    Examples
    --------
    >>> issubclass(AgnosticSourcewiseTransformer, SourcewiseTransformer)
    True
    """

    def transform_any_source(self, source_data: Any, source_name: str) -> Any:
        """Transform one source of an example or batch (identity by default)."""
        return source_data

    def transform_source_example(self, example: Any, source_name: str) -> Any:
        """Calls :meth:`transform_any_source`."""
        return self.transform_any_source(example, source_name)

    def transform_source_batch(self, batch: Any, source_name: str) -> Any:
        """Calls :meth:`transform_any_source`."""
        return self.transform_any_source(batch, source_name)


class ExpectsAxisLabels:
    """Mixin: check a stream's axis labels once against what is expected.

    Examples
    --------
    >>> ExpectsAxisLabels().verify_axis_labels(("batch", "feature"), ("batch", "feature"), "x")
    """

    def verify_axis_labels(self, expected: Sequence[str], actual: Sequence[str] | None, source_name: str) -> None:
        """Raise :class:`AxisLabelsMismatchError` unless ``actual`` is ``expected`` (``None`` passes)."""
        if actual is not None and tuple(actual) != tuple(expected):
            raise AxisLabelsMismatchError(
                f"{type(self).__name__} expects axis labels {tuple(expected)} for source {source_name!r}, "
                f"got {tuple(actual)}"
            )
