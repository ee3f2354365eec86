"""``blocks log PATH``: print or export a run's channels."""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl


@hookimpl
def register_commands(subparsers: Any) -> None:
    from blocks.log import command as log_command

    log_command.add_parser(subparsers)
