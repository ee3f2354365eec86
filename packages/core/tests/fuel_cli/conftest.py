"""A local HTTP server on 127.0.0.1 for the downloader tests (started and stopped by each test)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest


@dataclass
class Server:
    """``routes[path] = (status, headers, body)``, or a list of them served in turn; requests are logged."""

    base: str = ""
    routes: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            byte_range = self.headers.get("Range")
            server.requests.append((self.path, byte_range))
            route = server.routes.get(self.path)
            if isinstance(route, list):
                route = route.pop(0) if len(route) > 1 else route[0]
            if route is None:
                self.send_error(404, "Not Found")
                return
            if callable(route):
                route = route(byte_range)
            status, headers, body = route
            truncate = headers.pop("X-Truncate", None) if isinstance(headers, dict) else None
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body[: int(truncate)] if truncate else body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[Server]:
    """A threaded HTTP server on 127.0.0.1."""
    server = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _no_mirrors_from_environment() -> Iterator[None]:
    import fuel

    with fuel.config.override(mirrors=[]):
        yield
