"""Fake distributions and entry points, to test discovery without installing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeDistribution", "FakeEntryPoint", "fake_entry_points"]


@dataclass
class FakeDistribution:
    """Stands in for :class:`importlib.metadata.Distribution`.

    Examples
    --------
    >>> FakeDistribution("blocks-demo", "1.0").name
    'blocks-demo'
    """

    name: str
    version: str = "0.0.1"


@dataclass
class FakeEntryPoint:
    """Stands in for :class:`importlib.metadata.EntryPoint`.

    Parameters
    ----------
    name : str
        Entry-point name (by convention the distribution name).
    target : object or callable
        What ``load()`` returns; if it is an exception instance or class,
        ``load()`` raises it (a broken plugin).
    dist : FakeDistribution
        The owning distribution.

    Examples
    --------
    >>> ep = FakeEntryPoint("blocks-demo", ImportError("no module named demo"))
    >>> ep.load()
    Traceback (most recent call last):
    ...
    ImportError: no module named demo
    """

    name: str
    target: Any
    dist: FakeDistribution | None = None
    value: str = field(default="")
    group: str = "blocks"

    def __post_init__(self) -> None:
        if self.dist is None:
            self.dist = FakeDistribution(self.name)
        if not self.value:
            self.value = getattr(self.target, "__name__", repr(self.target))

    def load(self) -> Any:
        target = self.target
        if isinstance(target, BaseException):
            raise target
        if isinstance(target, type) and issubclass(target, BaseException):
            raise target(f"cannot import {self.name}")
        return target


def fake_entry_points(*entry_points: FakeEntryPoint) -> Callable[[], Iterable[FakeEntryPoint]]:
    """A source of entry points for :class:`~blocks.plugins.PluginHost`."""
    return lambda: list(entry_points)
