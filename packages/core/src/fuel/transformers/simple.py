"""One-to-one transformers: mapping, scaling, casting, renaming, merging.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(4, dtype="uint8")}), iteration_scheme=SequentialScheme(4, 2))
>>> stream = Cast(ScaleAndShift(stream, 0.5, 1.0), "float32")
>>> next(stream.get_epoch_iterator())[0]
array([1. , 1.5], dtype=float32)
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from typing import Any

import numpy as np

from fuel.iterator import Cursor, DataIterator
from fuel.streams import AbstractDataStream, fuel_native
from fuel.transformers.base import AgnosticSourcewiseTransformer, SourcewiseTransformer, Transformer

__all__ = [
    "Cast",
    "Filter",
    "FilterSources",
    "Flatten",
    "ForceFloatX",
    "Mapping",
    "Merge",
    "Rename",
    "ScaleAndShift",
    "SortMapping",
    "SourceNameError",
    "resolve_dtype",
]

logger = logging.getLogger(__name__)


def resolve_dtype(dtype: Any) -> np.dtype:
    """A numpy dtype; ``'floatX'`` means ``fuel.config.floatX``.

    Examples
    --------
    >>> resolve_dtype("int16")
    dtype('int16')
    """
    if isinstance(dtype, str) and dtype == "floatX":
        from fuel import config

        dtype = config.floatX
        if dtype == "bfloat16":
            raise ValueError("fuel.config.floatX is bfloat16, which numpy cannot hold; cast to float32 in fuel")
    try:
        return np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"not a numpy dtype: {dtype!r}") from err


class Mapping(Transformer):
    """Apply a function to every example or batch.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    mapping : callable
        Takes the data (a tuple, or a dict when ``mapping_accepts=dict``) and
        returns the new data (a tuple, or a dict keyed by source).
    add_sources : sequence of str, optional
        When given, the mapping's outputs are *appended* as these new sources.
    mapping_accepts : type
        ``list`` (tuples in, tuples out) or ``dict``.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = Mapping(DataStream(IndexableDataset({"x": [1, 2]})), lambda d: (d[0] * 10,), add_sources=("y",))
    >>> s.sources, list(s.get_epoch_iterator())
    (('x', 'y'), [(1, 10), (2, 20)])
    """

    one_to_one = True

    def __init__(
        self,
        data_stream: AbstractDataStream,
        mapping: Callable[[Any], Any],
        add_sources: Sequence[str] | None = None,
        mapping_accepts: type = list,
        **kwargs: Any,
    ):
        super().__init__(data_stream, **kwargs)
        if not callable(mapping):
            raise ValueError(f"mapping must be callable, got {type(mapping).__name__}")
        if mapping_accepts not in (list, dict):
            raise ValueError(f"mapping_accepts must be list or dict, got {mapping_accepts!r}")
        if isinstance(add_sources, str):
            raise ValueError(f"add_sources must be a sequence of names, not the string {add_sources!r}")
        self.mapping = mapping
        self.add_sources = tuple(add_sources) if add_sources else ()
        clash = [s for s in self.add_sources if s in data_stream.sources]
        if clash:
            raise ValueError(f"add_sources {clash} already exist in the stream {list(data_stream.sources)}")
        self.mapping_accepts = mapping_accepts

    def _source_names(self) -> tuple[str, ...]:
        return tuple(self.data_stream.sources) + self.add_sources

    def get_data_from(self, cursor: Any) -> tuple[Any, ...]:
        """Apply the mapping to the child's next item."""
        data = cursor.child.next()
        if self.mapping_accepts is dict:
            names = self.data_stream.sources
            image = self.mapping(OrderedDict(zip(names, data)))
            if not self.add_sources:
                return tuple(image[s] for s in names)
            return tuple(data) + tuple(image[s] for s in self.add_sources)
        image = self.mapping(data)
        if not self.add_sources:
            return tuple(image)
        return tuple(data) + tuple(image)


class SortMapping:
    """A mapping that sorts the examples of a batch by a key (use with :class:`Mapping`).

    Parameters
    ----------
    key : callable
        Called with one example (a tuple over sources).
    reverse : bool
        Sort in decreasing order.

    Examples
    --------
    >>> SortMapping(lambda ex: len(ex[0]))(([[1, 2, 3], [1]], np.array([7, 8])))
    ([[1], [1, 2, 3]], array([8, 7]))
    """

    def __init__(self, key: Callable[[tuple[Any, ...]], Any], reverse: bool = False):
        self.key = key
        self.reverse = bool(reverse)

    def __call__(self, batch: Sequence[Any]) -> tuple[Any, ...]:
        keys = [self.key(example) for example in zip(*batch)]
        order = sorted(range(len(keys)), key=keys.__getitem__, reverse=self.reverse)
        index = np.asarray(order, dtype=np.int64)
        return tuple(
            source[index] if isinstance(source, np.ndarray) else [source[i] for i in order] for source in batch
        )


