"""The dashboard's web server: the page, its scripts, and a read-only JSON API over the logs it was given.

Standard library only (``http.server``, one thread per request). Safe by
default:

- it binds ``127.0.0.1`` unless told otherwise; bound to any other
  interface it requires a token in the URL (``?token=...``, generated unless
  given), compared in constant time;
- without a token, requests must name a loopback host in their ``Host``
  header (a web page cannot reach it through DNS rebinding);
- it serves only the logs it was started with (runs are addressed by id,
  never by a path from the request) and a fixed set of static files;
- logs are opened read-only for one short transaction per refresh;
- bad requests get a JSON or HTML error that says what is wrong, never a
  traceback (bugs are logged on the server's side).

Endpoints: ``/`` (the page), ``/static/<file>``, ``/api/runs`` (logs, runs,
status, ETA, checkpoints, channels, last values) and ``/api/series?run=ID
&channel=NAME&axis=iteration|epoch|time&points=N&low=X&high=X`` (``run`` and
``channel`` repeat; curves downsampled on the server).

Examples
--------
>>> import os, tempfile, urllib.request, json
>>> from blocks.log import SQLiteLog
>>> path = os.path.join(tempfile.mkdtemp(), "log.sqlite")
>>> writer = SQLiteLog(path); writer.current_row["cost"] = 0.5; writer.close()
>>> dashboard = Dashboard([path], port=0)
>>> dashboard.start()
>>> with urllib.request.urlopen(dashboard.url + "api/runs") as response:
...     json.load(response)["runs"][0]["last"]["cost"]["value"]
0.5
>>> dashboard.close()
"""

from __future__ import annotations

import gzip
import hmac
import html
import importlib.util
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from blocks_extensions.dashboard.store import LogFile, Run, is_sqlite_file

