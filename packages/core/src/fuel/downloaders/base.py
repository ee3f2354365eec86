"""Verified, resumable, mirrored downloads for ``fuel-download``.

Every file a dataset needs is described by a :class:`FileSpec`: its name, the
URLs it can be fetched from (tried in order), and its published sha256 and size.
:func:`download_file` tries mirrors first (``--mirror URL`` and the ``mirrors``
option of :data:`fuel.config`, i.e. ``FUEL_MIRRORS``), then the dataset's own
URLs; it resumes partial downloads with HTTP ``Range`` requests, retries
transient failures, refuses HTML pages served in place of data, and checks the
sha256 and the size of every file unless verification is switched off, which is
loud and recorded (see :mod:`fuel.downloaders.manifest`).

Only the standard library is used (``urllib``); the progress bar is ``tqdm``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from fuel.downloaders import manifest as _manifest

__all__ = [
    "ChecksumError",
    "DownloadError",
    "FileSpec",
    "HTMLPageError",
    "ManualDownloadRequired",
    "SourceHealth",
    "SourceUnavailable",
    "default_downloader",
    "download_file",
    "file_digest",
    "manual_downloader",
    "mirror_url",
    "resolve_mirrors",
    "verify_file",
]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
USER_AGENT = "fuel-download (blocks-core; +https://github.com/mila-iqia/fuel)"
_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<!-- ")
_GOOGLE_DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com", "googleusercontent.com")


class DownloadError(ValueError):
    """A file could not be obtained from any of its URLs.

    Examples
    --------
    >>> issubclass(DownloadError, ValueError)
    True
    """


class ChecksumError(DownloadError):
    """A downloaded or present file does not match its published sha256/size.

    Examples
    --------
    >>> issubclass(ChecksumError, DownloadError)
    True
    """


class HTMLPageError(DownloadError):
    """A server answered with an HTML page (error page, login, quota or virus-scan notice) instead of data.

    Examples
    --------
    >>> "HTML" in str(_html_error("https://x.org/a.gz", b"<html><title>Quota</title></html>"))
    True
    """


class ManualDownloadRequired(DownloadError):
    """Files without public URLs must be placed by hand; the message says how.

    Examples
    --------
    >>> issubclass(ManualDownloadRequired, DownloadError)
    True
    """


@dataclass(frozen=True)
class FileSpec:
    """A file a dataset needs, where to get it and how to check it.

    Parameters
    ----------
    filename : str
        Name of the file in the download directory.
    urls : tuple of str
        URLs tried in order after the mirrors (``https://``, ``http://`` or
        ``file://``). Empty for files that must be placed by hand.
    sha256 : str, optional
        Published sha256 (hex). ``None`` when no checksum is published.
    size : int, optional
        Size in bytes. ``None`` when unknown.
    md5 : str, optional
        Published md5, checked only when no sha256 is known (some datasets
        publish only md5).

    Examples
    --------
    >>> spec = FileSpec("iris.data", ("https://example.org/iris.data",), size=4551)
    >>> spec.checksum_known
    True
    """

    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None

    def __post_init__(self) -> None:
        if not self.filename or os.sep in self.filename or self.filename in {".", ".."}:
            raise ValueError(f"FileSpec filename must be a plain file name, got {self.filename!r}")
        if isinstance(self.urls, str):
            raise ValueError(f"FileSpec urls must be a tuple of URLs, got the string {self.urls!r}")

    @property
    def checksum_known(self) -> bool:
        """Whether a digest or a size can be checked."""
        return bool(self.sha256 or self.md5 or self.size is not None)


def file_digest(path: str, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     file_digest(f.name)[:8]
    'e3b0c442'
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str, spec: FileSpec) -> tuple[str | None, str]:
    """Check a file against its spec.

    Returns
    -------
    problem : str or None
        ``None`` when the file matches, else what does not match.
    sha256 : str
        The file's actual sha256.
    """
    size = os.path.getsize(path)
    if spec.size is not None and size != spec.size:
        return f"size is {size} bytes, expected {spec.size}", ""
    actual = file_digest(path)
    if spec.sha256 and actual != spec.sha256.lower():
        return f"sha256 is {actual}, expected {spec.sha256.lower()}", actual
    if not spec.sha256 and spec.md5:
        md5 = file_digest(path, "md5")
        if md5 != spec.md5.lower():
            return f"md5 is {md5}, expected {spec.md5.lower()}", actual
    return None, actual


def resolve_mirrors(mirrors: Iterable[str] | None = None) -> list[str]:
    """Mirrors to try first: the given ones, then ``fuel.config.mirrors`` (``FUEL_MIRRORS``).

    Plain directory paths are accepted and turned into ``file://`` URLs.
    """
    from fuel import config

    out: list[str] = []
    for mirror in [*(mirrors or ()), *config.mirrors]:
        if "://" not in mirror:
            mirror = "file://" + os.path.abspath(os.path.expanduser(mirror))
        if mirror not in out:
            out.append(mirror)
    return out


def mirror_url(mirror: str, filename: str) -> str:
    """The URL of ``filename`` on a mirror (a base URL or directory).

    Examples
    --------
    >>> mirror_url("https://mirror.example.org/mnist/", "t10k-labels-idx1-ubyte.gz")
    'https://mirror.example.org/mnist/t10k-labels-idx1-ubyte.gz'
    """
    return mirror.rstrip("/") + "/" + urllib.parse.quote(filename)


class _Transient(Exception):
    """A failure worth retrying (timeout, reset connection, truncated body, 5xx)."""


class SourceUnavailable(DownloadError):
    """A source failed in a way that is not about one file (refused, unreachable, hanging, 5xx).

    :class:`SourceHealth` remembers it, and the rest of the run skips the source.
    """


class SourceHealth:
    """The sources that failed during one run (a ``fuel-download`` call), so later files skip them.

    A source is the directory a file's URL is in (a mirror's base URL, or a
    dataset's upstream directory, e.g. ``https://mirror.example.org/mnist``):
    one that refuses connections, hangs or answers 5xx for one file is not
    asked again for the next ones (before: a dead mirror was retried with
    back-off and rediscovered for every file). File-specific failures (404, an
    HTML page, a checksum mismatch) do not mark a source.

    Examples
    --------
    >>> health = SourceHealth()
    >>> health.mark("https://mirror.example.org/mnist/a.gz", "HTTP 503 Service Unavailable")
    >>> health.failed("https://mirror.example.org/mnist/b.gz")
    'HTTP 503 Service Unavailable'
    >>> health.failed("https://mirror.example.org/cifar/b.gz") is None
    True
    """

    def __init__(self) -> None:
        self._failed: dict[str, str] = {}

    @staticmethod
    def key(url: str) -> str:
        """The source of ``url``: its URL without the file name (and without a query)."""
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/', 1)[0]}"

    def mark(self, url: str, reason: str) -> None:
        """Remember that ``url``'s source failed, and why."""
        self._failed.setdefault(self.key(url), reason)

    def failed(self, url: str) -> str | None:
        """Why ``url``'s source failed earlier in the run, or ``None``."""
        return self._failed.get(self.key(url))


def _progress(total: int | None, initial: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
        disable=not enabled or None, file=sys.stderr, leave=False, dynamic_ncols=True,
    )


def _looks_like_html(first: bytes) -> bool:
    return first.lstrip()[:16].lower().startswith(_HTML_PREFIXES)


def _html_error(url: str, first: bytes) -> HTMLPageError:
    text = first[:4000].decode("utf-8", "replace")
    title = ""
    lower = text.lower()
    if "<title>" in lower:
        start = lower.index("<title>") + 7
        title = text[start:lower.find("</title>", start)].strip()[:120]
    hint = ""
    if any(host in urllib.parse.urlsplit(url).netloc for host in _GOOGLE_DRIVE_HOSTS):
        hint = " (Google Drive serves such pages when a file is over quota or too large to scan)"
    return HTMLPageError(
        f"the server sent an HTML page{f' titled {title!r}' if title else ''} instead of the data{hint}; "
        "the page was discarded. Try again later, use another mirror with --mirror URL or FUEL_MIRRORS, "
        "or download the file in a browser and place it in the download directory"
    )


def _fetch_local(path: str, part: str, progress: bool, desc: str) -> None:
    if not os.path.isfile(path):
        raise DownloadError(f"{path} does not exist")
    with open(path, "rb") as source:
        first = source.read(64)
        if _looks_like_html(first) and not desc.endswith((".html", ".htm")):
            raise _html_error("file://" + path, first + source.read(4000))
        source.seek(0)
        with open(part, "wb") as target, _progress(os.path.getsize(path), 0, desc, progress) as bar:
            for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
                target.write(chunk)
                bar.update(len(chunk))


def _fetch_http(url: str, part: str, timeout: float, progress: bool, desc: str, expected: int | None) -> None:
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    if expected is not None and offset >= expected:
        offset = 0 if offset > expected else offset
        if offset == expected:
            return
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https/file only)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the partial file is already complete
            return
        if err.code >= 500 or err.code in (408, 429):
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"HTTP {err.code} {err.reason}") from err
    except http.client.HTTPException as err:  # a malformed or cut answer
        raise _Transient(f"{type(err).__name__}: {err}") from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ConnectionRefusedError):  # nothing listens there: retrying will not help
            raise SourceUnavailable(f"{reason}") from err
        if isinstance(reason, (TimeoutError, ConnectionError)) or "timed out" in str(reason):
            raise _Transient(f"{reason}") from err
        if isinstance(reason, OSError):  # no such host, network unreachable: the whole source is out
            raise SourceUnavailable(f"{reason}") from err
        raise DownloadError(f"{reason}") from err
    with response:
        status = getattr(response, "status", 200)
        content_type = response.headers.get("Content-Type", "")
        resumed = status == 206 and offset > 0
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None and length.isdigit() else None
        total = offset + remaining if remaining is not None else expected
        received = 0
        try:
            first = response.read(CHUNK_SIZE)
            if not desc.endswith((".html", ".htm")) and (
                content_type.lower().startswith("text/html") or (not resumed and _looks_like_html(first))
            ):
                confirm = _drive_confirmation(url, first)
                if confirm is not None:
                    raise _FollowConfirmation(confirm)
                raise _html_error(url, first)
            with open(part, "ab" if resumed else "wb") as target, _progress(total, offset, desc, progress) as bar:
                chunk = first
                while chunk:
                    target.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    chunk = response.read(CHUNK_SIZE)
        except (TimeoutError, OSError, http.client.HTTPException) as err:
            raise _Transient(f"connection lost after {offset + received} bytes: {err!r}") from err
        if remaining is not None and received < remaining:
            raise _Transient(f"connection closed after {offset + received} of {offset + remaining} bytes")


