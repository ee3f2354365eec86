"""Core's ``blocks info`` command."""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl


@hookimpl
def register_commands(subparsers: Any) -> None:
    from blocks.cli import info

    info.add_parser(subparsers)
