"""Console logging for the duration of one command, undone afterwards.

A command shows the library's log records (``fuel-download``'s progress at
INFO, ``blocks``' warnings) on stderr. ``logging.basicConfig`` would do that
for good: a script that calls ``fuel_download.main([...])`` in-process (the
quickstart, the tutorials) would then print every INFO record of every library
for the rest of its life. :func:`command_logging` installs the handler and the
level only while the command runs, and only when the program has not configured
logging itself.

Examples
--------
>>> import logging
>>> before = list(logging.getLogger().handlers)
>>> with command_logging(logging.INFO):
...     pass
>>> logging.getLogger().handlers == before
True
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

__all__ = ["FORMAT", "command_logging"]

FORMAT = "%(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def command_logging(level: int) -> Iterator[logging.Logger]:
    """Log records of ``level`` and above to stderr while the block runs, when logging is not configured.

    When the root logger already has handlers (the calling program configured
    logging), nothing is installed and the program's configuration decides.
    The root logger's level is restored afterwards either way; a command may
    lower it inside the block (``--verbose``).
    """
    root = logging.getLogger()
    level_before = root.level
    handler = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    try:
        yield root
    finally:
        if handler is not None:
            root.removeHandler(handler)
        root.setLevel(level_before)
