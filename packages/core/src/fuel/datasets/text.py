"""TextFile: sentences from text files as lists of token ids (as in Fuel).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
>>> _ = open(path, "w").write("the cat\\nthe dog\\n")
>>> vocab = {"<S>": 0, "</S>": 1, "<UNK>": 2, "the": 3, "cat": 4}
>>> ds = TextFile([path], vocab)
>>> state = ds.open(); ds.get_data(state), ds.get_data(state)
(([0, 3, 4, 1],), ([0, 3, 2, 1],))
>>> ds.close(state)
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fuel.datasets.base import Dataset

__all__ = ["TextFile"]


class _TextState:
    __slots__ = ("lines", "handles")

    def __init__(self, lines: Any, handles: list[Any]):
        self.lines = lines
        self.handles = handles


class TextFile(Dataset):
    """One sentence per line, turned into token ids.

    Parameters
    ----------
    files : sequence of str
        Text files read in order (``.gz`` files are decompressed).
    dictionary : dict or str
        ``{token: id}``, or the path of a JSON file holding it.
    bos_token, eos_token : str or None
        Added at the start / end of every sentence (``None``: not added).
    unk_token : str or None
        Replaces tokens missing from the dictionary (``None``: an error).
    level : {'word', 'character'}
        Split lines on whitespace, or into characters.
    preprocess : callable, optional
        Applied to every line before splitting (e.g. ``str.lower``).
    encoding : str, optional
        File encoding (default UTF-8).

    Examples
    --------
    >>> TextFile.provides_sources
    ('features',)
    """

    provides_sources = ("features",)
    example_iteration_scheme = None  # read line by line, without requests

    def __init__(
        self,
        files: Sequence[str],
        dictionary: Mapping[str, int] | str,
        bos_token: str | None = "<S>",
        eos_token: str | None = "</S>",
        unk_token: str | None = "<UNK>",
        level: str = "word",
        preprocess: Callable[[str], str] | None = None,
        encoding: str | None = None,
        **kwargs: Any,
    ):
        if isinstance(files, (str, os.PathLike)):
            files = [os.fspath(files)]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise ValueError(f"text file(s) not found: {missing}")
        if level not in ("word", "character"):
            raise ValueError(f"level must be 'word' or 'character', got {level!r}")
        if isinstance(dictionary, (str, os.PathLike)):
            try:
                with open(dictionary, encoding="utf-8") as handle:
                    dictionary = json.load(handle)
            except (OSError, ValueError) as err:
                raise ValueError(f"dictionary {dictionary!r} is not a readable JSON {{token: id}} file: {err}") from err
        if not isinstance(dictionary, Mapping):
            raise ValueError(f"dictionary must be a dict or a JSON file path, got {type(dictionary).__name__}")
        for name, token in (("bos_token", bos_token), ("eos_token", eos_token), ("unk_token", unk_token)):
            if token is not None and token not in dictionary:
                raise ValueError(f"{name} {token!r} is not in the dictionary; add it or pass {name}=None")
        self.files = [os.fspath(f) for f in files]
        self.dictionary = dict(dictionary)
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.unk_token = unk_token
        self.level = level
        self.preprocess = preprocess
        self.encoding = encoding or "utf-8"
        super().__init__(**kwargs)

    def _open(self, path: str) -> io.TextIOBase:
        if path.endswith(".gz"):
            return gzip.open(path, "rt", encoding=self.encoding)  # type: ignore[return-value]
        return open(path, encoding=self.encoding)

    def open(self) -> _TextState:
        """Open the files lazily, one after the other."""
        handles: list[Any] = []

        def lines() -> Any:
            for path in self.files:
                handle = self._open(path)
                handles.append(handle)
                try:
                    yield from handle
                finally:
                    handle.close()

        return _TextState(lines(), handles)

    def skip(self, state: _TextState, count: int) -> None:
        """Skip ``count`` sentences (resuming)."""
        next(itertools.islice(state.lines, count, count), None)

    def close(self, state: _TextState) -> None:
        """Close the open file."""
        if state is not None:
            state.lines.close()
            for handle in state.handles:
                handle.close()

    def get_data(self, state: Any = None, request: Any = None) -> tuple[list[int]]:
        """The next sentence as token ids."""
        if request is not None:
            raise ValueError(f"TextFile takes no requests, got {request!r}")
        if state is None:
            raise ValueError("TextFile.get_data needs the state returned by open()")
        line = next(state.lines).rstrip("\n")
        if self.preprocess is not None:
            line = self.preprocess(line)
        tokens = line.split() if self.level == "word" else list(line)
        ids = []
        if self.bos_token is not None:
            ids.append(self.dictionary[self.bos_token])
        unk = self.dictionary.get(self.unk_token) if self.unk_token is not None else None
        for token in tokens:
            value = self.dictionary.get(token, unk)
            if value is None:
                raise ValueError(f"token {token!r} is not in the dictionary and unk_token is None")
            ids.append(value)
        if self.eos_token is not None:
            ids.append(self.dictionary[self.eos_token])
        return (ids,)
