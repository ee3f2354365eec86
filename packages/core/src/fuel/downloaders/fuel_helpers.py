"""Fuel's download helpers for hand-written downloaders: ``download``, ``filename_from_url``, ...

Fuel's downloaders were functions ``f(directory, urls, filenames, url_prefix=None,
clear=False)``; :func:`fuel.downloaders.default_downloader` still accepts those
arguments (they become :class:`~fuel.downloaders.FileSpec` objects without a
checksum, so the files are recorded as unverified, unless a dataset plugin
registered the file at that URL: see :mod:`fuel.downloaders.known_files`). The names below are also
importable from ``fuel.downloaders.base``, where Fuel had them.

Examples
--------
>>> fuel_file_specs(["https://example.org/data/a.gz", None], ["a.gz", "b.gz"],
...                 url_prefix="https://mirror.example.org/")[1].urls
('https://mirror.example.org/b.gz',)
"""

from __future__ import annotations

import email.message
import logging
import os
import posixpath
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Sequence

from fuel.downloaders.base import USER_AGENT, DownloadError, FileSpec
from fuel.downloaders.known_files import known_file

__all__ = ["NeedURLPrefix", "download", "ensure_directory_exists", "filename_from_url", "fuel_file_specs"]

logger = logging.getLogger(__name__)


class NeedURLPrefix(DownloadError):
    """A file has no URL and no ``url_prefix`` was given to build one (Fuel's exception).

    Examples
    --------
    >>> issubclass(NeedURLPrefix, DownloadError)
    True
    """


def ensure_directory_exists(directory: str) -> None:
    """Create ``directory`` and its parents unless it exists; ``OSError`` if that fails (e.g. a file is there).

    Examples
    --------
    >>> import tempfile, os
    >>> d = os.path.join(tempfile.mkdtemp(), "a", "b")
    >>> ensure_directory_exists(d); ensure_directory_exists(d); os.path.isdir(d)
    True
    """
    os.makedirs(directory, exist_ok=True)


def _open(url: str, timeout: float) -> Any:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"{url}: unsupported URL scheme {scheme!r}; use http, https or file")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https/file only)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: {getattr(err, 'reason', err)}") from err


def _safe_name(name: str | None) -> str:
    """The last path component of a server-given name; ``''`` when nothing usable remains."""
    if not name:
        return ""
    base = posixpath.basename(name.replace("\\", "/")).strip()
    if base in (".", "..") or "\x00" in base:
        return ""
    if base != name:
        logger.warning("the server suggested the file name %r; using %r", name, base)
    return base


def filename_from_url(url: str, path: str | None = None, timeout: float = 60.0) -> str:
    """The file name a URL downloads to (Fuel's function).

    The server's ``Content-Disposition`` name when it sends one (reduced to
    its last path component, so a hostile name such as ``../../.bashrc``
    cannot leave the download directory), else the last component of the
    URL's path (``''`` if the path ends with ``/``). Only the headers are
    read.

    Parameters
    ----------
    url : str
        ``http``, ``https`` or ``file`` URL.
    path : str, optional
        Unused (Fuel's signature).
    timeout : float
        Seconds to wait for the server.

    Raises
    ------
    DownloadError
        The server cannot be reached or answers with an HTTP error.

    Examples
    --------
    >>> filename_from_url("file:///tmp")  # doctest: +SKIP
    'tmp'
    """
    with _open(url, timeout) as response:
        disposition = response.headers.get("Content-Disposition")
    if disposition:
        message = email.message.Message()
        message["Content-Disposition"] = disposition
        name = _safe_name(message.get_filename())
        if name:
            return name
    return os.path.basename(urllib.parse.urlparse(url).path)


def download(url: str, file_handle: IO[bytes], chunk_size: int = 1024, timeout: float = 60.0) -> int:
    """Write the content at ``url`` to an open binary file (Fuel's function).

    Nothing is verified (no checksum is known here); a body shorter than the
    server's ``Content-Length`` is an error. Prefer
    :func:`fuel.downloaders.download_file`, which verifies, resumes and
    retries.

    Parameters
    ----------
    url : str
        ``http``, ``https`` or ``file`` URL.
    file_handle : binary file
        Where to write.
    chunk_size : int
        Bytes per read.
    timeout : float
        Seconds without data before giving up.

    Returns
    -------
    int
        Bytes written.

    Raises
    ------
    DownloadError
        HTTP error, unreachable server, or a body cut short.

    Examples
    --------
    >>> import io
    >>> download("file:///dev/null", io.BytesIO())  # doctest: +SKIP
    0
    """
    from fuel.downloaders.base import _progress

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    with _open(url, timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        name = getattr(file_handle, "name", None)
        desc = os.path.basename(name) if isinstance(name, str) else os.path.basename(urllib.parse.urlsplit(url).path)
        written = 0
        with _progress(expected, 0, desc or url, sys.stderr.isatty()) as bar:
            try:
                for chunk in iter(lambda: response.read(chunk_size), b""):
                    file_handle.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            except (OSError, ValueError) as err:  # a reset or cut connection
                raise DownloadError(f"{url}: connection lost after {written} bytes: {err!r}") from err
    if expected is not None and written < expected:
        raise DownloadError(f"{url}: the connection closed after {written} of {expected} bytes")
    return written


def fuel_file_specs(
    urls: Sequence[str | None] | None,
    filenames: Sequence[str | None] | None,
    url_prefix: str | None = None,
    need_urls: bool = True,
) -> list[FileSpec]:
    """:class:`FileSpec` objects for Fuel's ``urls``, ``filenames`` and ``url_prefix``.

    As in Fuel, a missing file name is asked from the server
    (:func:`filename_from_url`) and a missing URL is ``url_prefix`` + the file
    name. A file a plugin registered at that URL
    (:func:`fuel.downloaders.known_files.register_known_files`) gets its
    registered spec (checksum, sources; the URL is tried last); any other has
    no checksum.

    Raises
    ------
    ValueError
        The lists differ in length, or no file name is available for a URL.
    NeedURLPrefix
        A file has no URL and ``url_prefix`` is not given (only when
        ``need_urls``: clearing files needs no URL).
    """
    if isinstance(urls, str) or isinstance(filenames, str):
        raise ValueError("urls and filenames must be lists (one entry per file), not strings")
    urls = list(urls) if urls is not None else [None] * len(filenames or ())
    names = list(filenames) if filenames is not None else [None] * len(urls)
    if len(urls) != len(names):
        raise ValueError(f"urls and filenames must be lists of the same length, got {len(urls)} and {len(names)}")
    specs = []
    for url, name in zip(urls, names):
        if not name and url:
            name = filename_from_url(url)
        if not name:
            raise ValueError(f"no filename available for URL {url!r}; give it in filenames")
        if not url:
            if url_prefix is None:
                if need_urls:
                    raise NeedURLPrefix(f"{name} has no URL: give its URL in urls or pass url_prefix")
            else:
                url = url_prefix + name
        known = known_file(name, url)
        if known is not None:
            logger.info("%s at %s is a known file: downloaded from its sources and checked", name, url)
            specs.append(known)
        else:
            specs.append(FileSpec(name, (url,) if url else ()))
    return specs
