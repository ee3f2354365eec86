"""Core's ``cpu`` backend and its fallback selection."""

from __future__ import annotations

from blocks.hookspecs import hookimpl


@hookimpl
def register_backends(register) -> None:
    register("cpu", "blocks.backends.cpu:CPUBackend")


@hookimpl(trylast=True)
def select_backend(requested: str, available: list[str]) -> str | None:
    """Serve ``auto`` and ``cpu`` when no plugin took the request."""
    if requested in {"auto", "cpu"} and "cpu" in available:
        return "cpu"
    return None
