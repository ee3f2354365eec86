"""Core's extensions, registered by lower_snake_case name."""

from __future__ import annotations

from blocks.hookspecs import hookimpl


@hookimpl
def register_extensions(register) -> None:
    register("finish_after", "blocks.extensions.training:FinishAfter")
