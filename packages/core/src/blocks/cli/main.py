"""The ``blocks`` command: subcommands come from ``register_commands``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from blocks.cli._logging import command_logging
from blocks.cli._run import run_command

__all__ = ["build_parser", "main"]


def build_parser(host=None) -> argparse.ArgumentParser:
    """Build the ``blocks`` argument parser with every plugin's subcommands."""
    from blocks import __version__
    from blocks.plugins import get_host

    host = host or get_host()
    parser = argparse.ArgumentParser(
        prog="blocks",
        description="Blocks on PyTorch: plugins, runs, checkpoints and logs.",
    )
    parser.add_argument("--version", action="version", version=f"blocks-core {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    host.call_per_plugin("register_commands", subparsers=subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``blocks`` console script (failures: see :mod:`blocks.cli._run`)."""
    with command_logging(logging.WARNING):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parsed: list[tuple[argparse.ArgumentParser, argparse.Namespace]] = []

    def parse() -> int:
        parser = build_parser()
        parsed.append((parser, parser.parse_args(argv)))
        return 0

    status = run_command("blocks", parse)
    if not parsed:
        return status
    parser, args = parsed[0]
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    func = getattr(args, "func", None)
    if func is None:
        return run_command("blocks", lambda: parser.print_help())
    return run_command(f"blocks {args.command}", lambda: func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
