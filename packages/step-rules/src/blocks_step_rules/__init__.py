"""Step rules beyond core's Scale and CompositeRule: momentum, Nesterov, AdaDelta, RMSProp, AdaGrad, Adam, clipping, weight decay, gradient accumulation."""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("blocks-step-rules")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
