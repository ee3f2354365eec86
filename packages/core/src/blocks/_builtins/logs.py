"""Core's training-log backends: ``python`` (in memory) and ``sqlite``."""

from __future__ import annotations

from blocks.hookspecs import hookimpl


@hookimpl
def register_log_backends(register) -> None:
    register("python", "blocks.log.log:TrainingLog")
    register("sqlite", "blocks.log.sqlite:SQLiteLog")
