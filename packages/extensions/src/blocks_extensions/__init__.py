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

from blocks_extensions.aggregation import (
    AggregationScheme,
    Aggregator,
    Concatenate,
    Maximum,
    Mean,
    Minimum,
    MonitoredQuantity,
    TakeLast,
    WeightedMean,
    concatenate,
    maximum,
    mean,
    minimum,
    take_last,
)
from blocks_extensions.monitoring import DataStreamMonitoring, MonitoringExtension, TrainingDataMonitoring
from blocks_extensions.numerics import CheckNumerics, NonFiniteError
from blocks_extensions.plot import Plot
from blocks_extensions.printing import Printing, ProgressBar
from blocks_extensions.schedules import SharedVariableModifier
from blocks_extensions.stopping import EarlyStopping, FinishIfNoImprovementAfter, TrackTheBest
from blocks_extensions.timing import Timestamp, Timing

__all__ = [
    "AggregationScheme",
    "Aggregator",
    "CheckNumerics",
    "Concatenate",
    "DataStreamMonitoring",
    "EarlyStopping",
    "FinishIfNoImprovementAfter",
    "Maximum",
    "Mean",
    "Minimum",
    "MonitoredQuantity",
    "MonitoringExtension",
    "NonFiniteError",
    "Plot",
    "Printing",
    "ProgressBar",
    "SharedVariableModifier",
    "TakeLast",
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
    "take_last",
]

try:
    __version__ = _metadata.version("blocks-extensions")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
