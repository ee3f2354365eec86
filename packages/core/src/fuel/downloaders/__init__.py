"""Download helpers used by dataset plugins and ``fuel-download``.

A dataset's ``fill_subparser(subparser)`` adds its arguments and returns the
function to call, typically :func:`default_downloader` with its files given as
:class:`FileSpec` objects (``subparser.set_defaults(files=...)``), exactly as
Fuel's downloaders set ``urls`` and ``filenames``.
"""

from __future__ import annotations

from fuel.downloaders.base import (
    ChecksumError,
    DownloadError,
    FileSpec,
    HTMLPageError,
    ManualDownloadRequired,
    default_downloader,
    download_file,
    file_digest,
    manual_downloader,
    mirror_url,
    resolve_mirrors,
    verify_file,
)
from fuel.downloaders.manifest import MANIFEST_NAME, verification_status

__all__ = [
    "MANIFEST_NAME",
    "ChecksumError",
    "DownloadError",
    "FileSpec",
    "HTMLPageError",
    "ManualDownloadRequired",
    "default_downloader",
    "download_file",
    "file_digest",
    "manual_downloader",
    "mirror_url",
    "resolve_mirrors",
    "verification_status",
    "verify_file",
]
