"""What the dataset modules share beyond :mod:`fuel.downloaders` (``files_downloader``, ``urls_under``)."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

from fuel.downloaders import FileSpec, default_downloader, files_downloader, urls_under

__all__ = ["files_downloader", "fuel_fill_subparser", "output_path", "urls"]

urls = urls_under
"""Kept for code that imported it from here: :func:`fuel.downloaders.urls_under`."""


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
