"""Step rules beyond core's Scale and CompositeRule.

Momentum, Nesterov, AdaDelta, RMSProp, AdaGrad, Adam, clipping, weight decay and gradient accumulation.
"""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = [
    "AdaDelta",
    "AdaGrad",
    "Adam",
    "BasicMomentum",
    "BasicNesterovMomentum",
    "BasicRMSProp",
    "DecoupledWeightDecay",
    "GradientAccumulation",
    "Momentum",
    "NesterovMomentum",
    "RMSProp",
    "RemoveNotFinite",
    "Restrict",
    "StepClipping",
    "VariableClipping",
    "__version__",
]

try:
    __version__ = _metadata.version("blocks-step-rules")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"

_LOCATIONS = {
    "AdaDelta": "adadelta",
    "AdaGrad": "adagrad",
    "Adam": "adam",
    "BasicMomentum": "momentum",
    "BasicNesterovMomentum": "momentum",
    "BasicRMSProp": "rmsprop",
    "DecoupledWeightDecay": "weight_decay",
    "GradientAccumulation": "accumulation",
    "Momentum": "momentum",
    "NesterovMomentum": "momentum",
    "RMSProp": "rmsprop",
    "RemoveNotFinite": "not_finite",
    "Restrict": "restrict",
    "StepClipping": "clipping",
    "VariableClipping": "clipping",
}


def __getattr__(name: str):
    """Import rules lazily so that importing the package (and its plugin) does not import torch."""
    if name in _LOCATIONS:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LOCATIONS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
