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

import json
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

from blocks.serialization import safetensors_io
from blocks.serialization.archive import FORMAT_VERSION, Archive, MemberSource, write_archive
from blocks.serialization.document import parse_json, validate_document
from blocks.serialization.errors import CheckpointError
from blocks.serialization.flatten import flatten_state, unflatten_state
from blocks.serialization.graph_rng import capture_graph_rng, restore_graph_rng
from blocks.serialization.metadata import package_versions, run_metadata
from blocks.serialization.rng import capture_rng_state, restore_rng_state

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

PARAMETERS = "parameters.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "state.safetensors"
STATE_JSON = "state.json"
OBJECTS = "objects.pickle"
_ALGORITHM_POINTER = "/main_loop/algorithm"

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


def _inline_scalar(pointer: str) -> bool:
    """0-d tensors go into state.json, except the algorithm's (hyper-parameters stay in optimizer.safetensors)."""
    return not pointer.startswith(_ALGORITHM_POINTER + "/")


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
    if model is None and main_loop is not None:
        model = _model_of(main_loop)
    if model is None:
        if main_loop is None:
            raise ValueError("save_checkpoint needs a main_loop or a model")
        parameters: dict[str, torch.Tensor] = {}
        logger.warning("the main loop has no model: the checkpoint holds no parameters (pass model=...)")
    else:
        parameters = persistent_tensors(model)
    objects: dict[str, Any] = {}

    def on_object(pointer: str, value: Any) -> Any:
        objects[pointer] = value
        return {"__object__": pointer}

    hook = on_object if trusted else None
    document: dict[str, Any] = {"format": "blocks-checkpoint", "format_version": FORMAT_VERSION}
    document["kind"] = "parameters" if parameters_only or main_loop is None else "full"
    state_arrays: dict[str, Any] = {}
    optimizer_arrays: dict[str, Any] = {}
    dist = _distributed() if collective else None
    if main_loop is not None:
        if dist is not None:  # every rank is here: extensions may merge their per-rank state (monitoring)
            from blocks.distributed import collective_state_dict

            with collective_state_dict():
                loop_state = main_loop.state_dict()
        else:
            loop_state = main_loop.state_dict()
        if parameters_only:
            status = loop_state.get("status", {})
            document["status"], _ = flatten_state(
                {k: v for k, v in status.items() if isinstance(v, (int, float, str, bool, type(None)))}, "/status"
            )
        else:
            document["main_loop"], arrays = flatten_state(loop_state, "/main_loop", hook, _inline_scalar)
            for key, value in arrays.items():
                target = optimizer_arrays if key.startswith(_ALGORITHM_POINTER + "/") else state_arrays
                target[key] = value
            document["rng"], arrays = flatten_state(capture_rng_state(), "/rng", hook)
            state_arrays.update(arrays)
            document["graph_rng"], arrays = flatten_state(capture_graph_rng(main_loop), "/graph_rng", hook)
            state_arrays.update(arrays)
    if extra is not None:
        document["extra"], arrays = flatten_state(extra, "/extra", hook, _inline_scalar)
        state_arrays.update(arrays)
    document["parameters"] = {
        name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)} for name, t in parameters.items()
    }
    document["versions"] = package_versions()
    document["run"] = run_metadata()
    document["history"] = list(_HISTORY.get(main_loop, [])) if main_loop is not None else []

    if dist is not None:
        if document["kind"] == "full":
            data_doc, data_arrays = flatten_state(loop_state["data"])
            gathered = dist.all_gather_json(None if data_arrays else data_doc)
            if all(g is not None for g in gathered):
                document["ranks"] = {"world_size": len(gathered), "data": gathered}
            else:
                logger.warning("data positions hold arrays: only rank 0's position is saved")
        if not dist.is_main_process():
            dist.barrier()  # rank 0 writes the file
            return {}
    members = []
    prepared = safetensors_io.prepare(parameters, {"format": "pt", "written_by": "blocks-core"})
    members.append(MemberSource(PARAMETERS, prepared.size, prepared.chunks()))
    if document["kind"] == "full":
        for name, arrays in ((OPTIMIZER, optimizer_arrays), (STATE, state_arrays)):
            p = safetensors_io.prepare(arrays)
            members.append(MemberSource(name, p.size, p.chunks()))
    elif state_arrays:
        p = safetensors_io.prepare(state_arrays)
        members.append(MemberSource(STATE, p.size, p.chunks()))
    if objects:
        warnings.warn(
            f"checkpoint {os.fspath(path)} pickles {len(objects)} value(s) that are not JSON-able or arrays "
            f"({', '.join(sorted(objects)[:5])}); loading them runs code from the file and needs trusted=True",
            UserWarning,
            stacklevel=2,
        )
        blob = pickle.dumps(objects, protocol=pickle.HIGHEST_PROTOCOL)
        members.append(MemberSource(OBJECTS, len(blob), [blob]))
    text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    members.append(MemberSource(STATE_JSON, len(text), [text]))
    try:
        manifest = write_archive(path, members, kind=document["kind"])
    finally:
        if dist is not None:
            dist.barrier()
    logger.info("saved %s checkpoint to %s", document["kind"], os.fspath(path))
    return manifest


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


