"""Core's ``blocks`` subcommands, registered through ``register_commands``.

The commands live in :mod:`blocks.cli` (one module per command or command
group); only their argument parsers are built here, and each command imports
what it needs when it runs, so ``blocks --help`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl

__all__ = ["register_commands"]


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``blocks continue``, ``checkpoint``, ``plugins``, ``new-plugin``, ``info`` and ``log``."""
    from blocks.cli import checkpoint, continue_command, info, log, new_plugin, plugins_command

    for command in (continue_command, checkpoint, plugins_command, new_plugin, info, log):
        command.add_parser(subparsers)
