"""Hook implementations of blocks-extensions (entry point ``blocks-extensions`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl

_EXTENSIONS = {
    "printing": "blocks_extensions.printing:Printing",
    "progress_bar": "blocks_extensions.printing:ProgressBar",
    "timing": "blocks_extensions.timing:Timing",
    "timestamp": "blocks_extensions.timing:Timestamp",
    "data_stream_monitoring": "blocks_extensions.monitoring:DataStreamMonitoring",
    "training_data_monitoring": "blocks_extensions.monitoring:TrainingDataMonitoring",
    "track_the_best": "blocks_extensions.stopping:TrackTheBest",
    "finish_if_no_improvement_after": "blocks_extensions.stopping:FinishIfNoImprovementAfter",
    "early_stopping": "blocks_extensions.stopping:EarlyStopping",
    "shared_variable_modifier": "blocks_extensions.schedules:SharedVariableModifier",
    "check_numerics": "blocks_extensions.numerics:CheckNumerics",
    "plot": "blocks_extensions.plot:Plot",
    "tensor_board": "blocks_extensions.tensorboard:TensorBoard",
}


@hookimpl
def register_commands(subparsers) -> None:
    from blocks_extensions import commands  # argparse only: the work is imported when a command runs

    commands.add_parsers(subparsers)


@hookimpl
def register_extensions(register) -> None:
    for name, target in _EXTENSIONS.items():
        register(name, target)
