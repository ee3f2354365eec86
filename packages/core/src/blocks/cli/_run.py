"""How every command ends: expected failures in one line, a closed pipe quietly, bugs with their traceback.

Every console script (``blocks``, ``fuel-download``, ``fuel-convert``,
``fuel-info``, ``fuel-server``) runs its work through :func:`run_command`:

- the library's expected failures (``ValueError`` and its subclasses such as
  ``CheckpointError``, ``OSError`` such as a missing or unreadable file or a
  lost server, a plugin or module that cannot be imported, a damaged SQLite
  file) print
  ``PROG: error: MESSAGE`` on stderr and exit with status 2;
- a closed standard output (``blocks plugins | head -1``) ends the command
  quietly with status 141, as for a process killed by ``SIGPIPE``;
- Ctrl-C prints ``PROG: interrupted`` and exits with status 130;
- anything else is a bug: its traceback is printed under a line naming the
  command, and the status is 1.

Examples
--------
>>> run_command("demo", lambda: 0)
0
>>> import contextlib, io
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     status = run_command("demo", lambda: int("x"))
>>> status, err.getvalue()
(2, "demo: error: invalid literal for int() with base 10: 'x'\\n")
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_ERROR", "EXIT_INTERRUPTED", "expected_message", "run_command"]

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


def expected_message(err: BaseException) -> str | None:
    """The one-line message of an expected failure, or ``None`` for an unexpected one (a bug).

    Examples
    --------
    >>> expected_message(FileNotFoundError(2, "No such file or directory", "run.tar"))
    'run.tar: No such file or directory'
    >>> expected_message(KeyError("x")) is None
    True
    """
    if isinstance(err, OSError):
        if err.filename is not None and err.strerror:
            return f"{err.filename}: {err.strerror}"
        return str(err) or type(err).__name__
    if isinstance(err, (ValueError, ImportError)):
        return str(err) or type(err).__name__
    plugins = sys.modules.get("blocks.plugins")
    if plugins is not None and isinstance(err, plugins.PluginLoadError):
        return str(err)
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(err, sqlite3.DatabaseError):
        return f"SQLite database error: {err}"
    return None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run_command(prog: str, func: Callable[[], int | None]) -> int:
    """Run ``func`` (a command's work) and turn how it ends into an exit status (see the module).

    Parameters
    ----------
    prog : str
        The command as the user typed it (``"blocks log"``, ``"fuel-info"``),
        used in every message.
    func : callable
        The work; returns the exit status (``None`` is 0).

    Returns
    -------
    int
        The exit status.
    """
    try:
        status = int(func() or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit:  # argparse's --help, --version and usage errors
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
            return EXIT_BROKEN_PIPE
        raise
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - sorted into expected failures and bugs below
        message = expected_message(err)
        if message is None:
            print(f"{prog}: internal error (a bug: please report it with this traceback)", file=sys.stderr)
            traceback.print_exc()
            return 1
        print(f"{prog}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