class _FollowConfirmation(Exception):
    """A Google Drive "cannot scan this file for viruses" page: the data is behind its confirmation form."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


def _drive_confirmation(url: str, page: bytes) -> str | None:
    """The download URL of Google Drive's confirmation form in ``page``, or ``None``."""
    import html
    import re

    text = page.decode("utf-8", "replace")
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"[^>]*>(.*?)</form>', text, re.S)
    if form is None:
        return None
    fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
    if "confirm" not in fields:
        return None
    action = urllib.parse.urljoin(url, html.unescape(form.group(1)))
    return action + "?" + urllib.parse.urlencode({k: html.unescape(v) for k, v in fields.items()})


def _fetch(url: str, part: str, *, timeout: float, retries: int, retry_wait: float, progress: bool,
           desc: str, expected: int | None, last_source: bool = True) -> None:
    """Fetch ``url`` into ``part``, retrying transient failures.

    A transient failure that received nothing is retried (with back-off) only
    when ``url`` is the last source left; otherwise it raises
    :class:`SourceUnavailable` at once so the next source is tried. A failure
    after some progress is always resumed, up to ``retries`` times.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "file":
        _fetch_local(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), part, progress, desc)
        return
    if scheme not in ("http", "https"):
        raise DownloadError(f"{url}: unsupported URL scheme {scheme!r}; use http, https or file")
    before = os.path.getsize(part) if os.path.exists(part) else 0
    confirmed = False
    attempt = 0
    while True:
        try:
            _fetch_http(url, part, timeout, progress, desc, expected)
            return
        except _FollowConfirmation as follow:
            if confirmed:
                raise _html_error(follow.url, b"<title>a second Google Drive confirmation page</title>") from None
            logger.info("%s: following Google Drive's download confirmation", url)
            url, confirmed = follow.url, True
            continue
        except _Transient as err:
            partial = os.path.getsize(part) if os.path.exists(part) else 0
            progressed = partial > before
            if not progressed and not last_source:
                raise SourceUnavailable(f"{err} (other sources left: not retried)") from err
            if attempt == retries:
                cls = SourceUnavailable if not progressed else DownloadError
                raise cls(f"{err} (gave up after {retries + 1} attempts)") from err
            logger.warning("%s: %s; retrying (attempt %d of %d, resuming at byte %d)", url, err, attempt + 2,
                           retries + 1, partial)
            if not progressed:  # no progress: back off before the next attempt
                time.sleep(retry_wait * (2**attempt))
            attempt += 1
            before = partial


def _announce(message: str) -> None:
    logger.warning(message)


def download_file(
    spec: FileSpec,
    directory: str,
    *,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 1.0,
    progress: bool = True,
    health: SourceHealth | None = None,
) -> str:
    """Download one file into ``directory``, verified, trying every source in order.

    Sources are the mirrors (:func:`resolve_mirrors`) followed by ``spec.urls``.
    A partial download (``<file>.part``) is resumed with an HTTP ``Range``
    request; when a resumed copy does not match its checksum (the partial
    file was not a prefix of the right one), the same source is fetched
    once more from byte 0. A copy whose checksum does not match is set aside
    as ``<file>.corrupt`` and the next source is tried. A source that is down
    (refused, unreachable, hanging, HTTP 5xx) is not retried while other
    sources are left, and ``health`` remembers it for the rest of the run.

    Parameters
    ----------
    spec : FileSpec
        The file.
    directory : str
        Where to put it (created if needed).
    mirrors : sequence of str, optional
        Base URLs or directories tried before ``spec.urls`` (``config.mirrors``
        is appended).
    verify : bool
        Check sha256 and size (default). ``False`` records the file as
        unverified.
    timeout : float
        Seconds without data before a connection is abandoned.
    retries : int
        Retries per source after transient failures.
    retry_wait : float
        Seconds before the first retry (doubled each time).
    progress : bool
        Show a progress bar on a terminal.
    health : SourceHealth, optional
        The sources that already failed in this run (skipped); a new one is
        made when not given.

    Returns
    -------
    str
        The path of the file.

    Raises
    ------
    ChecksumError
        Every source gave a file that does not match (the message says what to do).
    HTMLPageError, DownloadError
        No source worked.

    Examples
    --------
    >>> download_file(FileSpec("x.bin"), "/tmp")  # doctest: +SKIP
    """
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, spec.filename)
    part = target + ".part"
    if os.path.isfile(target) and _present_file(spec, directory, target, part, verify):
        return target
    sources = [mirror_url(m, spec.filename) for m in resolve_mirrors(mirrors)] + list(spec.urls)
    if not sources:
        raise DownloadError(f"{spec.filename}: no URL and no mirror; pass --mirror URL or set FUEL_MIRRORS")
    options = {"timeout": timeout, "retries": retries, "retry_wait": retry_wait, "progress": progress}
    url, actual, reason = _first_good_source(spec, sources, directory, verify,
                                             SourceHealth() if health is None else health, options)
    _keep(spec, directory, url, actual, verify, reason)
    return target


def _keep(spec: FileSpec, directory: str, url: str, actual: str, verify: bool, reason: str) -> None:
    """Put the good copy (``<file>.part``) in place, drop a set-aside bad one, and record the download."""
    target = os.path.join(directory, spec.filename)
    os.replace(target + ".part", target)
    if os.path.exists(target + ".corrupt"):
        os.remove(target + ".corrupt")
    _manifest.record(directory, spec.filename, sha256=actual, verified=verify and spec.checksum_known,
                     reason=reason, url=url)


def _first_good_source(spec: FileSpec, sources: list[str], directory: str, verify: bool, health: SourceHealth,
                       options: dict[str, Any]) -> tuple[str, str, str]:
    """Try ``sources`` in order until one leaves a good copy in ``<file>.part``: ``(url, sha256, reason)``.

    A source ``health`` knows as down is skipped, one found down is marked
    there; when every source fails, the error names each one's failure.
    """
    target = os.path.join(directory, spec.filename)
    failures: list[tuple[str, Exception]] = []
    for index, url in enumerate(sources):
        earlier = health.failed(url)
        if earlier is not None:
            failures.append((url, SourceUnavailable(f"skipped: failed earlier in this run ({earlier})")))
            continue
        last = all(health.failed(other) is not None for other in sources[index + 1:])
        logger.info("downloading %s from %s", spec.filename, url)
        try:
            actual, reason = _from_source(spec, url, target + ".part", target, verify, last, options)
        except SourceUnavailable as err:
            health.mark(url, str(err))
            failures.append((url, err))
            continue
        except (DownloadError, OSError) as err:
            failures.append((url, err))
            continue
        return url, actual, reason
    raise _failure(spec, directory, failures)


def _present_file(spec: FileSpec, directory: str, target: str, part: str, verify: bool) -> bool:
    """Whether the file already at ``target`` is the one wanted (recorded); else set it aside for a download."""
    if not verify:
        _manifest.record(directory, spec.filename, sha256=file_digest(target), verified=False, reason="--no-verify")
        return True
    problem, actual = verify_file(target, spec)
    if problem is None:
        logger.info("%s is already present and verified", target)
        _manifest.record(directory, spec.filename, sha256=actual, verified=spec.checksum_known,
                         reason="sha256+size" if spec.checksum_known else "no published checksum")
        return True
    size = os.path.getsize(target)
    if spec.size is not None and size < spec.size and not os.path.exists(part):
        # perhaps an interrupted download: resumed, and fetched again from byte 0 if the result does not match
        logger.warning("%s is incomplete (%s); resuming it", target, problem)
        os.replace(target, part)
    else:
        logger.warning("%s is present but %s; downloading it again", target, problem)
        os.replace(target, target + ".corrupt")
    return False


def _from_source(spec: FileSpec, url: str, part: str, target: str, verify: bool, last: bool,
                 options: dict[str, Any]) -> tuple[str, str]:
    """Fetch ``spec`` from ``url`` into ``part`` and check it: ``(sha256, reason)`` for the download record.

    Raises
    ------
    ChecksumError, HTMLPageError, DownloadError, OSError
        This source gave nothing usable (``part`` is removed or set aside).
    """
    resumed = os.path.exists(part) and os.path.getsize(part) > 0 and urllib.parse.urlsplit(url).scheme != "file"
    try:
        _fetch(url, part, desc=spec.filename, expected=spec.size, last_source=last, **options)
    except HTMLPageError:
        if os.path.exists(part):
            os.remove(part)
        raise
    except (DownloadError, OSError):
        if os.path.exists(part) and urllib.parse.urlsplit(url).scheme == "file":
            os.remove(part)
        raise
    if not os.path.exists(part):
        raise DownloadError("nothing was received")
    if not verify:
        return file_digest(part), "--no-verify"
    problem, actual = verify_file(part, spec)
    if problem is not None and resumed:
        # the partial file was not a prefix of this file (a wrong file at the name, another version):
        # the resumed transfer cannot match, so fetch the whole file from this source once more
        logger.warning("%s from %s: %s after resuming a partial file; fetching it again from byte 0",
                       spec.filename, url, problem)
        os.remove(part)
        return _from_source(spec, url, part, target, verify, last, options)
    if problem is not None:
        os.replace(part, target + ".corrupt")
        logger.warning("%s from %s: %s; trying the next source", spec.filename, url, problem)
        raise ChecksumError(problem)
    if not spec.checksum_known:
        _announce(f"{spec.filename}: no published checksum; recorded sha256 {actual} (unverified)")
        return actual, "no published checksum"
    return actual, "sha256+size"


def _failure(spec: FileSpec, directory: str, failures: list[tuple[str, Exception]]) -> DownloadError:
    """The error of a file that no source gave: every source's own failure, and what to do about each kind."""
    labels = {ChecksumError: "wrong file: ", SourceUnavailable: "source unavailable: "}
    lines = "\n".join(f"  - {url}: {labels.get(type(err), '')}{err}" for url, err in failures)
    corrupt = os.path.join(directory, spec.filename) + ".corrupt"
    checksum_advice = (
        f"A copy that does not match the published checksum means the upstream file changed or a mirror serves "
        f"a damaged copy; the last such copy was kept as {corrupt}. Retry later, give a trusted mirror with "
        "--mirror URL (or FUEL_MIRRORS), or, if you trust that file, rerun with --no-verify: the converted file "
        "will record that its inputs were not verified."
    )
    if failures and all(isinstance(err, ChecksumError) for _, err in failures):
        return ChecksumError(
            f"{spec.filename}: every source gave a file that does not match the published checksum:\n{lines}\n"
            + checksum_advice
        )
    advice = (
        "Give a working mirror with --mirror URL (a base URL or a local directory; also FUEL_MIRRORS), "
        f"or place the file by hand in {directory} and rerun fuel-download to verify it."
    )
    if any(isinstance(err, ChecksumError) for _, err in failures):
        return ChecksumError(f"{spec.filename}: no source gave a good copy:\n{lines}\n{checksum_advice} {advice}")
    cls = HTMLPageError if failures and all(isinstance(e, HTMLPageError) for _, e in failures) else DownloadError
    return cls(f"{spec.filename}: could not be downloaded from any source:\n{lines}\n{advice}")


