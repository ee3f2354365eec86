"""What :func:`~blocks.serialization.save_checkpoint` writes: ``state.json``'s document, its arrays, the members.

:class:`CheckpointContents` collects the parts in the order they appear in
``state.json`` (the key order is part of the file's bytes): the header, the
main loop's state or just its status, the random states, ``extra``, then the
metadata; :func:`rank_positions` gathers every rank's data position in a
multi-process run; :meth:`CheckpointContents.array_members` and
:meth:`CheckpointContents.document_members` lay the result out as tar members.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import torch

from blocks.serialization import safetensors_io
from blocks.serialization.archive import FORMAT_VERSION, MemberSource
from blocks.serialization.flatten import flatten_state
from blocks.serialization.graph_rng import capture_graph_rng
from blocks.serialization.layout import (
    OBJECTS,
    OPTIMIZER,
    PARAMETERS,
    STATE,
    STATE_JSON,
    dtype_name,
    in_optimizer,
    inline_scalar,
    json_bytes,
)
from blocks.serialization.metadata import package_versions, run_metadata
from blocks.serialization.rng import capture_rng_state

__all__ = ["CheckpointContents", "rank_positions"]

_PLAIN = (int, float, str, bool, type(None))


class CheckpointContents:
    """A checkpoint being built in memory: the JSON document, the arrays of each member, pickled values.

    Parameters
    ----------
    kind : str
        ``"full"`` or ``"parameters"``.
    trusted : bool
        Keep values that are neither JSON-able nor arrays (pickled into ``objects.pickle``);
        otherwise they raise a ``ValueError`` naming their path.

    Examples
    --------
    >>> import torch
    >>> contents = CheckpointContents("parameters", trusted=False)
    >>> contents.add("extra", {"note": "hi", "w": torch.zeros(2)})
    >>> contents.document["extra"], list(contents.state_arrays)
    ({'note': 'hi', 'w': {'__array__': '/extra/w', 'type': 'torch'}}, ['/extra/w'])
    """

    def __init__(self, kind: str, trusted: bool) -> None:
        self.kind = kind
        self.document: dict[str, Any] = {"format": "blocks-checkpoint", "format_version": FORMAT_VERSION, "kind": kind}
        self.state_arrays: dict[str, Any] = {}
        self.optimizer_arrays: dict[str, Any] = {}
        self.objects: dict[str, Any] = {}
        self._on_object = self._keep_object if trusted else None

    def _keep_object(self, pointer: str, value: Any) -> Any:
        self.objects[pointer] = value
        return {"__object__": pointer}

    def add(self, key: str, state: Any, inline_scalars: Any = None) -> None:
        """Put ``state`` under ``key`` of the document; its arrays go to the member their pointer picks."""
        self.document[key], arrays = flatten_state(state, "/" + key, self._on_object, inline_scalars)
        for pointer, value in arrays.items():
            (self.optimizer_arrays if in_optimizer(pointer) else self.state_arrays)[pointer] = value

    def add_status(self, loop_state: Mapping[str, Any]) -> None:
        """A parameters-only checkpoint's ``status``: the counters and flags of the loop, nothing else."""
        status = loop_state.get("status", {})
        self.document["status"], _ = flatten_state({k: v for k, v in status.items() if isinstance(v, _PLAIN)},
                                                   "/status")

    def add_training_state(self, loop_state: Any, main_loop: Any) -> None:
        """A full checkpoint's ``main_loop``, ``rng`` (global generators) and ``graph_rng`` (dropout, noise)."""
        self.add("main_loop", loop_state, inline_scalar)
        self.add("rng", capture_rng_state())
        self.add("graph_rng", capture_graph_rng(main_loop))

    def add_metadata(self, parameters: Mapping[str, torch.Tensor], history: list[dict[str, Any]]) -> None:
        """The list of parameters (dtype and shape), package versions, this run, and the runs it continues."""
        self.document["parameters"] = {
            name: {"dtype": dtype_name(t.dtype), "shape": list(t.shape)} for name, t in parameters.items()
        }
        self.document["versions"] = package_versions()
        self.document["run"] = run_metadata()
        self.document["history"] = history

    def array_members(self, parameters: Mapping[str, torch.Tensor]) -> list[MemberSource]:
        """The safetensors members: parameters, then the optimizer's and the state's arrays."""
        prepared = safetensors_io.prepare(parameters, {"format": "pt", "written_by": "blocks-core"})
        members = [MemberSource(PARAMETERS, prepared.size, prepared.chunks())]
        if self.kind == "full":
            tables = ((OPTIMIZER, self.optimizer_arrays), (STATE, self.state_arrays))
        else:
            tables = ((STATE, self.state_arrays),) if self.state_arrays else ()
        for name, arrays in tables:
            table = safetensors_io.prepare(arrays)
            members.append(MemberSource(name, table.size, table.chunks()))
        return members

    def document_members(self) -> list[MemberSource]:
        """The pickled values (if any), then ``state.json``."""
        members = []
        if self.objects:
            blob = pickle.dumps(self.objects, protocol=pickle.HIGHEST_PROTOCOL)
            members.append(MemberSource(OBJECTS, len(blob), [blob]))
        text = json_bytes(self.document)
        members.append(MemberSource(STATE_JSON, len(text), [text]))
        return members


def rank_positions(data_state: Any, dist: Any) -> dict[str, Any] | None:
    """Every rank's data position, gathered (a collective call: every rank makes it), for ``document["ranks"]``.

    ``None`` when a position holds arrays, which cannot be gathered as JSON.
    """
    data_doc, data_arrays = flatten_state(data_state)
    gathered = dist.all_gather_json(None if data_arrays else data_doc)
    if all(g is not None for g in gathered):
        return {"world_size": len(gathered), "data": gathered}
    return None
