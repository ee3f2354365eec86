"""Hook implementations of blocks-step-rules (entry point ``blocks-step-rules`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings, from the package's one table (``blocks_step_rules.EXPORTS``).
"""

from __future__ import annotations

from blocks import hookimpl
from blocks_step_rules import EXPORTS

__all__ = ["register_step_rules"]


@hookimpl
def register_step_rules(register) -> None:
    EXPORTS.register("step_rules", register)