def _parameters_from(archive: Archive) -> dict[str, torch.Tensor]:
    raw, _ = safetensors_io.read(archive.read(PARAMETERS), f"{archive.path}: {PARAMETERS}")
    return {name: safetensors_io.to_torch(r) for name, r in raw.items()}


def _read_document(path: str, data: memoryview) -> dict[str, Any]:
    """Parse and check ``state.json`` (structure and field types)."""
    return validate_document(parse_json(data, f"{path}: {STATE_JSON}"), f"{path}: {STATE_JSON}", FORMAT_VERSION)


def _check_recorded_parameters(path: str, recorded: dict[str, Any], parameters: dict[str, torch.Tensor]) -> None:
    """``state.json``'s list of parameters (names, dtypes, shapes) must describe the parameters member exactly."""
    if set(recorded) != set(parameters):
        raise CheckpointError(
            f"{path}: {STATE_JSON} lists parameters {sorted(set(recorded) ^ set(parameters))} that "
            f"{PARAMETERS} does not agree on"
        )
    disagree = [
        f"{name} ({STATE_JSON}: {entry['dtype']} {entry['shape']}, {PARAMETERS}: "
        f"{str(parameters[name].dtype).replace('torch.', '')} {list(parameters[name].shape)})"
        for name, entry in recorded.items()
        if entry["dtype"] != str(parameters[name].dtype).replace("torch.", "")
        or list(entry["shape"]) != list(parameters[name].shape)
    ]
    if disagree:
        raise CheckpointError(f"{path}: {STATE_JSON} and {PARAMETERS} disagree on dtype or shape: {disagree}")


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
    document = _read_document(path, members[STATE_JSON])
    raw_params, _ = safetensors_io.read(members[PARAMETERS], f"{path}: {PARAMETERS}")
    parameters = {name: safetensors_io.to_torch(r) for name, r in raw_params.items()}
    _check_recorded_parameters(path, document["parameters"], parameters)
    tables: dict[str, dict[str, safetensors_io.RawTensor]] = {}
    for name in (OPTIMIZER, STATE):
        if name in members:
            tables[name], _ = safetensors_io.read(members[name], f"{path}: {name}")
    objects: dict[str, Any] = {}
    if OBJECTS in members:
        if trusted:
            warnings.warn(f"unpickling values from {path} (trusted=True): this runs code from the file",
                          UserWarning, stacklevel=2)
            objects = pickle.loads(bytes(members[OBJECTS]))  # noqa: S301 - explicit opt-in

    def get_array(key: str, kind: str) -> Any:
        table = tables.get(OPTIMIZER if key.startswith(_ALGORITHM_POINTER + "/") else STATE, {})
        raw = table.get(key)
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
        loop = unflatten_state(document.get("main_loop"), get_array, get_object)
        rng = unflatten_state(document.get("rng"), get_array, get_object)
        extra = unflatten_state(document.get("extra"), get_array, get_object)
        graph_rng = unflatten_state(document.get("graph_rng"), get_array, get_object)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{path}: malformed {STATE_JSON} (nested too deeply)") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as err:
        raise CheckpointError(f"{path}: malformed {STATE_JSON} ({type(err).__name__}: {err})") from None
    return LoadedCheckpoint(path, manifest, document, parameters, loop, rng, extra, graph_rng, objects)


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
        return _parameters_from(archive)


