"""Step rules beyond core's Scale and CompositeRule.

Momentum, Nesterov, AdaDelta, RMSProp, AdaGrad, Adam, clipping, weight decay and gradient accumulation.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from fuel.utils.lazy import Exports

EXPORTS = Exports(__name__, [
    # attribute               module            registry       registry name
    ("AdaDelta",              ".adadelta",      "step_rules",  "adadelta"),
    ("AdaGrad",               ".adagrad",       "step_rules",  "adagrad"),
    ("Adam",                  ".adam",          "step_rules",  "adam"),
    ("BasicMomentum",         ".momentum",      "step_rules",  "basic_momentum"),
    ("BasicNesterovMomentum", ".momentum",      "step_rules",  "basic_nesterov_momentum"),
    ("BasicRMSProp",          ".rmsprop",       "step_rules",  "basic_rmsprop"),
    ("DecoupledWeightDecay",  ".weight_decay",  "step_rules",  "decoupled_weight_decay"),
    ("GradientAccumulation",  ".accumulation",  "step_rules",  "gradient_accumulation"),
    ("Momentum",              ".momentum",      "step_rules",  "momentum"),
    ("NesterovMomentum",      ".momentum",      "step_rules",  "nesterov_momentum"),
    ("RMSProp",               ".rmsprop",       "step_rules",  "rmsprop"),
    ("RemoveNotFinite",       ".not_finite",    "step_rules",  "remove_not_finite"),
    ("Restrict",              ".restrict",      "step_rules",  "restrict"),
    ("StepClipping",          ".clipping",      "step_rules",  "step_clipping"),
    ("VariableClipping",      ".clipping",      "step_rules",  "variable_clipping"),
], eager=["__version__"])
"""The package's one table: its public names (imported on first use, so importing the package and its plugin
does not import torch) and the registry name of each rule (:mod:`fuel.utils.lazy`)."""

__getattr__, __dir__, __all__ = EXPORTS.module_attributes()

try:
    __version__ = _metadata.version("blocks-step-rules")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
