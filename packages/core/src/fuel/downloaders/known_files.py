"""Files whose checksums and sources are known, found by file name and URL.

Fuel's downloaders named files by URL and file name only
(``default_downloader(directory, urls=..., filenames=...)``), without a
checksum. Dataset plugins register the :class:`~fuel.downloaders.FileSpec` of
every file they know (:func:`register_known_files`), together with the URLs
Fuel used for it; a Fuel-style call for such a file then downloads it as the
plugin would: checked against its published checksum, from its live sources
first (the URL given is tried last).

Examples
--------
>>> from fuel.downloaders import FileSpec
>>> spec = FileSpec("a.gz", ("https://new.example.org/a.gz",), sha256="0" * 64)
>>> register_known_files([spec], aliases={"a.gz": ["http://old.example.org/a.gz"]})
>>> known_file("a.gz", "http://old.example.org/a.gz").urls
('https://new.example.org/a.gz', 'http://old.example.org/a.gz')
>>> known_file("a.gz", "http://elsewhere.example.org/a.gz") is None
True
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence

from fuel.downloaders.base import FileSpec

__all__ = ["known_file", "register_known_files"]

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_KNOWN: dict[tuple[str, str], FileSpec] = {}
_CONFLICTS: set[tuple[str, str]] = set()


def register_known_files(specs: Iterable[FileSpec], aliases: Mapping[str, Sequence[str]] | None = None) -> None:
    """Make Fuel-style downloads of these files use their specs.

    Parameters
    ----------
    specs : iterable of FileSpec
        The files (each is found by its file name and any of its URLs).
    aliases : mapping, optional
        ``{filename: [url, ...]}``: other URLs the same file was published at
        (e.g. the ones Fuel's downloaders used).

    Raises
    ------
    ValueError
        For something that is not a ``FileSpec`` or an alias of a file not in
        ``specs``. A (file name, URL) pair registered again with another spec
        is logged and forgotten: neither spec is trusted for it.
    """
    specs = list(specs)
    wrong = [s for s in specs if not isinstance(s, FileSpec)]
    if wrong:
        raise ValueError(f"register_known_files takes FileSpec objects, got {wrong[0]!r}")
    by_name = {spec.filename: spec for spec in specs}
    aliases = dict(aliases or {})
    stray = sorted(set(aliases) - set(by_name))
    if stray:
        raise ValueError(f"aliases name files that are not among the specs: {stray}")
    entries: dict[tuple[str, str], FileSpec] = {}
    for spec in specs:
        for url in (*spec.urls, *aliases.get(spec.filename, ())):
            entries[(spec.filename, url)] = spec
    with _LOCK:
        for key, spec in entries.items():
            if key in _CONFLICTS:
                continue
            if key in _KNOWN and _KNOWN[key] != spec:
                logger.warning(
                    "%s at %s is registered twice with different checksums or sources; Fuel-style downloads of it "
                    "are not checked", *key,
                )
                del _KNOWN[key]
                _CONFLICTS.add(key)
                continue
            _KNOWN[key] = spec


def known_file(filename: str, url: str | None) -> FileSpec | None:
    """The registered spec of ``filename`` published at ``url`` (``url`` appended to its URLs), else ``None``."""
    if not url:
        return None
    with _LOCK:
        spec = _KNOWN.get((filename, url))
    if spec is None:
        return None
    if url not in spec.urls:
        spec = dataclasses.replace(spec, urls=(*spec.urls, url))
    return spec
