"""Hook implementations of blocks-extensions (entry point ``blocks-extensions`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings, from the package's one table (``blocks_extensions.EXPORTS``).
"""

from __future__ import annotations

from blocks import hookimpl
from blocks_extensions import EXPORTS


@hookimpl
def register_commands(subparsers) -> None:
    from blocks_extensions import commands  # argparse only: the work is imported when a command runs

    commands.add_parsers(subparsers)


@hookimpl
def register_extensions(register) -> None:
    EXPORTS.register("extensions", register)
