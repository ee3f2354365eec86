"""``blocks dashboard``: training curves in the browser, live, from SQLite logs (optional extra ``dashboard``).

:class:`Dashboard` is the server (standard library ``http.server``, loopback
by default, read-only); the page draws with plotly.js, served from the
installed ``plotly`` package (``pip install 'blocks-extensions[dashboard]'``),
so nothing is fetched from the Internet. See ``docs/guides/dashboard.md``.

Examples
--------
>>> from blocks_extensions.dashboard import Dashboard
>>> Dashboard.__name__
'Dashboard'
"""

from __future__ import annotations

from blocks_extensions.dashboard.server import DEFAULT_PORT, Dashboard, find_plotly, is_loopback
from blocks_extensions.dashboard.store import LogFile, Run

__all__ = ["DEFAULT_PORT", "Dashboard", "LogFile", "Run", "find_plotly", "is_loopback"]
