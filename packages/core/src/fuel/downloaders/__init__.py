"""Download helpers used by dataset plugins and ``fuel-download``.

A dataset's ``fill_subparser(subparser)`` adds its arguments and returns the
function to call, typically :func:`default_downloader` with its files given as
:class:`FileSpec` objects (``subparser.set_defaults(files=...)``), as Fuel's
downloaders set ``urls`` and ``filenames`` — which also still work (without
checksums, unless a plugin registered the file: :func:`register_known_files`).
Fuel's helpers ``download``, ``filename_from_url``, ``ensure_directory_exists``
and ``NeedURLPrefix`` are here and in ``fuel.downloaders.base``
(:mod:`fuel.downloaders.fuel_helpers`). What ``fuel-download`` and
``fuel-convert`` pass to a dataset's functions is :mod:`fuel.downloaders.commands`
(:data:`DOWNLOAD_KEYWORDS`, :data:`CONVERT_KEYWORDS`).
"""

from __future__ import annotations

from fuel.downloaders.base import (
    ChecksumError,
    DownloadError,
    FileSpec,
    HTMLPageError,
    ManualDownloadRequired,
    SourceHealth,
    SourceUnavailable,
    default_downloader,
    download_file,
    file_digest,
    manual_downloader,
    mirror_url,
    resolve_mirrors,
    verify_file,
)
from fuel.downloaders.commands import CONVERT_KEYWORDS, DOWNLOAD_KEYWORDS, files_downloader, urls_under
from fuel.downloaders.fuel_helpers import (
    NeedURLPrefix,
    download,
    ensure_directory_exists,
    filename_from_url,
)
from fuel.downloaders.known_files import known_file, register_known_files
from fuel.downloaders.manifest import MANIFEST_NAME, verification_status

__all__ = [
    "CONVERT_KEYWORDS",
    "DOWNLOAD_KEYWORDS",
    "MANIFEST_NAME",
    "ChecksumError",
    "DownloadError",
    "FileSpec",
    "HTMLPageError",
    "ManualDownloadRequired",
    "NeedURLPrefix",
    "SourceHealth",
    "SourceUnavailable",
    "default_downloader",
    "download",
    "download_file",
    "ensure_directory_exists",
    "file_digest",
    "filename_from_url",
    "files_downloader",
    "known_file",
    "manual_downloader",
    "mirror_url",
    "register_known_files",
    "resolve_mirrors",
    "urls_under",
    "verification_status",
    "verify_file",
]
