"""Transformers between examples and batches: Batch, Unpack, Cache, Padding.

Their live state (request positions, partly consumed batches) is saved as
small positions wherever possible; resuming re-reads at most one wrapped batch.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import ConstantScheme
>>> from fuel.streams import DataStream
>>> examples = DataStream(IndexableDataset({"x": np.arange(5)}))
>>> [b[0].tolist() for b in Batch(examples, ConstantScheme(2)).get_epoch_iterator()]
[[0, 1], [2, 3], [4]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fuel.schemes import BatchSizeScheme, IterationScheme
from fuel.streams import AbstractDataStream
from fuel.transformers.base import Transformer, TransformerCursor

__all__ = ["Batch", "Cache", "Padding", "Unpack", "stack_examples"]


def stack_examples(examples: Sequence[Any]) -> np.ndarray:
    """Stack examples into one array; ragged examples give a 1-D object array.

    Examples
    --------
    >>> stack_examples([np.zeros(2), np.ones(2)]).shape
    (2, 2)
    >>> stack_examples([np.zeros(2), np.ones(3)]).dtype
    dtype('O')
    """
    try:
        return np.asarray(examples)
    except ValueError:
        out = np.empty(len(examples), dtype=object)
        for i, example in enumerate(examples):
            out[i] = example
        return out


class Batch(Transformer):
    """Group examples into batches whose sizes come from ``iteration_scheme``.

    Parameters
    ----------
    data_stream : AbstractDataStream
        A stream of examples.
    iteration_scheme : BatchSizeScheme
        Batch sizes, e.g. ``ConstantScheme(128)``.
    strictness : {0, 1, 2}
        At the end of the epoch a short last batch is 0: returned, 1: dropped,
        2: an error.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import ConstantScheme
    >>> from fuel.streams import DataStream
    >>> s = Batch(DataStream(IndexableDataset([1, 2, 3])), ConstantScheme(2), strictness=1)
    >>> [b[0].tolist() for b in s.get_epoch_iterator()], s.num_requests
    ([[1, 2]], 1)
    """

    def __init__(self, data_stream: AbstractDataStream, iteration_scheme: IterationScheme, strictness: int = 0,
                 **kwargs: Any):
        if not data_stream.produces_examples:
            raise ValueError("Batch needs a stream of examples; this stream already produces batches")
        if not isinstance(iteration_scheme, BatchSizeScheme):
            raise ValueError(
                "Batch takes a BatchSizeScheme such as ConstantScheme(batch_size), "
                f"got {type(iteration_scheme).__name__}"
            )
        if strictness not in (0, 1, 2):
            raise ValueError(f"strictness must be 0, 1 or 2, got {strictness!r}")
        super().__init__(data_stream, produces_examples=False, iteration_scheme=iteration_scheme, **kwargs)
        self.strictness = strictness

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        return {k: ("batch", *v) if v else None for k, v in labels.items()} if labels else None

    @property
    def num_requests(self) -> int | None:
        """Batches per epoch when known."""
        scheme_count = self.iteration_scheme.num_requests
        examples = self.data_stream.num_requests
        size = getattr(self.iteration_scheme, "batch_size", None)
        if examples is None or size is None:
            return scheme_count
        count = examples // size if self.strictness else -(-examples // size)
        return count if scheme_count is None else min(scheme_count, count)

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """Read ``next(requests)`` examples from the child."""
        request = next(cursor.extra["requests"])
        columns: list[list[Any]] = [[] for _ in self.data_stream.sources]
        child = cursor.child
        for _ in range(request):
            try:
                example = child.next()
            except StopIteration:
                if columns[0] and self.strictness == 0:
                    break
                if columns[0] and self.strictness == 2:
                    raise ValueError(
                        f"the epoch ended with a short batch of {len(columns[0])} examples (requested {request}) "
                        "and strictness=2"
                    ) from None
                raise
            for column, value in zip(columns, example):
                column.append(value)
        if not columns[0]:
            raise StopIteration
        return tuple(stack_examples(column) for column in columns)


class Unpack(Transformer):
    """Turn a stream of batches into a stream of examples.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> from fuel.streams import DataStream
    >>> s = Unpack(DataStream(IndexableDataset([5, 6, 7]), iteration_scheme=SequentialScheme(3, 2)))
    >>> [d for d, in s.get_epoch_iterator()]
    [5, 6, 7]
    """

    def __init__(self, data_stream: AbstractDataStream, **kwargs: Any):
        if data_stream.produces_examples:
            raise ValueError("Unpack needs a stream of batches; this stream produces examples")
        super().__init__(data_stream, produces_examples=True, **kwargs)

    def _infer_axis_labels(self) -> dict[str, Any] | None:
        labels = self.data_stream.axis_labels
        return {k: tuple(v[1:]) if v else None for k, v in labels.items()} if labels else None

    @property
    def num_requests(self) -> int | None:
        """Unknown in general (batches may have any size)."""
        return None

    def init_cursor(self, cursor: TransformerCursor) -> None:
        cursor.extra.update(batch=None, index=0, size=0, before=cursor.child.state_dict())

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        # The child was restored *after* the current batch; reopen it before that batch and re-read it.
        before = state.get("before")
        cursor.extra.update(batch=None, index=0, size=0, before=before)
        if before is not None and int(state.get("index", 0)) > 0:
            cursor.child.close()
            cursor.child = self.data_stream.open_cursor(cursor.epoch, before)
            batch = cursor.child.next()
            cursor.extra.update(batch=batch, index=int(state["index"]), size=len(batch[0]))

    def cursor_state(self, cursor: TransformerCursor) -> dict[str, Any]:
        return {"before": cursor.extra["before"], "index": cursor.extra["index"]}

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """The next example of the current batch (reading a new one when exhausted)."""
        extra = cursor.extra
        while extra["batch"] is None or extra["index"] >= extra["size"]:
            before = cursor.child.state_dict()
            batch = cursor.child.next()
            extra.update(batch=batch, index=0, size=len(batch[0]), before=before)
        index = extra["index"]
        extra["index"] = index + 1
        return tuple(source[index] for source in extra["batch"])


class Cache(Transformer):
    """Read batches of any size and serve batches of the sizes ``iteration_scheme`` asks for.

    Parameters
    ----------
    data_stream : AbstractDataStream
        A stream of batches.
    iteration_scheme : BatchSizeScheme
        The sizes of the served batches.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import ConstantScheme, SequentialScheme
    >>> from fuel.streams import DataStream
    >>> big = DataStream(IndexableDataset(np.arange(7)), iteration_scheme=SequentialScheme(7, 5))
    >>> [b[0].tolist() for b in Cache(big, ConstantScheme(3)).get_epoch_iterator()]
    [[0, 1, 2], [3, 4, 5], [6]]
    """

    def __init__(self, data_stream: AbstractDataStream, iteration_scheme: IterationScheme, **kwargs: Any):
        if data_stream.produces_examples:
            raise ValueError("Cache needs a stream of batches; this stream produces examples")
        if not isinstance(iteration_scheme, BatchSizeScheme):
            raise ValueError(f"Cache takes a BatchSizeScheme, got {type(iteration_scheme).__name__}")
        super().__init__(data_stream, produces_examples=False, iteration_scheme=iteration_scheme, **kwargs)

    @property
    def num_requests(self) -> int | None:
        """Given by the scheme (``None`` when infinite)."""
        return self.iteration_scheme.num_requests

    @property
    def cache(self) -> list[list[Any]]:
        """What the current epoch holds, per source (Fuel's attribute; a copy, for inspection)."""
        try:
            cursor = self._current_cursor()
        except ValueError:
            cursor = None
        cache = cursor.extra.get("cache") if isinstance(cursor, TransformerCursor) else None
        if cache is None:
            return [[] for _ in self.sources]
        return [list(c) for c in cache]

    def init_cursor(self, cursor: TransformerCursor) -> None:
        super().init_cursor(cursor)
        cursor.extra["cache"] = None

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        super().restore_cursor(cursor, state)
        cache = state.get("cache")
        cursor.extra["cache"] = [np.asarray(c) for c in cache] if cache is not None else None

    def cursor_state(self, cursor: TransformerCursor) -> dict[str, Any]:
        state = super().cursor_state(cursor)
        cache = cursor.extra["cache"]
        state["cache"] = [np.ascontiguousarray(c) for c in cache] if cache is not None else None
        return state

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """Serve ``next(requests)`` examples from the cache, refilling it as needed."""
        request = next(cursor.extra["requests"])
        cache = cursor.extra["cache"]
        while cache is None or len(cache[0]) < request:
            try:
                batch = cursor.child.next()
            except StopIteration:
                if cache is None or not len(cache[0]):
                    raise
                break
            arrays = [stack_examples(b) if not isinstance(b, np.ndarray) else b for b in batch]
            cache = arrays if cache is None else [np.concatenate([c, a]) for c, a in zip(cache, arrays)]
        out = tuple(c[:request] for c in cache)
        cursor.extra["cache"] = [c[request:] for c in cache]
        return out


class Padding(Transformer):
    """Zero-pad variable-length examples of a batch and add ``<source>_mask`` sources.

    Parameters
    ----------
    data_stream : AbstractDataStream
        A stream of batches whose examples have different lengths along their
        first axis (the other axes must agree).
    mask_sources : sequence of str, optional
        Sources to pad (default: all).
    mask_dtype : dtype, optional
        Default ``fuel.config.floatX`` (read when the transformer is created).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> from fuel.streams import DataStream
    >>> seqs = IndexableDataset({"x": [[1, 2, 3], [4]]})
    >>> s = Padding(DataStream(seqs, iteration_scheme=SequentialScheme(2, 2)))
    >>> x, mask = next(s.get_epoch_iterator())
    >>> s.sources, x.tolist(), mask.tolist()
    (('x', 'x_mask'), [[1, 2, 3], [4, 0, 0]], [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        mask_sources: Sequence[str] | None = None,
        mask_dtype: Any = None,
        **kwargs: Any,
    ):
        if data_stream.produces_examples:
            raise ValueError("Padding needs a stream of batches; wrap the example stream in Batch first")
        super().__init__(data_stream, produces_examples=False, **kwargs)
        if mask_sources is None:
            mask_sources = data_stream.sources
        elif isinstance(mask_sources, str):
            raise ValueError(f"mask_sources must be a sequence of names, not the string {mask_sources!r}")
        unknown = [s for s in mask_sources if s not in data_stream.sources]
        if unknown:
            raise ValueError(f"mask_sources {unknown} are not sources of the stream {list(data_stream.sources)}")
        self.mask_sources = tuple(mask_sources)
        from fuel.transformers.simple import resolve_dtype

        self.mask_dtype = resolve_dtype("floatX" if mask_dtype is None else mask_dtype)
        names: list[str] = []
        for source in data_stream.sources:
            names.append(source)
            if source in self.mask_sources:
                names.append(source + "_mask")
        self._sources = tuple(names)

    def transform_batch(self, batch: tuple[Any, ...]) -> tuple[Any, ...]:
        """Pad and mask ``mask_sources``."""
        out: list[Any] = []
        mask_dtype = self.mask_dtype
        for source, data in zip(self.data_stream.sources, batch):
            if source not in self.mask_sources:
                out.append(data)
                continue
            examples = [np.asarray(example) for example in data]
            if not examples:
                raise ValueError(f"cannot pad an empty batch of source {source!r}")
            lengths = [len(example) if example.ndim else 1 for example in examples]
            rest = {example.shape[1:] for example in examples}
            if len(rest) != 1:
                raise ValueError(f"source {source!r}: examples differ in shape beyond their first axis: {sorted(rest)}")
            dtype = np.result_type(*examples)
            padded = np.zeros((len(examples), max(lengths), *rest.pop()), dtype=dtype)
            mask = np.zeros((len(examples), max(lengths)), dtype=mask_dtype)
            for i, (example, length) in enumerate(zip(examples, lengths)):
                padded[i, :length] = example
                mask[i, :length] = 1
            out.extend((padded, mask))
        return tuple(out)