def _clear(directory: str, files: Iterable[FileSpec]) -> None:
    for spec in files:
        for suffix in ("", ".part", ".corrupt"):
            path = os.path.join(directory, spec.filename + suffix)
            if os.path.isfile(path):
                os.remove(path)
        _manifest.forget(directory, spec.filename)


def _warn_no_verify() -> None:
    banner = (
        "WARNING: --no-verify: checksums and sizes are NOT checked. The files are recorded as unverified and "
        "every file converted from them says so (see fuel-info)."
    )
    logger.warning(banner)


def default_downloader(
    directory: str,
    files: Sequence[FileSpec] | None = None,
    clear: bool = False,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 1.0,
    progress: bool = True,
    urls: Sequence[str | None] | None = None,
    filenames: Sequence[str | None] | None = None,
    url_prefix: str | None = None,
    **unused: Any,
) -> list[str]:
    """Download (or, with ``clear``, delete) the files of a dataset.

    This is what Fuel's ``default_downloader`` did, plus verification,
    mirrors, resume and retries (see :func:`download_file`).

    Parameters
    ----------
    directory : str
        Download directory.
    files : sequence of FileSpec
        The files.
    clear : bool
        Delete the files (and partial or corrupt copies) instead.
    mirrors, verify, timeout, retries, retry_wait, progress
        See :func:`download_file`.
    urls, filenames, url_prefix
        Fuel's arguments, instead of ``files``: see
        :func:`fuel.downloaders.fuel_helpers.fuel_file_specs` (no checksum,
        the files are recorded as unverified, unless a plugin registered them
        with :func:`fuel.downloaders.register_known_files`).

    Returns
    -------
    list of str
        Paths of the downloaded files (empty with ``clear``).

    Examples
    --------
    >>> default_downloader("/tmp/mnist", [FileSpec("t10k-labels-idx1-ubyte.gz")], clear=True)
    []
    """
    files = _fuel_arguments(files, urls, filenames, url_prefix, clear)
    if clear:
        _clear(directory, files)
        return []
    if not verify:
        _warn_no_verify()
    health = SourceHealth()  # a source that fails for one file is skipped for the others
    return [
        download_file(spec, directory, mirrors=mirrors, verify=verify, timeout=timeout, retries=retries,
                      retry_wait=retry_wait, progress=progress, health=health)
        for spec in files
    ]


