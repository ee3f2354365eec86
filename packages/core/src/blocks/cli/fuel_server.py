"""``fuel-server module:factory --port N``: serve a data stream over ZeroMQ.

The factory is a callable (imported from ``module``) that takes no arguments
and returns the stream to serve; the training script reads it with
``fuel.server.ServerDataStream``. ``--help`` imports neither torch nor h5py.

Examples
--------
>>> build_parser().parse_args(["mydata:make_stream", "--port", "6000"]).port
6000
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from blocks.cli._logging import command_logging
from blocks.cli._run import run_command

__all__ = ["build_parser", "load_factory", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fuel-server``."""
    parser = argparse.ArgumentParser(
        prog="fuel-server",
        description="Serve a Fuel data stream to ServerDataStream clients over ZeroMQ.",
    )
    parser.add_argument("factory", help="MODULE:CALLABLE returning the data stream to serve (called with no arguments)")
    parser.add_argument("--port", type=int, default=5557, help="TCP port (default 5557)")
    parser.add_argument("--hwm", type=int, default=10, help="high-water mark: batches buffered per client (default 10)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; '*' for every interface)"
    )
    parser.add_argument(
        "--max-request-bytes", type=int, default=16 * 2**20, metavar="N",
        help="largest client request accepted, in bytes (a start request carries the client's resume state; "
        "default 16 MiB)",
    )
    parser.add_argument(
        "--heartbeat", type=float, default=2.0, metavar="SECONDS",
        help="seconds between ZeroMQ heartbeats to each client (default 2)",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=64, metavar="N",
        help="clients served at once; more get a 'server is busy' error (default 64)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def load_factory(spec: str) -> Any:
    """Import ``module:attribute`` (the current directory is importable)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:CALLABLE (e.g. mydata:make_stream), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import module {module_name!r}: {err}") from err
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        public = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}; callables there: {public}") from None
    if not callable(factory):
        raise ValueError(f"{spec} is not callable")
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fuel-server`` console script (failures: see :mod:`blocks.cli._run`)."""
    args = build_parser().parse_args(argv)
    with command_logging(logging.DEBUG if args.verbose else logging.INFO):
        return run_command("fuel-server", lambda: _serve(args))


def _serve(args: argparse.Namespace) -> int:
    factory = load_factory(args.factory)
    stream = factory()
    from fuel.server import DataServer
    from fuel.streams import AbstractDataStream

    if not isinstance(stream, AbstractDataStream):
        raise ValueError(f"{args.factory}() returned {type(stream).__name__}, not a Fuel data stream")
    server = DataServer(stream, port=args.port, hwm=args.hwm, host=args.host,
                        max_request_bytes=args.max_request_bytes, heartbeat=args.heartbeat,
                        max_sessions=args.max_sessions)
    print(f"fuel-server: serving {args.factory} on {args.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
