"""Saving and loading checkpoints: parameters, optimizer, loop state, random states and run metadata.

Members of the tar (see :mod:`blocks.serialization.archive`):

``parameters.safetensors``
    Every persistent tensor of the model by hierarchical name (parameters and
    buffers, ``Model.get_persistent_dict()``), saved from the CPU.
``optimizer.safetensors``
    The arrays of the algorithm's state (step-rule buffers and
    hyper-parameters), keyed by their JSON Pointer in ``state.json``
    (``/main_loop/algorithm/...``), whose last token is the parameter name.
``state.safetensors``
    Every other array of the state (random states, log values, ...), keyed by JSON Pointer.
``state.json``
    Everything else: the main loop's state with arrays replaced by
    ``{"__array__": pointer}``, random states, package versions, run metadata,
    the runs this one continues, and the format version.
``objects.pickle``
    Only with ``trusted=True``: values that are neither JSON-able nor arrays.
``MANIFEST``
    Size and sha256 of every member.
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from blocks.serialization import restore
from blocks.serialization.archive import Archive, MemberSource, write_archive
from blocks.serialization.errors import CheckpointError
from blocks.serialization.layout import OBJECTS, PARAMETERS, STATE_JSON, inline_scalar, json_bytes
from blocks.serialization.reading import (
    check_recorded_parameters,
    read_document,
    read_parameters,
    read_tables,
    unflatten_parts,
)
from blocks.serialization.writing import CheckpointContents, rank_positions

__all__ = [
    "LoadedCheckpoint",
    "checkpoint_info",
    "convert_to_parameters_only",
    "load_checkpoint",
    "load_main_loop_state",
    "load_parameters",
    "persistent_tensors",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

# Run metadata of the checkpoints each main loop was resumed from (the run continues as one).
_HISTORY: weakref.WeakKeyDictionary[Any, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


def _model_of(main_loop: Any) -> Any:
    model = getattr(main_loop, "_model", None)
    if model is None:
        try:
            model = main_loop.model
        except (AttributeError, ValueError):
            return None
    return model


def _distributed() -> Any:
    """``blocks.distributed`` when a multi-process group is running, else ``None``."""
    from blocks import distributed

    return distributed if distributed.is_distributed() else None


def persistent_tensors(model: Any) -> dict[str, torch.Tensor]:
    """Name → tensor of every persistent tensor of ``model``.

    ``model`` is a :class:`blocks.model.Model` (``get_persistent_dict()``), a
    :class:`torch.nn.Module` (its ``state_dict`` names) or a mapping of names to tensors.

    Raises
    ------
    ValueError
        For anything else.
    """
    if hasattr(model, "get_persistent_dict"):
        return dict(model.get_persistent_dict())
    if isinstance(model, torch.nn.Module):
        return dict(model.state_dict(keep_vars=True))
    if isinstance(model, Mapping):
        return dict(model)
    raise ValueError(
        f"cannot take parameters from a {type(model).__name__}; pass a blocks.model.Model, a torch.nn.Module "
        "or a mapping of names to tensors"
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    main_loop: Any = None,
    *,
    model: Any = None,
    parameters_only: bool = False,
    extra: Any = None,
    trusted: bool = False,
    collective: bool = True,
) -> dict[str, Any]:
    """Write a checkpoint to ``path`` atomically and durably; return its manifest.

    Parameters
    ----------
    path : str or PathLike
        Destination file (conventionally ``*.tar``); an existing file there is
        replaced only once the new one is complete on disk.
    main_loop : MainLoop, optional
        Whose state (``main_loop.state_dict()``) and model to save. In a
        multi-process run every rank calls this: the data positions of all
        ranks are gathered, rank 0 writes the file, and the others wait for it
        (and get an empty dict back).
    model : Model, torch.nn.Module or mapping, optional
        The model whose persistent tensors are saved (default: ``main_loop.model``).
    parameters_only : bool
        Save only the parameters and metadata (no loop, optimizer or random state).
    extra : object, optional
        Any additional state (JSON-able values and arrays), returned by
        :func:`load_checkpoint` as ``extra``.
    trusted : bool
        Allow values that are neither JSON-able nor arrays; they are pickled
        (with a warning) and loading them needs ``trusted=True`` too.
    collective : bool
        In a multi-process run, whether every rank takes part (gathering data
        positions, rank 0 writing). ``False``: this process writes ``path``
        alone (e.g. after an error on one rank).

    Raises
    ------
    ValueError
        For state that cannot be stored (naming its path) or no model at all.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.tar")
    >>> manifest = save_checkpoint(path, model=torch.nn.Linear(3, 2))
    >>> sorted(manifest["members"])
    ['parameters.safetensors', 'state.json']
    >>> sorted(load_parameters(path))
    ['bias', 'weight']
    """
    parameters = _parameters_to_save(main_loop, model)
    contents = CheckpointContents("parameters" if parameters_only or main_loop is None else "full", trusted)
    dist = _distributed() if collective else None
    loop_state = None
    if main_loop is not None:
        loop_state = _loop_state(main_loop, dist)
        if parameters_only:
            contents.add_status(loop_state)
        else:
            contents.add_training_state(loop_state, main_loop)
    if extra is not None:
        contents.add("extra", extra, inline_scalar)
    contents.add_metadata(parameters, list(_HISTORY.get(main_loop, [])) if main_loop is not None else [])
    if dist is not None:
        if contents.kind == "full":
            _record_rank_positions(contents, loop_state, dist)
        if not dist.is_main_process():
            dist.barrier()  # rank 0 writes the file
            return {}
    members = contents.array_members(parameters)
    if contents.objects:
        _warn_pickled(path, contents.objects)
    members += contents.document_members()
    try:
        manifest = write_archive(path, members, kind=contents.kind)
    finally:
        if dist is not None:
            dist.barrier()
    logger.info("saved %s checkpoint to %s", contents.kind, os.fspath(path))
    return manifest


def _parameters_to_save(main_loop: Any, model: Any) -> dict[str, torch.Tensor]:
    """The persistent tensors of ``model`` (default: the main loop's); none, with a warning, if it has none."""
    if model is None and main_loop is not None:
        model = _model_of(main_loop)
    if model is None:
        if main_loop is None:
            raise ValueError("save_checkpoint needs a main_loop or a model")
        logger.warning("the main loop has no model: the checkpoint holds no parameters (pass model=...)")
        return {}
    return persistent_tensors(model)


def _loop_state(main_loop: Any, dist: Any) -> dict[str, Any]:
    """``main_loop.state_dict()``; in a multi-process run every rank is here, so extensions may merge theirs."""
    if dist is None:
        return main_loop.state_dict()
    from blocks.distributed import collective_state_dict

    with collective_state_dict():
        return main_loop.state_dict()


def _record_rank_positions(contents: CheckpointContents, loop_state: Any, dist: Any) -> None:
    ranks = rank_positions(loop_state["data"], dist)
    if ranks is not None:
        contents.document["ranks"] = ranks
    else:
        logger.warning("data positions hold arrays: only rank 0's position is saved")


def _warn_pickled(path: str | os.PathLike[str], objects: Mapping[str, Any]) -> None:
    warnings.warn(
        f"checkpoint {os.fspath(path)} pickles {len(objects)} value(s) that are not JSON-able or arrays "
        f"({', '.join(sorted(objects)[:5])}); loading them runs code from the file and needs trusted=True",
        UserWarning,
        stacklevel=3,  # save_checkpoint's caller
    )


@dataclass
class LoadedCheckpoint:
    """A verified, parsed checkpoint (nothing applied to any object yet).

    Attributes
    ----------
    path : str
    manifest : dict
    document : dict
        ``state.json`` as stored (arrays as ``__array__`` references).
    parameters : dict of str to torch.Tensor
        CPU tensors by hierarchical name.
    main_loop : dict or None
        The main loop's state (``None`` for a parameters-only checkpoint).
    rng : dict or None
        Global random states.
    graph_rng : list or None
        States of the training graph's random operations (dropout, noise).
    extra : object
        What was passed as ``extra``.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "c.tar")
    >>> _ = save_checkpoint(path, model={"w": torch.ones(2)}, extra={"note": "hi"})
    >>> loaded = load_checkpoint(path)
    >>> loaded.kind, loaded.extra, loaded.parameters["w"].tolist()
    ('parameters', {'note': 'hi'}, [1.0, 1.0])
    """

    path: str
    manifest: dict[str, Any]
    document: dict[str, Any]
    parameters: dict[str, torch.Tensor]
    main_loop: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    extra: Any = None
    graph_rng: list[dict[str, Any]] | None = None
    objects: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        """``"full"`` or ``"parameters"``."""
        return self.document.get("kind", "full")


def load_checkpoint(path: str | os.PathLike[str], *, trusted: bool = False) -> LoadedCheckpoint:
    """Read and verify a whole checkpoint (every member's size and sha256) and parse it.

    ``state.json`` is checked field by field (structure and types) and every
    array it refers to is resolved, so a checkpoint that loads here holds
    everything it claims. Nothing is unpickled unless ``trusted=True`` and the
    checkpoint was saved with ``trusted=True`` (a warning is issued then).

    Raises
    ------
    CheckpointError
        (a ``ValueError``) for a missing, truncated, corrupted, altered, malformed or newer-format file.
    """
    path = os.fspath(path)
    with Archive(path) as archive:
        members = {name: archive.read(name) for name in archive.members}  # verifies every hash first
        manifest = archive.manifest
    for required in (STATE_JSON, PARAMETERS):
        if required not in members:
            raise CheckpointError(f"{path}: member {required!r} is missing; members: {sorted(members)}")
    document = read_document(path, members[STATE_JSON])
    parameters = read_parameters(path, members[PARAMETERS])
    check_recorded_parameters(path, document["parameters"], parameters)
    tables = read_tables(path, members)
    objects = _unpickle(path, members, trusted)
    parts = unflatten_parts(path, document, tables, objects)
    return LoadedCheckpoint(path, manifest, document, parameters, parts["main_loop"], parts["rng"], parts["extra"],
                            parts["graph_rng"], objects)


def _unpickle(path: str, members: Mapping[str, memoryview], trusted: bool) -> dict[str, Any]:
    """The pickled values, only when the caller trusts the file (with a warning); else none."""
    if OBJECTS not in members or not trusted:
        return {}
    warnings.warn(f"unpickling values from {path} (trusted=True): this runs code from the file",
                  UserWarning, stacklevel=3)  # load_checkpoint's caller
    return pickle.loads(bytes(members[OBJECTS]))  # noqa: S301 - explicit opt-in


def load_parameters(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The parameters of a checkpoint: hierarchical name → CPU tensor (hash verified).

    Also reads old Blocks checkpoints (a tar with an ``_parameters`` npz
    member, names such as ``|mlp|linear_0.W``) and bare ``.npz`` files; their
    names come back as ``/mlp/linear_0.W``.

    Raises
    ------
    CheckpointError
        For a missing, damaged or unrecognized file.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "w.tar")
    >>> _ = save_checkpoint(path, model={"/mlp/linear_0.W": torch.ones(2, 2)})
    >>> load_parameters(path)["/mlp/linear_0.W"].sum().item()
    4.0
    """
    from blocks.serialization.legacy import is_legacy_checkpoint, load_legacy_parameters

    path = os.fspath(path)
    if is_legacy_checkpoint(path):
        return load_legacy_parameters(path)
    with Archive(path) as archive:
        if PARAMETERS not in archive.members:
            raise CheckpointError(f"{path}: member {PARAMETERS!r} is missing; members: {sorted(archive.members)}")
        return read_parameters(archive.path, archive.read(PARAMETERS))


def load_main_loop_state(
    main_loop: Any,
    path: str | os.PathLike[str],
    *,
    load_iteration_state: bool = True,
    load_log: bool = True,
    trusted: bool = False,
    cast_dtypes: bool = False,
) -> LoadedCheckpoint:
    """Load a checkpoint into ``main_loop``: parameters always, then the chosen parts of its state.

    All or nothing: the whole file is verified and parsed, ``state.json`` is
    checked field by field, and the parameters are checked against the model
    (names, shapes and dtypes) before anything is changed; if the main loop
    then cannot take the saved state, the parameters, the loop's state and
    the random states are put back as they were and a
    :class:`CheckpointError` is raised.

    An old Blocks checkpoint (``_parameters`` npz member) can be loaded with
    ``load_iteration_state=False, load_log=False``: its parameters go into
    the model's parameters by name (``|mlp|linear_0.W`` is ``/mlp/linear_0.W``).

    Parameters
    ----------
    main_loop : MainLoop
    path : str or PathLike
    load_iteration_state : bool
        Restore where training was: status counters, data position, algorithm
        (step-rule) state, extension states and the global random states.
    load_log : bool
        Restore the training log (and the status it carries).
    trusted : bool
        Allow unpickling values saved with ``trusted=True``.
    cast_dtypes : bool
        Convert saved parameters of another dtype to the model's (e.g. float32
        weights into a float64 model for gradient checks). By default another
        dtype is an error: a silent conversion can lose precision or range.

    Returns
    -------
    LoadedCheckpoint

    Raises
    ------
    CheckpointError
        For a damaged or malformed file, parameters that do not match the model, a parameters-only
        checkpoint when iteration state or log were asked for, or a state the main loop refuses;
        nothing is changed then.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from blocks.main_loop import MainLoop
    >>> model = torch.nn.Linear(2, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "w.tar")
    >>> _ = save_checkpoint(path, model=model)
    >>> loop = MainLoop(algorithm=None, data_stream=None, model=model.double())
    >>> _ = load_main_loop_state(loop, path, load_iteration_state=False, load_log=False)
    Traceback (most recent call last):
    ...
    blocks.serialization.errors.CheckpointError: ... dtype mismatch: ['weight (model float64, checkpoint float32)', ...
    >>> _ = load_main_loop_state(loop, path, load_iteration_state=False, load_log=False, cast_dtypes=True)
    """
    from blocks.serialization.legacy import is_legacy_checkpoint

    if is_legacy_checkpoint(path):
        return _load_legacy(main_loop, os.fspath(path), load_iteration_state or load_log, cast_dtypes)
    checkpoint = load_checkpoint(path, trusted=trusted)
    model = _model_of(main_loop)
    target = persistent_tensors(model) if model is not None else {}
    restore.check_loadable(main_loop, checkpoint, target, load_iteration_state, load_log, cast_dtypes)
    wants_state = load_iteration_state or load_log
    saved = (restore.saved_loop_state(checkpoint, target, load_iteration_state, load_log, main_loop, _distributed())
             if wants_state else {})
    restore.load_all_or_nothing(main_loop, checkpoint, target, saved, load_iteration_state, load_log)
    if wants_state:
        _HISTORY[main_loop] = [*checkpoint.document.get("history", []),
                               {**checkpoint.document.get("run", {}), "checkpoint": os.path.abspath(checkpoint.path)}]
    return checkpoint


def _load_legacy(main_loop: Any, path: str, wants_state: bool, cast_dtypes: bool) -> LoadedCheckpoint:
    from blocks.serialization.legacy import load_legacy_parameters

    if wants_state:
        raise CheckpointError(
            f"{path}: an old Blocks checkpoint; only its parameters can be loaded (its loop state is a pickle, "
            "which is never read): use load_iteration_state=False, load_log=False"
        )
    parameters = load_legacy_parameters(path)
    model = _model_of(main_loop)
    if model is None:
        raise CheckpointError(f"{path}: the main loop has no model to load the parameters into")
    target = dict(model.get_parameter_dict()) if hasattr(model, "get_parameter_dict") else persistent_tensors(model)
    restore.check_parameters(path, target, parameters, cast_dtypes)
    with torch.no_grad():
        for name, tensor in target.items():
            tensor.copy_(parameters[name])
    return LoadedCheckpoint(path, {}, {"kind": "legacy-blocks"}, parameters)


def checkpoint_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a checkpoint holds, after verifying every member's sha256.

    Returns a JSON-able dict: ``path``, ``size``, ``format_version``, ``kind``,
    ``members`` (size, sha256, ``verified``), ``versions``, ``run``,
    ``history`` (the runs it continues), ``status`` (iterations and epochs
    done), ``training_finished`` (whether it was written after training ended),
    ``parameters`` (name → dtype and shape) and ``num_parameters``.

    Raises
    ------
    CheckpointError
        For a damaged file (which member, and how).
    """
    from blocks.serialization.legacy import is_legacy_checkpoint, legacy_info

    path = os.fspath(path)
    if is_legacy_checkpoint(path):
        return legacy_info(path)
    with Archive(path) as archive:
        archive.verify()
        manifest = archive.manifest
        if STATE_JSON not in archive.members:
            raise CheckpointError(f"{path}: member {STATE_JSON!r} is missing; members: {sorted(archive.members)}")
        document = read_document(path, archive.read(STATE_JSON))
    status = document.get("status") or (document.get("main_loop") or {}).get("status") or {}
    parameters = document.get("parameters", {})
    rows = ((document.get("main_loop") or {}).get("log") or {}).get("rows")
    last_row = rows.get(str(status.get("iterations_done"))) if isinstance(rows, dict) else None
    finished = bool(last_row.get("training_finished")) if isinstance(last_row, dict) else False
    return {
        "path": os.path.abspath(path),
        "size": os.path.getsize(path),
        "format_version": manifest["format_version"],
        "kind": document.get("kind", "full"),
        "members": {name: {**entry, "verified": True} for name, entry in manifest["members"].items()},
        "versions": document.get("versions", {}),
        "run": document.get("run", {}),
        "history": document.get("history", []),
        "status": {k: status[k] for k in ("iterations_done", "epochs_done") if k in status},
        "training_finished": finished,
        "parameters": parameters,
        "num_parameters": int(sum(int(np.prod(p["shape"])) for p in parameters.values())),
    }


def convert_to_parameters_only(path: str | os.PathLike[str]) -> None:
    """Rewrite a full checkpoint in place (atomically) keeping only its parameters and metadata.

    The parameters member is copied byte for byte (after its hash is
    verified); loop, optimizer and random states are dropped; ``status``
    keeps the iteration and epoch counters. A parameters-only file is left as it is.

    Raises
    ------
    CheckpointError
        For a damaged file.
    """
    path = os.fspath(path)
    with Archive(path) as archive:
        if archive.manifest.get("kind") == "parameters":
            return
        parameters = archive.read(PARAMETERS)
        document = read_document(path, archive.read(STATE_JSON))
    status = (document.get("main_loop") or {}).get("status") or {}
    document["status"] = {k: v for k, v in status.items() if isinstance(v, (int, float, str, bool, type(None)))}
    for key in ("main_loop", "rng", "extra"):
        document.pop(key, None)
    document["kind"] = "parameters"
    text = json_bytes(document)
    write_archive(path, [MemberSource(PARAMETERS, len(parameters), [parameters]),
                         MemberSource(STATE_JSON, len(text), [text])], kind="parameters")
