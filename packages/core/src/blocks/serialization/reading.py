"""Parsing a checkpoint's verified members: ``state.json``, the parameters, the array tables, the state parts.

Nothing here reads a file or changes an object: the functions take the bytes
of members whose hashes :class:`~blocks.serialization.archive.Archive` has
checked, and turn every problem into a :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from blocks.serialization import safetensors_io
from blocks.serialization.archive import FORMAT_VERSION
from blocks.serialization.document import parse_json, validate_document
from blocks.serialization.errors import CheckpointError
from blocks.serialization.flatten import unflatten_state
from blocks.serialization.layout import OPTIMIZER, PARAMETERS, STATE, STATE_JSON, dtype_name, in_optimizer

__all__ = ["PARTS", "check_recorded_parameters", "read_document", "read_parameters", "read_tables",
           "unflatten_parts"]

PARTS = ("main_loop", "rng", "extra", "graph_rng")
"""The parts of ``state.json`` that hold a state (rebuilt with their arrays), in the order they are checked."""


def read_document(path: str, data: memoryview) -> dict[str, Any]:
    """Parse and check ``state.json`` (structure and field types)."""
    return validate_document(parse_json(data, f"{path}: {STATE_JSON}"), f"{path}: {STATE_JSON}", FORMAT_VERSION)


def read_parameters(path: str, data: memoryview) -> dict[str, torch.Tensor]:
    """The parameters member's tensors by name (CPU)."""
    raw, _ = safetensors_io.read(data, f"{path}: {PARAMETERS}")
    return {name: safetensors_io.to_torch(r) for name, r in raw.items()}


def check_recorded_parameters(path: str, recorded: dict[str, Any], parameters: dict[str, torch.Tensor]) -> None:
    """``state.json``'s list of parameters (names, dtypes, shapes) must describe the parameters member exactly."""
    if set(recorded) != set(parameters):
        raise CheckpointError(
            f"{path}: {STATE_JSON} lists parameters {sorted(set(recorded) ^ set(parameters))} that "
            f"{PARAMETERS} does not agree on"
        )
    disagree = [
        f"{name} ({STATE_JSON}: {entry['dtype']} {entry['shape']}, {PARAMETERS}: "
        f"{dtype_name(parameters[name].dtype)} {list(parameters[name].shape)})"
        for name, entry in recorded.items()
        if entry["dtype"] != dtype_name(parameters[name].dtype) or list(entry["shape"]) != list(parameters[name].shape)
    ]
    if disagree:
        raise CheckpointError(f"{path}: {STATE_JSON} and {PARAMETERS} disagree on dtype or shape: {disagree}")


def read_tables(path: str, members: Mapping[str, memoryview]) -> dict[str, dict[str, safetensors_io.RawTensor]]:
    """The optimizer's and the state's arrays by JSON Pointer (for the members present)."""
    tables: dict[str, dict[str, safetensors_io.RawTensor]] = {}
    for name in (OPTIMIZER, STATE):
        if name in members:
            tables[name], _ = safetensors_io.read(members[name], f"{path}: {name}")
    return tables


def unflatten_parts(
    path: str, document: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]], objects: Mapping[str, Any]
) -> dict[str, Any]:
    """Every part of :data:`PARTS` rebuilt with its arrays and (unpickled, trusted) objects.

    Raises
    ------
    CheckpointError
        For a reference to an array no member holds, a pickled value without
        ``objects`` (not trusted), or a malformed or too deeply nested document.
    """

    def get_array(key: str, kind: str) -> Any:
        raw = tables.get(OPTIMIZER if in_optimizer(key) else STATE, {}).get(key)
        if raw is None:
            raise CheckpointError(f"{path}: {STATE_JSON} refers to array {key!r}, which no member holds")
        return safetensors_io.to_torch(raw) if kind == "torch" else safetensors_io.to_numpy(raw)

    def get_object(key: str) -> Any:
        if not objects:
            raise CheckpointError(
                f"{path}: the state holds a pickled value at {key}; loading it runs code from the file, "
                "so pass trusted=True if you trust this file"
            )
        return objects[key]

    try:
        return {part: unflatten_state(document.get(part), get_array, get_object) for part in PARTS}
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{path}: malformed {STATE_JSON} (nested too deeply)") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as err:
        raise CheckpointError(f"{path}: malformed {STATE_JSON} ({type(err).__name__}: {err})") from None
