"""Training extensions: the main loop's callbacks, triggers and core's extensions.

Order: the main loop calls extensions in the order of its ``extensions``
list, for every callback. A :class:`CompositeExtension`'s children run at the
composite's position. The main loop never inserts extensions of its own.

``Checkpoint`` and ``Load`` live in :mod:`blocks.extensions.saveload` and are
importable from here.

Examples
--------
>>> from blocks.extensions import FinishAfter, SimpleExtension
>>> isinstance(FinishAfter(after_n_epochs=1), SimpleExtension)
True
"""

from __future__ import annotations

from typing import Any

from blocks.extensions.base import (
    CALLBACK_NAMES,
    CallbackName,
    CompositeExtension,
    SimpleExtension,
    TrainingExtension,
    UnknownCallbackError,
)
from blocks.extensions.predicates import OnLogRecord
from blocks.extensions.training import FinishAfter

__all__ = [
    "CALLBACK_NAMES",
    "CallbackName",
    "Checkpoint",
    "CompositeExtension",
    "FinishAfter",
    "Load",
    "OnLogRecord",
    "SimpleExtension",
    "TrainingExtension",
    "UnknownCallbackError",
]

_LAZY = {"Checkpoint": "blocks.extensions.saveload", "Load": "blocks.extensions.saveload"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:  # Blocks' names that live in a plugin now
        from blocks.compat import moved_attribute

        return moved_attribute(__name__, name)
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
