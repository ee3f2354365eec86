"""Core's ``blocks`` subcommands, registered through ``register_commands``."""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl


@hookimpl
def register_commands(subparsers: Any) -> None:
    from blocks.cli import plugins_command

    plugins_command.add_parser(subparsers)
