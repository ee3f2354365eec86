"""Training extensions: Printing, ProgressBar, Timing, monitoring, early stopping, schedules, CheckNumerics, Plot."""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("blocks-extensions")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
