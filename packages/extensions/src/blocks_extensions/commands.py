"""The subcommands blocks-extensions adds to ``blocks``: ``dashboard`` and ``tensorboard-export``.

Registered through ``register_commands``; this module holds only their
argparse definitions (``blocks --help`` stays fast and torch-free): the work
is imported when a command runs.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="blocks")
>>> add_parsers(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["dashboard", "run.sqlite", "--port", "0"])
>>> args.paths, args.host, args.port
(['run.sqlite'], '127.0.0.1', 0)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["add_parsers", "run_dashboard", "run_tensorboard_export"]

DEFAULT_PORT = 6007  # blocks_extensions.dashboard.server.DEFAULT_PORT (not imported: cheap --help)


def add_parsers(subparsers: Any) -> None:
    """Add ``dashboard`` and ``tensorboard-export`` to the ``blocks`` subparsers."""
    dashboard = subparsers.add_parser(
        "dashboard",
        help="watch training curves in the browser, live, from SQLite logs",
        description=(
            "Start a local web server that shows every channel of every run in the given SQLite logs (and in "
            "the logs found under the given directories, searched again while it runs): curves against "
            "iterations, epochs or wall time, several runs overlaid, each run's status, ETA and checkpoints, "
            "updated live. Read-only; binds 127.0.0.1 unless --host says otherwise (then the URL carries a "
            "token). Needs the optional extra: pip install 'blocks-extensions[dashboard]'."
        ),
    )
    dashboard.add_argument(
        "paths", nargs="*", metavar="LOG_OR_DIR",
        help="SQLite logs and directories holding them (default: the sqlite backend's database, "
        "config.sqlite_database)",
    )  # fmt: skip
    dashboard.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine)")
    dashboard.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)")
    dashboard.add_argument(
        "--token",
        default=os.environ.get("BLOCKS_DASHBOARD_TOKEN"),
        help="token the URL must carry (default: $BLOCKS_DASHBOARD_TOKEN; generated when --host is not loopback)",
    )
    dashboard.add_argument("--poll", type=float, default=2.0, help="seconds between the page's updates (default 2)")
    dashboard.add_argument("--open", action="store_true", help="open the page in the default web browser")
    dashboard.set_defaults(func=run_dashboard)

    export = subparsers.add_parser(
        "tensorboard-export",
        help="write a SQLite log's channels as TensorBoard event files",
        description=(
            "Export every numeric channel of the runs of an SQLite log (a resumed run as one history) as "
            "TensorBoard scalars, one subdirectory per run under OUTDIR. Needs the optional extra: "
            "pip install 'blocks-extensions[tensorboard]'."
        ),
    )
    export.add_argument("log", help="SQLite log written by the sqlite log backend")
    export.add_argument("outdir", help="directory for the event files (created; one subdirectory per run)")
    export.add_argument("--channels", nargs="+", metavar="PATTERN", help="channels to export (shell-style wildcards)")
    export.add_argument("--run", metavar="UUID", help="export only this run (default: every run)")
    export.set_defaults(func=run_tensorboard_export)


def _stop_on_sigterm() -> Any:
    """Make SIGTERM end the server like Ctrl-C (a clean exit, status 0); returns the handler it replaced."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


def run_dashboard(args: argparse.Namespace) -> int:
    """``blocks dashboard``: serve until Ctrl-C or SIGTERM."""
    import signal

    from blocks_extensions.dashboard import Dashboard, is_loopback

    paths = list(args.paths)
    if not paths:
        from blocks.config import config

        default = os.path.expanduser(config.sqlite_database)
        if not os.path.exists(default):
            raise ValueError(
                f"no log at {default} (config.sqlite_database, the sqlite backend's default): give the paths of "
                "SQLite logs or of directories holding them"
            )
        paths = [default]
    dashboard = Dashboard(paths, host=args.host, port=args.port, token=args.token, poll=args.poll)
    dashboard.bind()
    previous = _stop_on_sigterm()
    try:
        logs = dashboard.sources.scan()
        print(f"blocks dashboard: {len(logs)} log{'s' if len(logs) != 1 else ''} found in {', '.join(paths)}")
        print(f"Dashboard: {dashboard.url}", flush=True)
        if not is_loopback(args.host):
            if args.host in ("0.0.0.0", "::", ""):
                import socket

                print(f"  from other machines: {dashboard.url.replace('127.0.0.1', socket.getfqdn(), 1)}")
            print(f"listening on {args.host}: anyone who can reach it and has the URL (with its token) can read "
                  "these logs; an SSH tunnel to a loopback-bound dashboard is safer (docs/guides/dashboard.md)")
        print("(Ctrl-C stops it)", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(dashboard.url)
        dashboard.serve_forever()
    except KeyboardInterrupt:
        print("blocks dashboard: stopped")
    finally:
        dashboard.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def run_tensorboard_export(args: argparse.Namespace) -> int:
    """``blocks tensorboard-export LOG OUTDIR``."""
    from blocks_extensions.tensorboard import export_log

    written = export_log(args.log, args.outdir, channels=args.channels, run=args.run)
    for directory, count in written.items():
        print(f"{directory}: {count} scalar{'s' if count != 1 else ''}")
    return 0
