"""What the dataset modules share: download/convert plumbing and the data-path dataset base."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

from fuel.downloaders import FileSpec, default_downloader

__all__ = ["files_downloader", "output_path", "urls"]


def urls(filename: str, *bases: str) -> tuple[str, ...]:
    """The URLs of ``filename`` under several base URLs, in order.

    Examples
    --------
    >>> urls("a.gz", "https://x.org/d/", "http://y.org/d")
    ('https://x.org/d/a.gz', 'http://y.org/d/a.gz')
    """
    return tuple(base.rstrip("/") + "/" + filename for base in bases)


def files_downloader(files: Callable[[], Sequence[FileSpec]]) -> Callable[[Any], Callable[..., Any]]:
    """A Fuel ``fill_subparser`` for a dataset whose files are ``files()`` (looked up when it runs)."""

    def download(**kwargs: Any) -> list[str]:
        return default_downloader(files=files(), **kwargs)

    def fill_subparser(subparser: Any) -> Callable[..., Any]:
        return download

    return fill_subparser


def output_path(output_directory: str, output_filename: str) -> str:
    """Where a converter writes (the directory must exist)."""
    return os.path.join(output_directory, output_filename)


def names(files: Iterable[FileSpec]) -> list[str]:
    """File names of specs."""
    return [spec.filename for spec in files]
