"""Training extensions: Printing, ProgressBar, Timing, monitoring, early stopping, schedules, CheckNumerics, Plot.

Every extension here is registered (``register_extensions``) under its
lower_snake_case name, e.g. ``data_stream_monitoring``.

Examples
--------
>>> from blocks_extensions import Printing, Timing
>>> isinstance(Timing(), object) and Printing().name
'Printing'
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

# Lazy exports: the plugin host imports ``blocks_extensions.plugin`` (and so this package) at discovery time,
# which must not import torch.
_EXPORTS = {
    "blocks_extensions.aggregation": [
        "AggregationScheme",
        "Aggregator",
        "Concatenate",
        "Maximum",
        "Mean",
        "Minimum",
        "MonitoredQuantity",
        "Perplexity",
        "TakeLast",
        "WeightedMean",
        "concatenate",
        "maximum",
        "mean",
        "minimum",
        "perplexity",
        "take_last",
    ],
    "blocks_extensions.evaluators": ["DatasetEvaluator"],
    "blocks_extensions.monitoring": ["DataStreamMonitoring", "MonitoringExtension", "TrainingDataMonitoring"],
    "blocks_extensions.numerics": ["CheckNumerics", "NonFiniteError"],
    "blocks_extensions.plot": ["Plot"],
    "blocks_extensions.printing": ["Printing", "ProgressBar"],
    "blocks_extensions.schedules": ["SharedVariableModifier"],
    "blocks_extensions.stopping": ["EarlyStopping", "FinishIfNoImprovementAfter", "TrackTheBest"],
    "blocks_extensions.tensorboard": ["TensorBoard"],
    "blocks_extensions.timing": ["Timestamp", "Timing"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AggregationScheme",
    "Aggregator",
    "CheckNumerics",
    "Concatenate",
    "DataStreamMonitoring",
    "DatasetEvaluator",
    "EarlyStopping",
    "FinishIfNoImprovementAfter",
    "Maximum",
    "Mean",
    "Minimum",
    "MonitoredQuantity",
    "MonitoringExtension",
    "NonFiniteError",
    "Perplexity",
    "Plot",
    "Printing",
    "ProgressBar",
    "SharedVariableModifier",
    "TakeLast",
    "TensorBoard",
    "Timestamp",
    "Timing",
    "TrackTheBest",
    "TrainingDataMonitoring",
    "WeightedMean",
    "__version__",
    "concatenate",
    "maximum",
    "mean",
    "minimum",
    "perplexity",
    "take_last",
]

try:
    __version__ = _metadata.version("blocks-extensions")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    module_name = _WHERE.get(name)
    if module_name is None:
        raise AttributeError(f"module 'blocks_extensions' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
