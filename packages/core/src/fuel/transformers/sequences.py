"""Sliding windows over sequences: Window and NGrams.

Examples
--------
>>> from fuel.datasets import IndexableDataset
>>> from fuel.streams import DataStream
>>> sentences = DataStream(IndexableDataset({"words": [[1, 2, 3, 4]]}))
>>> list(NGrams(2, sentences).get_epoch_iterator())
[([1, 2], 3), ([2, 3], 4)]
"""

from __future__ import annotations

from typing import Any

from fuel.streams import AbstractDataStream
from fuel.transformers.base import Transformer, TransformerCursor

__all__ = ["NGrams", "Window"]


class Window(Transformer):
    """Pairs of sliding source and target windows over sequences (as in Fuel).

    Parameters
    ----------
    offset : int
        Where the target window starts relative to the source window's start
        (plus ``source_window`` unless ``overlapping``).
    source_window, target_window : int
        Window lengths.
    overlapping : bool
        Whether the target window may overlap the source window.
    data_stream : AbstractDataStream
        A stream of single sequences with one source.
    target_source : str
        Name of the target source.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> s = Window(1, 2, 2, True, DataStream(IndexableDataset({"x": [[1, 2, 3, 4]]})))
    >>> s.sources, list(s.get_epoch_iterator())
    (('x', 'targets'), [([1, 2], [2, 3]), ([2, 3], [3, 4])])
    """

    def __init__(
        self,
        offset: int,
        source_window: int,
        target_window: int,
        overlapping: bool,
        data_stream: AbstractDataStream,
        target_source: str = "targets",
        **kwargs: Any,
    ):
        if not data_stream.produces_examples:
            raise ValueError("the wrapped stream must produce examples (sequences), not batches")
        if len(data_stream.sources) != 1:
            raise ValueError(f"{type(self).__name__} expects one source, got {list(data_stream.sources)}")
        if source_window < 1 or target_window < 1:
            raise ValueError("source_window and target_window must be >= 1")
        super().__init__(data_stream, produces_examples=True, **kwargs)
        self.offset = int(offset)
        self.source_window = int(source_window)
        self.target_window = int(target_window)
        self.overlapping = bool(overlapping)
        self.target_source = target_source

    def _source_names(self) -> tuple[str, ...]:
        return tuple(self.data_stream.sources) + (self.target_source,)

    @property
    def num_requests(self) -> None:
        """Unknown (depends on the sequence lengths)."""
        return None

    def _start_index(self) -> int:
        return -min(0, self._target_index(0))

    def _target_index(self, index: int) -> int:
        return index + self.source_window * (not self.overlapping) + self.offset

    def _end_index(self, index: int) -> int:
        return max(index + self.source_window, self._target_index(index) + self.target_window)

    def init_cursor(self, cursor: TransformerCursor) -> None:
        cursor.extra.update(sentence=(), index=0, before=cursor.child.state_dict())

    def restore_cursor(self, cursor: TransformerCursor, state: dict[str, Any]) -> None:
        before = state.get("before")
        cursor.extra.update(sentence=(), index=0, before=before)
        if before is not None and state.get("has_sentence"):
            cursor.child.close()
            cursor.child = self.data_stream.open_cursor(cursor.epoch, before)
            (sentence,) = cursor.child.next()
            cursor.extra.update(sentence=sentence, index=int(state["index"]))

    def cursor_state(self, cursor: TransformerCursor) -> dict[str, Any]:
        extra = cursor.extra
        return {"before": extra["before"], "index": extra["index"], "has_sentence": len(extra["sentence"]) > 0}

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """The next (source window, target window) pair."""
        extra = cursor.extra
        while self._end_index(extra["index"]) > len(extra["sentence"]):
            before = cursor.child.state_dict()
            (sentence,) = cursor.child.next()
            extra.update(sentence=sentence, index=self._start_index(), before=before)
        index = extra["index"]
        sentence = extra["sentence"]
        target = self._target_index(index)
        extra["index"] = index + 1
        return (sentence[index : index + self.source_window], sentence[target : target + self.target_window])


class NGrams(Window):
    """n-grams and the token that follows them.

    Parameters
    ----------
    ngram_order : int
        ``n``.
    data_stream : AbstractDataStream
        A stream of single sequences with one source.
    target_source : str
        Name of the next-token source.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> list(NGrams(3, DataStream(IndexableDataset({"w": [[5, 6, 7, 8]]}))).get_epoch_iterator())
    [([5, 6, 7], 8)]
    """

    def __init__(self, ngram_order: int, data_stream: AbstractDataStream, target_source: str = "targets",
                 **kwargs: Any):
        super().__init__(0, ngram_order, 1, False, data_stream, target_source, **kwargs)
        self.ngram_order = int(ngram_order)

    def get_data_from(self, cursor: TransformerCursor) -> tuple[Any, ...]:
        """The next (n-gram, next token) pair."""
        source, target = super().get_data_from(cursor)
        return (source, target[0])