def _check_parameters(
    path: str, target: Mapping[str, torch.Tensor], saved: Mapping[str, torch.Tensor], cast_dtypes: bool = False
) -> None:
    problems = []
    missing = [n for n in target if n not in saved]
    unexpected = [n for n in saved if n not in target]
    if missing:
        problems.append(f"missing from the checkpoint: {missing}")
    if unexpected:
        problems.append(f"not in the model: {unexpected}")
    mismatched = [
        f"{n} (model {list(target[n].shape)}, checkpoint {list(saved[n].shape)})"
        for n in target if n in saved and tuple(target[n].shape) != tuple(saved[n].shape)
    ]
    if mismatched:
        problems.append(f"shape mismatch: {mismatched}")
    if not cast_dtypes:
        other_dtype = [
            f"{n} (model {str(target[n].dtype).replace('torch.', '')}, checkpoint "
            f"{str(saved[n].dtype).replace('torch.', '')})"
            for n in target if n in saved and target[n].dtype != saved[n].dtype
        ]
        if other_dtype:
            problems.append(f"dtype mismatch: {other_dtype} (pass cast_dtypes=True to convert them to the model's "
                            "dtypes, e.g. float32 weights into a float64 model for gradient checks)")
    if problems:
        raise CheckpointError(
            f"{path}: the checkpoint's parameters do not match the model; " + "; ".join(problems)
            + f". The model has {len(target)} persistent tensors, the checkpoint {len(saved)}; nothing was loaded"
        )


def _check_graph_rng(main_loop: Any, checkpoint: LoadedCheckpoint, path: str) -> None:
    from blocks.serialization.graph_rng import graph_random_ops

    found, saved = len(graph_random_ops(main_loop)), len(checkpoint.graph_rng or [])
    if found != saved:
        raise CheckpointError(
            f"{path}: the training graph has {found} random operation(s) (dropout, noise) but the checkpoint "
            f"recorded {saved}; build the same graph as the run that saved it; nothing was loaded"
        )


def _no_arrays(key: str, kind: str) -> Any:
    raise CheckpointError(f"the data positions of the ranks refer to an array ({key}); they must be JSON-able")


def _to_device(state: Any, device: torch.device) -> Any:
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: _to_device(v, device) for k, v in state.items()}
    if isinstance(state, list):
        return [_to_device(v, device) for v in state]
    if isinstance(state, tuple):
        return tuple(_to_device(v, device) for v in state)
    return state


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
    path = checkpoint.path
    model = _model_of(main_loop)
    target = persistent_tensors(model) if model is not None else {}
    _check_parameters(path, target, checkpoint.parameters, cast_dtypes)
    wants_state = load_iteration_state or load_log
    if wants_state and checkpoint.main_loop is None:
        raise CheckpointError(
            f"{path}: a parameters-only checkpoint holds no iteration state or log; load it with "
            "load_iteration_state=False, load_log=False (or blocks.serialization.load_parameters)"
        )
    if load_iteration_state and checkpoint.graph_rng is not None:
        _check_graph_rng(main_loop, checkpoint, path)
    saved = _saved_loop_state(checkpoint, target, load_iteration_state, load_log, main_loop) if wants_state else {}
    previous = {name: t.detach().clone() for name, t in target.items()}
    undo = _undo_point(main_loop, load_iteration_state) if wants_state else None
    try:
        with torch.no_grad():
            for name, tensor in target.items():
                tensor.copy_(checkpoint.parameters[name])
        if load_iteration_state:
            main_loop.load_state_dict(saved)
            if checkpoint.rng:
                restore_rng_state(checkpoint.rng)
            if checkpoint.graph_rng is not None:
                restore_graph_rng(main_loop, checkpoint.graph_rng, path)
        elif load_log:
            main_loop.log.load_state_dict(saved["log"])
            main_loop.log.status.update(saved["status"])
    except Exception as err:
        with torch.no_grad():
            for name, tensor in target.items():
                tensor.copy_(previous[name])
        restored = "the parameters were put back"
        if undo is not None:
            try:
                undo()
                restored = "the parameters, the main loop's state and the random states were put back"
            except Exception:  # noqa: BLE001 - report the original error; the loop is unusable
                logger.exception("could not put the main loop back after a failed load")
                restored += " but the main loop's state could not be: rebuild the main loop before using it"
        raise CheckpointError(
            f"{path}: the main loop could not take the saved state ({type(err).__name__}: {err}); {restored}"
        ) from err
    if wants_state:
        _HISTORY[main_loop] = [*checkpoint.document.get("history", []),
                               {**checkpoint.document.get("run", {}), "checkpoint": os.path.abspath(path)}]
    return checkpoint