class Flatten(SourcewiseTransformer):
    """Flatten every example of ``which_sources`` into a vector (the batch axis is kept).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> from fuel.streams import DataStream
    >>> ds = IndexableDataset({"x": np.zeros((2, 3, 4))}, axis_labels={"x": ("batch", "height", "width")})
    >>> s = Flatten(DataStream(ds, iteration_scheme=SequentialScheme(2, 2)))
    >>> next(s.get_epoch_iterator())[0].shape, s.axis_labels
    ((2, 12), {'x': ('batch', 'feature')})
    """

    def __init__(self, data_stream: AbstractDataStream, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        if not labels:
            return None
        out: dict[str, Any] = {}
        for source, axes in labels.items():
            if source not in self.which_sources:
                out[source] = axes
            elif not axes:
                out[source] = None
            else:
                out[source] = ("feature",) if self.produces_examples else (axes[0], "feature")
        return out

    def transform_source_example(self, example: Any, source_name: str) -> np.ndarray:
        """Ravel one example."""
        return np.asarray(example).reshape(-1)

    def transform_source_batch(self, batch: Any, source_name: str) -> np.ndarray:
        """Reshape to ``(batch, -1)``."""
        array = np.asarray(batch)
        return array.reshape(array.shape[0], -1)


class ScaleAndShift(AgnosticSourcewiseTransformer):
    """``data * scale + shift`` on ``which_sources``.

    Integer data becomes ``float64`` (numpy promotion, as in Fuel) unless the
    data is already floating point, whose dtype is kept.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    scale, shift : float
        The affine map.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = ScaleAndShift(DataStream(IndexableDataset({"x": np.ones(2, "float32")})), 2.0, -1.0)
    >>> next(s.get_epoch_iterator())
    (np.float32(1.0),)
    """

    def __init__(self, data_stream: AbstractDataStream, scale: float, shift: float, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.scale = scale
        self.shift = shift

    def transform_any_source(self, source_data: Any, source_name: str) -> Any:
        """Apply the affine map."""
        data = np.asarray(source_data)
        if data.dtype.kind == "f":
            out = np.multiply(data, data.dtype.type(self.scale))
            if self.shift:
                out += data.dtype.type(self.shift)
            return out
        out = np.multiply(data, self.scale, dtype=np.float64)
        if self.shift:
            out += self.shift
        return out


class Cast(AgnosticSourcewiseTransformer):
    """Cast ``which_sources`` to ``dtype`` (``'floatX'`` is ``fuel.config.floatX``).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> next(Cast(DataStream(IndexableDataset({"x": np.arange(2)})), "float16").get_epoch_iterator())[0].dtype
    dtype('float16')
    """

    def __init__(self, data_stream: AbstractDataStream, dtype: Any, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.dtype = resolve_dtype(dtype)

    def transform_any_source(self, source_data: Any, source_name: str) -> Any:
        """Cast (no copy when the dtype already matches)."""
        return np.asarray(source_data, dtype=self.dtype)


class ForceFloatX(AgnosticSourcewiseTransformer):
    """Cast floating-point sources to ``fuel.config.floatX`` (other dtypes untouched).

    Examples
    --------
    >>> import fuel
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = ForceFloatX(DataStream(IndexableDataset({"x": np.ones(1), "i": np.ones(1, "int8")})))
    >>> with fuel.config.override(floatX="float32"):
    ...     [d.dtype for d in next(s.get_epoch_iterator())]
    [dtype('float32'), dtype('int8')]
    """

    def __init__(self, data_stream: AbstractDataStream, **kwargs: Any):
        super().__init__(data_stream, data_stream.produces_examples, **kwargs)
        self.dtype = resolve_dtype("floatX")

    def transform_any_source(self, source_data: Any, source_name: str) -> Any:
        """Cast floats to floatX (``fuel.config.floatX`` when the transformer was created)."""
        data = np.asarray(source_data)
        if data.dtype.kind == "f":
            return data.astype(self.dtype, copy=False)
        return source_data


class Filter(Transformer):
    """Drop the examples or batches for which ``predicate(data)`` is false.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = Filter(DataStream(IndexableDataset({"x": [1, 2, 3, 4]})), lambda d: d[0] % 2 == 0)
    >>> [d for d, in s.get_epoch_iterator()], s.num_requests
    ([2, 4], None)
    """

    def __init__(self, data_stream: AbstractDataStream, predicate: Callable[[tuple[Any, ...]], bool], **kwargs: Any):
        super().__init__(data_stream, **kwargs)
        if not callable(predicate):
            raise ValueError(f"predicate must be callable, got {type(predicate).__name__}")
        self.predicate = predicate

    @property
    def num_requests(self) -> int | None:
        """Unknown (depends on the data)."""
        return None

    def get_data_from(self, cursor: Any) -> tuple[Any, ...]:
        """The child's next item that passes the predicate."""
        while True:
            data = cursor.child.next()
            if self.predicate(data):
                return data


class SourceNameError(KeyError, ValueError):
    """A source name that does not exist, or a renaming that would give two sources one name.

    A ``KeyError`` as in Fuel, and a ``ValueError`` like this package's other
    argument errors.

    Examples
    --------
    >>> str(SourceNameError("no source 'z'"))
    "no source 'z'"
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Rename(Transformer):
    """Rename sources.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The wrapped stream.
    names : dict
        ``{old: new}``. Old names that are not sources are handled by
        ``on_non_existent`` (and may then share a new name, as in Fuel).
    on_non_existent : {'raise', 'warn', 'ignore'}
        What to do when an old name is not a source.

    Raises
    ------
    SourceNameError
        (a ``KeyError``) for an old name that is not a source with
        ``on_non_existent='raise'``, or a renaming that gives two sources
        the same name.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> Rename(DataStream(IndexableDataset({"x": [1]})), {"x": "features"}).sources
    ('features',)
    """

    one_to_one = True

    def __init__(
        self,
        data_stream: AbstractDataStream,
        names: MappingABC[str, str],
        on_non_existent: str = "raise",
        **kwargs: Any,
    ):
        if on_non_existent not in ("raise", "warn", "ignore"):
            raise ValueError(f"on_non_existent must be 'raise', 'warn' or 'ignore', got {on_non_existent!r}")
        super().__init__(data_stream, **kwargs)
        sources = tuple(data_stream.sources)
        missing = [old for old in names if old not in sources]
        if missing:
            message = f"cannot rename {missing}: not sources of the stream {list(sources)}"
            if on_non_existent == "raise":
                raise SourceNameError(message)
            logger.log(logging.WARNING if on_non_existent == "warn" else logging.DEBUG, message)
        self.names = {old: new for old, new in names.items() if old in sources}
        renamed = tuple(self.names.get(s, s) for s in sources)
        if len(set(renamed)) != len(renamed):
            raise SourceNameError(f"renaming {dict(names)} gives duplicate source names {list(renamed)}")
        self._sources = renamed

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        return {self.names.get(k, k): v for k, v in labels.items()} if labels else None

    def get_data_from(self, cursor: Any) -> tuple[Any, ...]:
        """The child's data, unchanged."""
        return cursor.child.next()


class FilterSources(Transformer):
    """Keep only some sources (in the wrapped stream's order).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = FilterSources(DataStream(IndexableDataset({"x": [1], "y": [2], "z": [3]})), ("z", "x"))
    >>> s.sources, next(s.get_epoch_iterator())
    (('x', 'z'), (1, 3))
    """

    one_to_one = True

    def __init__(self, data_stream: AbstractDataStream, sources: Sequence[str], **kwargs: Any):
        if isinstance(sources, str):
            raise ValueError(f"sources must be a sequence of names, not the string {sources!r}")
        unknown = [s for s in sources if s not in data_stream.sources]
        if unknown:
            raise ValueError(f"sources {unknown} are not in the stream; available: {list(data_stream.sources)}")
        super().__init__(data_stream, **kwargs)
        self._keep = tuple(i for i, s in enumerate(data_stream.sources) if s in sources)
        self._sources = tuple(data_stream.sources[i] for i in self._keep)

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        return {k: v for k, v in labels.items() if k in self._sources} if labels else None

    def get_data_from(self, cursor: Any) -> tuple[Any, ...]:
        """The kept elements of the child's data."""
        data = cursor.child.next()
        return tuple([data[i] for i in self._keep])


class _ZipCursor(Cursor):
    __slots__ = ("children", "epoch")

    def __init__(self, children: list[Cursor], epoch: int):
        self.children = children
        self.epoch = epoch

    def next(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for child in self.children:
            out.extend(child.next())
        return tuple(out)

    def state_dict(self) -> dict[str, Any]:
        return {"children": [c.state_dict() for c in self.children]}

    def seek(self, position: int) -> None:
        for child in self.children:
            child.seek(position)

    def close(self) -> None:
        for child in self.children:
            child.close()


class Merge(AbstractDataStream):
    """Zip several streams into one and name the result's sources.

    Parameters
    ----------
    data_streams : sequence of AbstractDataStream
        Streams that all produce examples, or all batches.
    sources : sequence of str
        Names of the merged sources (as many as the streams' sources together).
    axis_labels : dict, optional
        Labels of the merged sources.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> a, b = DataStream(IndexableDataset([1, 2])), DataStream(IndexableDataset([3, 4]))
    >>> list(Merge((a, b), ("x", "y")).get_epoch_iterator())
    [(1, 3), (2, 4)]
    """

    def __init__(
        self,
        data_streams: Sequence[AbstractDataStream],
        sources: Sequence[str],
        axis_labels: MappingABC[str, tuple[str, ...]] | None = None,
    ):
        self.data_streams = list(data_streams)
        if not self.data_streams:
            raise ValueError("Merge needs at least one stream")
        kinds = {s.produces_examples for s in self.data_streams}
        if len(kinds) != 1:
            raise ValueError("all merged streams must produce examples, or all batches")
        total = sum(len(s.sources) for s in self.data_streams)
        if isinstance(sources, str) or len(sources) != total or len(set(sources)) != len(sources):
            raise ValueError(
                f"Merge needs {total} distinct source names (one per source of the streams), got {sources!r}"
            )
        super().__init__(None, axis_labels, produces_examples=kinds.pop())
        self._sources = tuple(sources)

    @property
    def sequential(self) -> bool:
        """Whether one of the merged streams keeps its iteration state in itself (Fuel's protocol)."""
        return super().sequential or any(s.sequential for s in self.data_streams)

    @property
    def seekable(self) -> bool:
        """Whether every merged stream is seekable (and none is sequential)."""
        return not self.sequential and all(s.seekable for s in self.data_streams)

    @property
    def num_requests(self) -> int | None:
        """The shortest stream's count (``None`` if any is unknown)."""
        counts = [s.num_requests for s in self.data_streams]
        return None if any(c is None for c in counts) else min(counts)  # type: ignore[type-var]

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """One cursor per stream, zipped."""
        if self._fuel_protocol:
            return self._open_fuel_cursor(epoch, state)
        states = state["children"] if state else [None] * len(self.data_streams)
        return _ZipCursor([s.open_cursor(epoch, st) for s, st in zip(self.data_streams, states)], epoch)

    @fuel_native
    def get_epoch_iterator(self, as_dict: bool = False) -> DataIterator:
        """An iterator over the next epoch of every stream, zipped."""
        iterator = super().get_epoch_iterator(as_dict)
        if not self._fuel_protocol:
            self.__dict__["_fuel_latest"] = iterator
        return iterator

    @fuel_native
    def get_data(self, request: Any = None) -> tuple[Any, ...]:
        """Fuel's protocol: the next item of the current epoch (no request)."""
        if request is not None:
            raise ValueError(f"Merge takes no request, got {request!r}")
        iterator = self.__dict__.get("_fuel_latest")
        if iterator is None:
            raise ValueError("Merge.get_data: no epoch is open; call get_epoch_iterator() first")
        return iterator.cursor.next()

    def reset(self) -> None:
        """Start over from epoch 0, and reset every stream (Fuel)."""
        super().reset()
        for stream in self.data_streams:
            stream.reset()

    def next_epoch(self) -> None:
        """Skip to the next epoch, in every stream (Fuel)."""
        super().next_epoch()
        for stream in self.data_streams:
            stream.next_epoch()

    def state_dict(self) -> dict[str, Any]:
        """Epoch counter and every stream's state."""
        state = super().state_dict()
        state["children"] = [s.state_dict() for s in self.data_streams]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch counter and every stream."""
        super().load_state_dict(state)
        for stream, sub in zip(self.data_streams, state.get("children", [])):
            stream.load_state_dict(sub)

    def close(self) -> None:
        """Close every stream."""
        for stream in self.data_streams:
            stream.close()