def manual_downloader(
    directory: str,
    files: Sequence[FileSpec],
    instructions: str,
    clear: bool = False,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    **kwargs: Any,
) -> list[str]:
    """Check files that have no public URL and were placed by hand.

    Files already in ``directory`` are verified (sha256/md5 and size where
    published) and recorded. Missing files are fetched from the mirrors
    (``--mirror``, ``FUEL_MIRRORS``) when there are any; what is still missing
    raises :class:`ManualDownloadRequired` with ``instructions``, the list of
    missing files and the directory to put them in.

    Examples
    --------
    >>> manual_downloader("/tmp/nowhere", [FileSpec("secret.tar")], "Ask for it.")  # doctest: +SKIP
    """
    if clear:
        _clear(directory, files)
        return []
    directory = os.path.abspath(directory)
    if not verify:
        _warn_no_verify()
    missing = [s for s in files if not os.path.isfile(os.path.join(directory, s.filename))]
    mirror_failures: list[str] = []
    fetched: set[str] = set()
    options = {k: v for k, v in kwargs.items() if k in {"timeout", "retries", "retry_wait", "progress"}}
    if missing and resolve_mirrors(mirrors):
        for spec in list(missing):
            try:
                download_file(spec, directory, mirrors=mirrors, verify=verify, **options)
                missing.remove(spec)
                fetched.add(spec.filename)
            except ChecksumError:
                raise
            except DownloadError as err:
                mirror_failures.append(str(err).splitlines()[0])
    if missing:
        listing = "\n".join(f"  - {s.filename}" + (f" ({s.size} bytes)" if s.size else "") for s in missing)
        tried = "\nMirrors tried:\n" + "\n".join(f"  {line}" for line in mirror_failures) if mirror_failures else ""
        raise ManualDownloadRequired(
            f"{instructions.strip()}\n\nMissing from {directory}:\n{listing}\n{tried}\n"
            f"Place these files in {directory} (or pass -d DIR), then run the same fuel-download command again: "
            "it verifies them and records them for fuel-convert."
        )
    for spec in files:
        path = os.path.join(directory, spec.filename)
        if spec.filename in fetched:  # just fetched from a mirror: already checked and recorded
            continue
        if not verify:
            _manifest.record(directory, spec.filename, sha256=file_digest(path), verified=False, reason="--no-verify")
            continue
        problem, actual = verify_file(path, spec)
        if problem is not None:
            raise ChecksumError(
                f"{path} (placed by hand) does not match the published checksum: {problem}. Obtain the file "
                "again from the official source; if you trust this copy, rerun with --no-verify (the converted "
                "file will record that its inputs were not verified)."
            )
        _manifest.record(directory, spec.filename, sha256=actual, verified=spec.checksum_known,
                         reason="sha256+size (placed by hand)" if spec.checksum_known else "no published checksum")
    return [os.path.join(directory, s.filename) for s in files]


