"""Core's ``blocks`` subcommands, registered through ``register_commands``.

Only argument parsers are built here; each command imports what it needs when
it runs, so ``blocks --help`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl

__all__ = ["register_commands"]


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``blocks plugins`` and ``blocks new-plugin``."""
    from blocks.cli import new_plugin, plugins_command

    plugins_command.add_parser(subparsers)
    new_plugin.add_parser(subparsers)
