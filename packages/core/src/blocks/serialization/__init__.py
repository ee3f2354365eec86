"""Checkpoints: one tar of safetensors, JSON and a hashed manifest; no pickle on the default path.

:func:`save_checkpoint` writes a checkpoint atomically and durably;
:func:`load_main_loop_state` puts one back into a main loop (what
``MainLoop.resume(path)`` calls); :func:`load_parameters` reads just the
parameters (also from old Blocks checkpoints); :func:`checkpoint_info`
describes a file after verifying it. Every problem with a file raises
:class:`CheckpointError`, a ``ValueError``.

Examples
--------
>>> import os, tempfile, torch
>>> from blocks.serialization import save_checkpoint, load_parameters
>>> path = os.path.join(tempfile.mkdtemp(), "model.tar")
>>> _ = save_checkpoint(path, model=torch.nn.Linear(2, 1))
>>> sorted(load_parameters(path))
['bias', 'weight']
"""

from __future__ import annotations

from blocks.serialization.archive import FORMAT_VERSION, Archive, atomic_write
from blocks.serialization.checkpoint import (
    LoadedCheckpoint,
    checkpoint_info,
    convert_to_parameters_only,
    load_checkpoint,
    load_main_loop_state,
    load_parameters,
    persistent_tensors,
    save_checkpoint,
)
from blocks.serialization.errors import CheckpointError
from blocks.serialization.legacy import load_legacy_parameters
from blocks.serialization.rng import capture_rng_state, restore_rng_state

__all__ = [
    "FORMAT_VERSION",
    "Archive",
    "CheckpointError",
    "LoadedCheckpoint",
    "atomic_write",
    "capture_rng_state",
    "checkpoint_info",
    "convert_to_parameters_only",
    "load_checkpoint",
    "load_legacy_parameters",
    "load_main_loop_state",
    "load_parameters",
    "persistent_tensors",
    "restore_rng_state",
    "save_checkpoint",
]
