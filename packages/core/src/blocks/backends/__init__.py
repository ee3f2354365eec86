"""Compute backends: the protocol, core's ``cpu`` backend and backend selection.

The same training script runs on a CPU or a GPU by configuration alone: the
``device`` option (argument > ``BLOCKS_DEVICE`` > ``~/.blocksrc`` > ``"auto"``)
is offered to every plugin's ``select_backend`` hook; the first that accepts
names the registered backend to use. When all decline, ``"auto"`` and
``"cpu"`` get core's :class:`~blocks.backends.cpu.CPUBackend`; any other
request is an error that lists what is registered.

Examples
--------
>>> from blocks.backends import get_backend
>>> get_backend("cpu").device.type
'cpu'
"""

from __future__ import annotations

from typing import Any

from blocks.backends.base import PRECISIONS, Backend, LossScaler, Prefetcher
from blocks.backends.cpu import CPUBackend

__all__ = ["PRECISIONS", "Backend", "CPUBackend", "LossScaler", "Prefetcher", "available_backends", "get_backend"]


def available_backends() -> dict[str, dict[str, Any]]:
    """Every registered backend with its availability and devices.

    Returns
    -------
    dict
        ``{name: {"plugin": dist, "available": bool, "devices": [...], "error": str}}``.
    """
    from blocks.plugins import get_registry

    registry = get_registry("backends")
    out: dict[str, dict[str, Any]] = {}
    for entry in registry.entries():
        info: dict[str, Any] = {
            "plugin": f"{entry.plugin} {entry.version}".strip(),
            "available": False,
            "devices": [],
            "error": "",
        }
        try:
            cls = registry.get(entry.name)
            info["available"] = bool(cls.is_available())
            info["devices"] = list(cls.devices()) if info["available"] else []
        except Exception as err:  # noqa: BLE001 - report, do not fail a listing
            info["error"] = repr(err)
        out[entry.name] = info
    return out


def get_backend(device: str | None = None, **options: Any) -> Backend:
    """Choose and build the backend for ``device``.

    Parameters
    ----------
    device : str, optional
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... Defaults to the
        ``device`` configuration option.
    **options
        Passed to the backend's constructor (``floatX``, ``precision``, ...).

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        When no registered backend serves the request.
    """
    from blocks.config import config
    from blocks.plugins import get_host

    requested = str(device if device is not None else config.device).strip().lower()
    host = get_host()
    registry = host.registry("backends")
    name = host.call_first("select_backend", requested=requested, available=registry.names())
    if name is None:
        available = available_backends()
        usable = [n for n, info in available.items() if info["available"]]
        listing = ", ".join(f"{n} ({'available' if i['available'] else 'unavailable'})" for n, i in available.items())
        raise ValueError(
            f"no backend serves device {requested!r}; registered backends: {listing}. "
            f"Use one of {', '.join(['auto', *usable])}"
            + (
                (
                    "; CUDA is not available on this machine"
                    if "cuda" in available
                    else "; for CUDA install blocks-gpu-cuda"
                )
                if requested.startswith("cuda")
                else ""
            )
        )
    cls = registry.get(name)
    if requested in {"auto", name}:
        return cls(**options) if name != "cpu" else cls("cpu", **options)
    return cls(requested, **options)
