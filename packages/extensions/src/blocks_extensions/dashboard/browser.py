"""Headless Chromium driven through the DevTools protocol over a pipe: the dashboard's browser tests.

Standard library only: Chromium's ``--remote-debugging-pipe`` reads
NUL-terminated JSON commands on file descriptor 3 and answers on 4, so no
WebSocket client or browser-automation package is needed. Used by the
browser test (``nox -s dashboard_browser``) and by
``scripts/dashboard_screenshot.py``.

Examples
--------
>>> find_chromium() is None or find_chromium().endswith(("chromium", "chrome", "chromium-browser"))
True
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

__all__ = ["BrowserError", "HeadlessChromium", "find_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    """The browser failed, answered with an error, or a wait ran out."""


class _Thrown(BrowserError):
    """An expression evaluated in the page threw."""


def find_chromium() -> str | None:
    """The Chromium executable (``$CHROMIUM``, else ``chromium``/``chromium-browser``/``google-chrome`` on PATH)."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class HeadlessChromium:
    """A headless Chromium with one page, in a fresh profile removed on :meth:`close`.

    Parameters
    ----------
    executable : str, optional
        The browser (default: :func:`find_chromium`).
    width, height : int
        The window's size in CSS pixels.
    timeout : float
        Seconds to wait for any one answer of the browser.

    Examples
    --------
    A sketch (needs Chromium)::

        with HeadlessChromium() as browser:
            browser.open("http://127.0.0.1:6007/")
            browser.wait_for("document.body.dataset.ready === '1'")
            png = browser.screenshot()
    """

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 1000, timeout: float = 30.0):
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="blocks-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def child_pipes() -> None:  # runs in the child: the protocol's descriptors 3 (commands) and 4 (answers)
            import fcntl

            high_read = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_write = fcntl.fcntl(answers_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        args = [executable, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                "about:blank"]
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close(); a pipe could fill and block
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errors,
            pass_fds=(3, 4), preexec_fn=child_pipes,
        )  # fmt: skip
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        self.console: list[str] = []

    # -- protocol -----------------------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("the browser did not answer in time")
            ready, _, _ = select.select([self._answers], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser exited: {self._stderr()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode("utf-8", "replace")[-2000:]

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        """Send a DevTools command (to the page's session unless ``session`` is false) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("method") == "Runtime.consoleAPICalled":
                args = answer["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif answer.get("method") == "Runtime.exceptionThrown":
                details = answer["params"]["exceptionDetails"]
                self.console.append(f"exception: {details.get('exception', {}).get('description', details)}")
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method} failed: {answer['error'].get('message')}")
                return answer.get("result", {})

    # -- pages --------------------------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Open ``url`` in a new page and attach to it."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise _Thrown(f"{expression!r} threw: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Evaluate ``expression`` until it is truthy; its value (or :class:`BrowserError` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        error = ""
        while True:
            try:
                value = self.evaluate(expression)
            except _Thrown as err:  # e.g. the page is still loading and has no body yet
                value, error = None, str(err)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout} s for {expression!r} {error}; console: {self.console[-5:]}")
            time.sleep(interval)

    def screenshot(self) -> bytes:
        """A PNG of the whole page."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        return base64.b64decode(data["data"])

    def close(self) -> None:
        """End the browser and remove its profile."""
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", session=False)
                except (BrowserError, OSError):
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._commands, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._errors.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
