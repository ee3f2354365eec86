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

from fuel.utils.lazy import Exports

# Lazy exports: the plugin host imports ``blocks_extensions.plugin`` (and so this package) at discovery time,
# which must not import torch.
EXPORTS = Exports(__name__, [
    # attribute, module[, registry, registry name]
    ("AggregationScheme",         ".aggregation"),
    ("Aggregator",                ".aggregation"),
    ("Concatenate",               ".aggregation"),
    ("Maximum",                   ".aggregation"),
    ("Mean",                      ".aggregation"),
    ("Minimum",                   ".aggregation"),
    ("MonitoredQuantity",         ".aggregation"),
    ("Perplexity",                ".aggregation"),
    ("TakeLast",                  ".aggregation"),
    ("WeightedMean",              ".aggregation"),
    ("concatenate",               ".aggregation"),
    ("maximum",                   ".aggregation"),
    ("mean",                      ".aggregation"),
    ("minimum",                   ".aggregation"),
    ("perplexity",                ".aggregation"),
    ("take_last",                 ".aggregation"),
    ("DatasetEvaluator",          ".evaluators"),
    ("DataStreamMonitoring",      ".monitoring",   "extensions", "data_stream_monitoring"),
    ("MonitoringExtension",       ".monitoring"),
    ("TrainingDataMonitoring",    ".monitoring",   "extensions", "training_data_monitoring"),
    ("CheckNumerics",             ".numerics",     "extensions", "check_numerics"),
    ("NonFiniteError",            ".numerics"),
    ("Plot",                      ".plot",         "extensions", "plot"),
    ("Printing",                  ".printing",     "extensions", "printing"),
    ("ProgressBar",               ".printing",     "extensions", "progress_bar"),
    ("SharedVariableModifier",    ".schedules",    "extensions", "shared_variable_modifier"),
    ("EarlyStopping",             ".stopping",     "extensions", "early_stopping"),
    ("FinishIfNoImprovementAfter", ".stopping",     "extensions", "finish_if_no_improvement_after"),
    ("TrackTheBest",              ".stopping",     "extensions", "track_the_best"),
    ("TensorBoard",               ".tensorboard",  "extensions", "tensor_board"),
    ("Timestamp",                 ".timing",       "extensions", "timestamp"),
    ("Timing",                    ".timing",       "extensions", "timing"),
], eager=["__version__"])
"""The package's one table: its public names, imported on first use, and the registry name of each extension
(:mod:`fuel.utils.lazy`); the plugin registers from it."""

__getattr__, __dir__, __all__ = EXPORTS.module_attributes()

try:
    __version__ = _metadata.version("blocks-extensions")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"