def _fuel_arguments(files: Any, urls: Any, filenames: Any, url_prefix: str | None, clear: bool) -> list[FileSpec]:
    """``files``, or the FileSpecs of Fuel's ``urls``/``filenames``/``url_prefix`` (see fuel_helpers)."""
    if urls is not None or filenames is not None:
        if files is not None:
            raise ValueError("give either files (FileSpec objects) or Fuel's urls= and filenames=, not both")
        from fuel.downloaders.fuel_helpers import fuel_file_specs

        return fuel_file_specs(urls, filenames, url_prefix, need_urls=not clear)
    if files is None:
        raise ValueError("default_downloader needs files (FileSpec objects) or Fuel's urls= and filenames=")
    files = list(files)
    wrong = [f for f in files if not isinstance(f, FileSpec)]
    if wrong:
        raise ValueError(
            f"files must be FileSpec objects, got {wrong[0]!r}; Fuel's call default_downloader(directory, urls, "
            "filenames) is written default_downloader(directory, urls=..., filenames=...) here"
        )
    return files


_FUEL_HELPERS = frozenset({"NeedURLPrefix", "download", "ensure_directory_exists", "filename_from_url"})


def __getattr__(name: str) -> Any:
    """Fuel's helpers, importable from here as in Fuel (they live in :mod:`fuel.downloaders.fuel_helpers`)."""
    if name in _FUEL_HELPERS:
        from fuel.downloaders import fuel_helpers

        return getattr(fuel_helpers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
