"""Core's checkpointing extensions, registered by lower_snake_case name (no torch import here)."""

from __future__ import annotations

from typing import Any

from blocks.hookspecs import hookimpl

__all__ = ["register_extensions"]


@hookimpl
def register_extensions(register: Any) -> None:
    """Register ``checkpoint`` and ``load``."""
    register("checkpoint", "blocks.extensions.saveload:Checkpoint")
    register("load", "blocks.extensions.saveload:Load")
