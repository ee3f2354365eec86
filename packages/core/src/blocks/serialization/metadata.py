"""What a checkpoint records about the software and the run that wrote it."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import socket
import sys
import time
from importlib import metadata as importlib_metadata
from typing import Any

__all__ = ["package_versions", "process_start_time", "run_metadata"]

_IMPORTED_AT = time.time()
_CORE_PACKAGES = ("blocks-core", "torch", "numpy", "safetensors", "h5py", "pluggy")


def package_versions() -> dict[str, str]:
    """Versions of Python, core's dependencies and every installed Blocks plugin distribution.

    Read once per process (scanning distribution metadata is slow).

    Examples
    --------
    >>> "python" in package_versions()
    True
    """
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    names = list(_CORE_PACKAGES)
    try:
        for ep in importlib_metadata.entry_points(group="blocks"):
            dist = getattr(ep, "dist", None)
            if dist is not None and dist.metadata["Name"] not in names:
                names.append(dist.metadata["Name"])
    except Exception:  # pragma: no cover - broken metadata must not stop a checkpoint
        pass
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def process_start_time() -> float:
    """When this process started (seconds since the epoch; import time of this module off Linux)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return _IMPORTED_AT


def _iso(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat(timespec="seconds")


def run_metadata() -> dict[str, Any]:
    """The command line, working directory, configuration, host and times of this process.

    ``argv`` is ``sys.argv``; ``orig_argv`` the full command line including the
    interpreter and its options (what ``blocks continue`` re-executes).
    """
    from blocks.config import config

    try:
        config_values = {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                         for k, v in config.as_dict().items()}
    except Exception as err:  # pragma: no cover - a broken config file must not stop a checkpoint
        config_values = {"error": str(err)}
    start = process_start_time()
    return {
        "argv": list(sys.argv),
        "orig_argv": list(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "config": config_values,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "platform": platform.platform(),
        "start_time": _iso(start),
        "saved_at": _iso(time.time()),
    }
