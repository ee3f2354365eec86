"""What the dataset modules share: download/convert plumbing and the data-path dataset base."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

from fuel.downloaders import FileSpec, default_downloader

__all__ = ["files_downloader", "fuel_fill_subparser", "output_path", "urls"]


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


def fuel_fill_subparser(fuel_urls: Sequence[str], filenames: Sequence[str]) -> Callable[[Any], Callable[..., Any]]:
    """Fuel's ``fill_subparser`` of a dataset: sets Fuel's ``urls`` and ``filenames``, returns ``default_downloader``.

    The dataset module registers its files (``register_known_files``, with
    ``fuel_urls`` as aliases), so the download is checked against the
    published checksums and uses the live sources first.
    """

    def fill_subparser(subparser: Any) -> Callable[..., Any]:
        subparser.set_defaults(urls=list(fuel_urls), filenames=list(filenames))
        return default_downloader

    fill_subparser.__doc__ = (
        "Fuel's ``fill_subparser``: sets ``urls`` and ``filenames`` to the files Fuel downloaded and returns "
        "``default_downloader`` (the files are checked against their published checksums; "
        "``fill_download_subparser`` is what ``fuel-download`` uses)."
    )
    return fill_subparser


def output_path(output_directory: str, output_filename: str) -> str:
    """Where a converter writes (the directory must exist)."""
    return os.path.join(output_directory, output_filename)


def names(files: Iterable[FileSpec]) -> list[str]:
    """File names of specs."""
    return [spec.filename for spec in files]