__all__ = ["DEFAULT_PORT", "Dashboard", "find_plotly", "is_loopback"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 6007
"""The default port (TensorBoard's is 6006)."""
LOG_SUFFIXES = (".sqlite", ".sqlite3", ".db")
"""Files a directory is searched for (those that start like an SQLite database)."""
SCAN_DEPTH = 3
SCAN_LIMIT = 200
SCAN_EVERY = 5.0
MAX_POINTS = 20_000
MAX_SELECTION = 64


class RequestError(ValueError):
    """A request the API refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def find_plotly() -> tuple[str, str]:
    """The path of ``plotly.min.js`` inside the installed ``plotly`` package, and plotly's version.

    Raises
    ------
    ImportError
        When plotly is not installed (``pip install blocks-extensions[dashboard]``).
    """
    spec = importlib.util.find_spec("plotly")  # located, not imported: plotly's Python side is not needed
    message = (
        "blocks dashboard draws with plotly.js from the plotly package: pip install 'blocks-extensions[dashboard]'"
    )
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(message)
    root = list(spec.submodule_search_locations)[0]
    path = os.path.join(root, "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise ImportError(f"{message} (the installed plotly lacks package_data/plotly.min.js)")
    from importlib import metadata

    try:
        version = metadata.version("plotly")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return path, version


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a ``Host`` header without its port (``[::1]:80`` gives ``::1``)."""
    header = header.strip()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Sources:
    """The paths the dashboard was given: files, and directories searched for logs (again every few seconds)."""

    def __init__(self, paths: list[str]) -> None:
        if not paths:
            raise ValueError("give at least one SQLite log or a directory holding logs")
        self.files: list[str] = []
        self.directories: list[str] = []
        for path in paths:
            path = os.path.abspath(os.path.expanduser(path))
            if os.path.isdir(path):
                self.directories.append(path)
            elif not os.path.exists(path):
                raise ValueError(f"no file or directory {path!r}: give SQLite logs written by the sqlite log backend")
            elif not is_sqlite_file(path):
                raise ValueError(f"{path!r} is not an SQLite database: give logs written by the sqlite log backend")
            else:
                self.files.append(path)
        self.logs: dict[str, LogFile] = {}
        self._scanned = -float("inf")
        self._lock = threading.Lock()
        self.scan(force=True)

    def _name(self, path: str) -> str:
        for directory in self.directories:
            if path.startswith(directory + os.sep):
                return os.path.relpath(path, directory)
        return os.path.basename(path) if len(self.files) + len(self.directories) == 1 else path

    def _search(self, directory: str) -> list[str]:
        found: list[str] = []
        for root, folders, names in os.walk(directory):
            depth = root[len(directory) :].count(os.sep)
            folders[:] = sorted(f for f in folders if not f.startswith(".")) if depth < SCAN_DEPTH else []
            for name in sorted(names):
                path = os.path.join(root, name)
                if name.endswith(LOG_SUFFIXES) and os.path.isfile(path) and is_sqlite_file(path):
                    found.append(path)
                    if len(found) >= SCAN_LIMIT:
                        logger.warning("%s holds more than %d logs: showing the first", directory, SCAN_LIMIT)
                        return found
        return found

    def scan(self, force: bool = False) -> list[LogFile]:
        """The logs, with directories searched again when the last search is a few seconds old."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._scanned >= SCAN_EVERY:
                self._scanned = now
                paths = list(self.files)
                for directory in self.directories:
                    paths += self._search(directory)
                for path in paths:
                    if path not in self.logs:
                        self.logs[path] = LogFile(path, self._name(path), index=len(self.logs))
            return list(self.logs.values())


class Dashboard:
    """The dashboard server over some SQLite logs (see the module).

    Parameters
    ----------
    paths : list of str
        SQLite log files and directories to search for them.
    host : str, optional
        Interface to bind (``127.0.0.1``).
    port : int, optional
        Port (``6007``; ``0`` picks a free one).
    token : str, optional
        Required in every URL; generated when ``host`` is not a loopback
        address and none is given.
    poll : float, optional
        Seconds between the page's updates (2).
    preload : bool, optional
        Read the logs in the background as soon as it serves, so that the
        first page shows at once (default true).

    Examples
    --------
    >>> import tempfile
    >>> dashboard = Dashboard([tempfile.mkdtemp()], host="0.0.0.0", port=0)
    >>> dashboard.token is not None
    True
    """

    def __init__(
        self, paths: list[str], host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
        poll: float = 2.0, preload: bool = True,
    ) -> None:
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        if not poll > 0:
            raise ValueError(f"poll must be a positive number of seconds, got {poll}")
        if token is not None and (len(token) < 8 or not all(c.isalnum() or c in "-_" for c in token)):
            raise ValueError("a token needs at least 8 letters, digits, '-' or '_'")
        self.plotly_path, plotly_version = find_plotly()
        from blocks_extensions import __version__

        self.version = f"{__version__}-plotly{plotly_version}"
        self.sources = _Sources(list(paths))
        self.host, self.port, self.poll = host, int(port), float(poll)
        self.token = token if token is not None or is_loopback(host) else secrets.token_urlsafe(18)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._static: dict[str, tuple[bytes, bytes | None, str]] = {}
        self._static_lock = threading.Lock()
        self.preload = bool(preload)
        self._summaries: dict[str, tuple[Any, dict[str, Any]]] = {}

    # -- life cycle ---------------------------------------------------------------------------------------------
    def bind(self) -> None:
        """Open the listening socket (an ``OSError`` names the address when the port is taken)."""
        handler = type("Handler", (_Handler,), {"dashboard": self})
        try:
            self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        except OSError as err:
            raise OSError(
                err.errno, f"cannot listen on {self.host}:{self.port} ({err.strerror}); choose another --port"
            ) from None
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    def _warm(self) -> None:
        try:
            self.runs()
        except Exception:  # noqa: BLE001 - a bug; the page's own requests report what they find
            logger.exception("blocks dashboard: reading the logs in the background failed")

    def _start_preload(self) -> None:
        if self.preload:
            threading.Thread(target=self._warm, name="blocks-dashboard-preload", daemon=True).start()

    def start(self) -> None:
        """Bind and serve in a background thread (returns at once)."""
        if self._httpd is None:
            self.bind()
        self._start_preload()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="blocks-dashboard", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Bind and serve in this thread until :meth:`close` or Ctrl-C."""
        if self._httpd is None:
            self.bind()
        self._start_preload()
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop serving and release the socket."""
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        """The page's address (with the token, if any)."""
        host = self.host if is_loopback(self.host) or self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"

    # -- content ------------------------------------------------------------------------------------------------
    def static(self, name: str) -> tuple[bytes, bytes | None, str]:
        """A static file's bytes, its gzip form (for large files) and its content type."""
        with self._static_lock:
            if name not in self._static:
                if name == "plotly.min.js":
                    with open(self.plotly_path, "rb") as file:
                        data = file.read()
                elif name in ("dashboard.js", "dashboard.css", "index.html"):
                    data = resources.files("blocks_extensions.dashboard").joinpath("static", name).read_bytes()
                else:
                    raise RequestError(HTTPStatus.NOT_FOUND, f"no static file {name!r}")
                packed = gzip.compress(data, compresslevel=6, mtime=0) if len(data) > 4096 else None
                kind = {"js": "text/javascript", "css": "text/css", "html": "text/html"}[name.rsplit(".", 1)[1]]
                self._static[name] = (data, packed, f"{kind}; charset=utf-8")
            return self._static[name]

    def page(self) -> bytes:
        """The HTML page, with the settings the script needs."""
        template = self.static("index.html")[0].decode("utf-8")
        settings = json.dumps({"token": self.token, "poll": self.poll, "version": self.version})
        token = f"token={urllib.parse.quote(self.token)}&" if self.token else ""
        return (
            template.replace("{{settings}}", html.escape(settings, quote=True))
            .replace("{{query}}", html.escape(f"?{token}v={self.version}", quote=True))
            .encode("utf-8")
        )

    def runs(self) -> dict[str, Any]:
        """The ``/api/runs`` answer."""
        from blocks_extensions.dashboard.views import run_summary

        logs, runs = [], []
        for log in self.sources.scan():
            with log.lock:
                log.refresh()
                found = log.runs() if log.error is None else []
                logs.append({"name": log.name, "path": log.path, "error": log.error, "runs": len(found)})
                for run in found:
                    try:
                        runs.append(self._summary(run, run_summary))
                    except (ValueError, TypeError, OverflowError) as err:
                        logs[-1]["error"] = f"{log.name}: run {run.uuid} cannot be shown: {err}"
        return {"logs": logs, "runs": runs, "poll": self.poll, "now": time.time()}

    def _summary(self, run: Run, make: Any) -> dict[str, Any]:
        """A run's summary, made again only when the run changed (a poll that finds nothing new costs nothing)."""
        key = (run.version, repr(sorted(run.status.items(), key=lambda item: item[0])))
        cached = self._summaries.get(run.id)
        if cached is None or cached[0] != key:
            cached = (key, make(run))
            self._summaries[run.id] = cached
        return {**cached[1], "checkpoints": json_safe_checkpoints(run)}

    def find_run(self, run_id: str) -> Run:
        """The run of that id, its log refreshed (call with nothing held; take ``run.log.lock`` to use it)."""
        index, _, uuid = run_id.partition(":")
        for log in self.sources.scan():
            if str(log.index) == index:
                log.refresh()
                for run in log.runs():
                    if run.uuid == uuid:
                        return run
        raise RequestError(HTTPStatus.NOT_FOUND, f"no run {run_id!r} in the logs this dashboard serves")

    def series(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The ``/api/series`` answer: ``{"axis", "series": {run id: {channel: curve}}}``."""
        from blocks_extensions.dashboard.views import AXES, series

        run_ids, channels = query.get("run", []), query.get("channel", [])
        if not run_ids or not channels:
            raise RequestError(HTTPStatus.BAD_REQUEST, "give at least one run=ID and one channel=NAME")
        if len(run_ids) * len(channels) > MAX_SELECTION:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"at most {MAX_SELECTION} curves per request")
        axis = _one(query, "axis", "iteration")
        if axis not in AXES:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"axis must be one of {', '.join(AXES)}, got {axis!r}")
        points = _number(query, "points", 1000, integer=True)
        if not 1 <= points <= MAX_POINTS:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"points must be between 1 and {MAX_POINTS}, got {points}")
        low, high = _number(query, "low", None), _number(query, "high", None)
        answer: dict[str, dict[str, Any]] = {}
        for run_id in dict.fromkeys(run_ids):
            run = self.find_run(run_id)
            with run.log.lock:
                run = self.find_run(run_id)  # what was read last, now that no refresh can run
                known = set(run.channels())
                answer[run_id] = {
                    name: series(run, name, axis, max(points // 4, 1), low, high) if name in known else None
                    for name in dict.fromkeys(channels)
                }
        return {"axis": axis, "series": answer}


def json_safe_checkpoints(run: Run) -> list[dict[str, Any]]:
    """The run's checkpoints, looked at on every poll (a file can be deleted while nothing else changes)."""
    from blocks_extensions.dashboard.views import json_safe

    return json_safe(run.checkpoints())


def _one(query: dict[str, list[str]], key: str, default: str | None) -> str | None:
    values = query.get(key)
    if not values:
        return default
    if len(values) > 1:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"give {key} once")
    return values[0]


def _number(query: dict[str, list[str]], key: str, default: Any, integer: bool = False) -> Any:
    text = _one(query, key, None)
    if text is None or text == "":
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{key} must be {kind}, got {text!r}") from None
    if not integer and value != value or value in (float("inf"), float("-inf")):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{key} must be finite, got {text!r}")
    return value


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    ),
}