def _saved_loop_state(
    checkpoint: LoadedCheckpoint, target: Mapping[str, torch.Tensor], load_iteration_state: bool, load_log: bool,
    main_loop: Any,
) -> dict[str, Any]:
    """The main loop's state to load, built in full before anything changes."""
    path = checkpoint.path
    saved = dict(checkpoint.main_loop or {})
    device = next((t.device for t in target.values()), torch.device("cpu"))
    saved["algorithm"] = _to_device(saved["algorithm"], device)
    ranks = checkpoint.document.get("ranks")
    dist = _distributed()
    world = dist.world_size() if dist is not None else 1
    if ranks and dist is not None and ranks["world_size"] == world:
        try:
            saved["data"] = unflatten_state(ranks["data"][dist.rank()], _no_arrays)
        except CheckpointError as err:
            raise CheckpointError(f"{path}: {err}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as err:
            raise CheckpointError(f"{path}: malformed data position of rank {dist.rank()} ({err})") from None
    elif ranks and ranks["world_size"] != world:
        logger.info("the checkpoint was saved by %d ranks, this run has %d: every rank starts from rank 0's data "
                    "position (sharded schemes count positions globally)", ranks["world_size"], world)
    if load_iteration_state and not load_log:
        saved["log"] = main_loop.log.state_dict()
    return saved


def _undo_point(main_loop: Any, random_states: bool) -> Any:
    """A function putting back the main loop's state and (when they are loaded) the random states."""
    undo_loop = main_loop._undo_point() if hasattr(main_loop, "_undo_point") else None
    rng = capture_rng_state() if random_states else None
    graph_rng = _copy_graph_rng(main_loop) if random_states else None

    def undo() -> None:
        if undo_loop is None:
            raise CheckpointError("this main loop cannot put its state back")
        undo_loop()
        if rng is not None:
            restore_rng_state(rng)
        if graph_rng:
            restore_graph_rng(main_loop, graph_rng)

    return undo


def _copy_graph_rng(main_loop: Any) -> list[dict[str, Any]]:
    from blocks.main_loop import _copy_state

    return _copy_state(capture_graph_rng(main_loop))


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
    _check_parameters(path, target, parameters, cast_dtypes)
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
        document = _read_document(path, archive.read(STATE_JSON))
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
        document = _read_document(path, archive.read(STATE_JSON))
    status = (document.get("main_loop") or {}).get("status") or {}
    document["status"] = {k: v for k, v in status.items() if isinstance(v, (int, float, str, bool, type(None)))}
    for key in ("main_loop", "rng", "extra"):
        document.pop(key, None)
    document["kind"] = "parameters"
    text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    write_archive(path, [MemberSource(PARAMETERS, len(parameters), [parameters]),
                         MemberSource(STATE_JSON, len(text), [text])], kind="parameters")
