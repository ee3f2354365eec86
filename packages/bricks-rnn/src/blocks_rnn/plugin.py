"""Hook implementations of blocks-bricks-rnn (entry point ``blocks-bricks-rnn`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings, from the package's one table (``blocks_rnn.EXPORTS``).
"""

from __future__ import annotations

from typing import Any, Callable

from blocks import hookimpl
from blocks_rnn import EXPORTS

__all__ = ["register_bricks"]


@hookimpl
def register_bricks(register: Callable[..., Any]) -> None:
    """Register the recurrent bricks, attention, sequence generators and their parts.

    Examples
    --------
    >>> names = []
    >>> register_bricks(lambda name, target: names.append(name))
    >>> "lstm" in names and "sequence_generator" in names
    True
    """
    EXPORTS.register("bricks", register)