class _Handler(BaseHTTPRequestHandler):
    """One request: routing, the safety checks, and errors as JSON or HTML."""

    dashboard: Dashboard
    server_version = "blocks-dashboard"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._respond(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._respond(head=False)

    def _refuse(self) -> None:
        self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "the dashboard is read-only: only GET and HEAD", False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def _respond(self, head: bool) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        api = parsed.path.startswith("/api/")
        try:
            query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True, max_num_fields=200)
            self._check_access(query)
            self._route(parsed.path, query, head)
        except RequestError as err:
            self._send_error(err.status, str(err), api, head)
        except ValueError as err:  # parse_qs' field limit, bad percent-encoding
            self._send_error(HTTPStatus.BAD_REQUEST, str(err), api, head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # noqa: BLE001 - a bug: logged here, a plain message for the page
            logger.exception("blocks dashboard: error answering %s", self.path)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (the server's log has the details)",
                             api, head)

    def _check_access(self, query: dict[str, list[str]]) -> None:
        token = self.dashboard.token
        if token:
            given = self.headers.get("X-Blocks-Token") or (query.get("token") or [""])[0]
            if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
                raise RequestError(
                    HTTPStatus.FORBIDDEN,
                    "this dashboard needs its token: open the URL that `blocks dashboard` printed (…/?token=…)",
                )
            return
        host = _host_name(self.headers.get("Host") or "")
        if not is_loopback(host):
            raise RequestError(
                HTTPStatus.FORBIDDEN,
                f"this dashboard answers only requests for localhost, not {host!r}: it is bound to the loopback "
                "interface (start it with --host and use the printed URL with its token to reach it otherwise)",
            )

    def _route(self, path: str, query: dict[str, list[str]], head: bool) -> None:
        dashboard = self.dashboard
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, dashboard.page(), "text/html; charset=utf-8", head, cache=False)
        elif path.startswith("/static/"):
            data, packed, kind = dashboard.static(path[len("/static/") :])
            if packed is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                self._send(HTTPStatus.OK, packed, kind, head, cache=True, encoding="gzip")
            else:
                self._send(HTTPStatus.OK, data, kind, head, cache=True)
        elif path == "/api/runs":
            self._json(HTTPStatus.OK, dashboard.runs(), head)
        elif path == "/api/series":
            self._json(HTTPStatus.OK, dashboard.series(query), head)
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", head, cache=True)
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"nothing at {path!r}: the dashboard is at /")

    def _json(self, status: HTTPStatus, payload: Any, head: bool) -> None:
        body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
        encoding = None
        if len(body) > 8192 and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body, encoding = gzip.compress(body, compresslevel=1, mtime=0), "gzip"
        self._send(status, body, "application/json", head, cache=False, encoding=encoding)

    def _send_error(self, status: HTTPStatus, message: str, api: bool, head: bool = False) -> None:
        if api:
            body = json.dumps({"error": message, "status": int(status)}).encode("utf-8")
            self._send(status, body, "application/json", head, cache=False)
            return
        text = html.escape(message)
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{int(status)} {status.phrase}</title></head>"
            f"<body><h1>{int(status)} {status.phrase}</h1><p class='error'>{text}</p></body></html>"
        ).encode("utf-8")
        self._send(status, body, "text/html; charset=utf-8", head, cache=False)

    def _send(
        self, status: HTTPStatus, body: bytes, kind: str, head: bool, cache: bool, encoding: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
