"""What a dataset plugin gives ``fuel-download`` and ``fuel-convert``: the calling contract and helpers.

A dataset registered with ``register(name, cls, download=..., convert=...)``
names two ``fill_subparser(subparser)`` functions. ``fuel-download NAME``
calls the first with the dataset's argparse subparser: it may add options of
its own (not the command's: see :data:`DOWNLOAD_KEYWORDS`) and returns the
function to run. That function is called with keyword arguments only: every
name of :data:`DOWNLOAD_KEYWORDS` plus the ``dest`` of each option it added.
``fuel-convert NAME`` does the same with :data:`CONVERT_KEYWORDS`.

A function that does not accept one of these names is reported before it
runs, naming the plugin; the simplest correct signature takes ``**kwargs`` and
passes them on (:func:`default_downloader` accepts all of
:data:`DOWNLOAD_KEYWORDS`).

Examples
--------
>>> sorted(DOWNLOAD_KEYWORDS)
['clear', 'directory', 'mirrors', 'progress', 'retries', 'timeout', 'verify']
>>> sorted(CONVERT_KEYWORDS)
['directory', 'output_directory', 'output_filename']
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from fuel.downloaders.base import FileSpec, default_downloader

__all__ = ["CONVERT_KEYWORDS", "DOWNLOAD_KEYWORDS", "files_downloader", "urls_under"]

DOWNLOAD_KEYWORDS: Mapping[str, str] = {
    "directory": "str: where to save the files (-d/--directory, default '.')",
    "clear": "bool: delete the dataset's files instead of downloading them (--clear)",
    "mirrors": "list of str: base URLs or local directories to try before the files' own URLs (--mirror, "
               "repeatable; FUEL_MIRRORS is added by default_downloader)",
    "verify": "bool: check each file's sha256 and size (False with --no-verify)",
    "timeout": "float: seconds without data before a connection is abandoned (--timeout, default 60)",
    "retries": "int: retries per source after a transient failure (--retries, default 3)",
    "progress": "bool: show a progress bar (False with --no-progress)",
}
"""Keyword arguments every download function receives, besides its own options: name -> meaning."""

CONVERT_KEYWORDS: Mapping[str, str] = {
    "directory": "str: the directory holding the downloaded files (-d/--directory, default '.')",
    "output_directory": "str: an existing directory to write the converted file to (-o, default '.')",
    "output_filename": "str: the output file name (-r); passed only when given, so declare a default",
}
"""Keyword arguments every convert function receives, besides its own options: name -> meaning.

``output_filename`` is left out when the user does not give ``-r``: the
function's own default names the file (and, when it ends in ``.hdf5``, tells
``fuel-convert`` that the function writes HDF5).
"""


def urls_under(filename: str, *bases: str) -> tuple[str, ...]:
    """The URLs of ``filename`` under several base URLs, in order (a file and its mirrors).

    Examples
    --------
    >>> urls_under("a.gz", "https://x.org/d/", "http://y.org/d")
    ('https://x.org/d/a.gz', 'http://y.org/d/a.gz')
    """
    return tuple(base.rstrip("/") + "/" + filename for base in bases)


def files_downloader(files: Callable[[], Sequence[FileSpec]]) -> Callable[[Any], Callable[..., list[str]]]:
    """A ``fill_subparser`` for a dataset whose files are ``files()`` (looked up when the command runs).

    It adds no option; the function it returns passes every keyword argument
    of :data:`DOWNLOAD_KEYWORDS` on to :func:`default_downloader`.

    Parameters
    ----------
    files : callable
        Returns the :class:`FileSpec` of every file (URLs, sha256, size).

    Examples
    --------
    >>> import argparse
    >>> fill = files_downloader(lambda: [FileSpec("a.txt", ("https://example.org/a.txt",))])
    >>> download = fill(argparse.ArgumentParser())
    >>> download(directory="/tmp/none", clear=True)
    []
    """

    def download(**kwargs: Any) -> list[str]:
        return default_downloader(files=files(), **kwargs)

    def fill_subparser(subparser: Any) -> Callable[..., list[str]]:
        return download

    return fill_subparser
