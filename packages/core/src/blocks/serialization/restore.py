"""Putting a parsed checkpoint into a main loop, all or nothing.

:func:`check_loadable` refuses, before anything changes, a checkpoint whose
parameters or random operations do not match the main loop, or that lacks the
state asked for; :func:`saved_loop_state` builds the whole state to load (on
the model's device, with this rank's data position); :func:`load_all_or_nothing`
loads it and, if the main loop refuses any of it, puts the parameters, the
loop's state and the random states back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from blocks.serialization.errors import CheckpointError
from blocks.serialization.flatten import unflatten_state
from blocks.serialization.graph_rng import capture_graph_rng, restore_graph_rng
from blocks.serialization.layout import dtype_name
from blocks.serialization.rng import capture_rng_state, restore_rng_state

if TYPE_CHECKING:
    from blocks.serialization.checkpoint import LoadedCheckpoint

__all__ = ["check_loadable", "check_parameters", "load_all_or_nothing", "saved_loop_state"]

logger = logging.getLogger(__name__)


def check_parameters(
    path: str, target: Mapping[str, torch.Tensor], saved: Mapping[str, torch.Tensor], cast_dtypes: bool = False
) -> None:
    """The saved parameters must have the model's names and shapes (and dtypes, unless ``cast_dtypes``)."""
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
            f"{n} (model {dtype_name(target[n].dtype)}, checkpoint {dtype_name(saved[n].dtype)})"
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


def check_loadable(
    main_loop: Any, checkpoint: LoadedCheckpoint, target: Mapping[str, torch.Tensor], load_iteration_state: bool,
    load_log: bool, cast_dtypes: bool,
) -> None:
    """Refuse, before anything changes, a checkpoint that cannot give the main loop what was asked for."""
    path = checkpoint.path
    check_parameters(path, target, checkpoint.parameters, cast_dtypes)
    if (load_iteration_state or load_log) and checkpoint.main_loop is None:
        raise CheckpointError(
            f"{path}: a parameters-only checkpoint holds no iteration state or log; load it with "
            "load_iteration_state=False, load_log=False (or blocks.serialization.load_parameters)"
        )
    if load_iteration_state and checkpoint.graph_rng is not None:
        _check_graph_rng(main_loop, checkpoint, path)


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


def _rank_data_position(path: str, ranks: Mapping[str, Any], dist: Any) -> Any:
    """This rank's data position from the checkpoint's ``ranks`` entry."""
    try:
        return unflatten_state(ranks["data"][dist.rank()], _no_arrays)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as err:
        raise CheckpointError(f"{path}: malformed data position of rank {dist.rank()} ({err})") from None


def saved_loop_state(
    checkpoint: LoadedCheckpoint, target: Mapping[str, torch.Tensor], load_iteration_state: bool, load_log: bool,
    main_loop: Any, dist: Any,
) -> dict[str, Any]:
    """The main loop's state to load, built in full before anything changes.

    The algorithm's tensors go to the model's device; in a multi-process run
    (``dist`` is :mod:`blocks.distributed`, else ``None``) of the world size
    that saved it, each rank takes its own data position.
    """
    saved = dict(checkpoint.main_loop or {})
    device = next((t.device for t in target.values()), torch.device("cpu"))
    saved["algorithm"] = _to_device(saved["algorithm"], device)
    ranks = checkpoint.document.get("ranks")
    world = dist.world_size() if dist is not None else 1
    if ranks and dist is not None and ranks["world_size"] == world:
        saved["data"] = _rank_data_position(checkpoint.path, ranks, dist)
    elif ranks and ranks["world_size"] != world:
        logger.info("the checkpoint was saved by %d ranks, this run has %d: every rank starts from rank 0's data "
                    "position (sharded schemes count positions globally)", ranks["world_size"], world)
    if load_iteration_state and not load_log:
        saved["log"] = main_loop.log.state_dict()
    return saved


def _copy_graph_rng(main_loop: Any) -> list[dict[str, Any]]:
    from blocks.main_loop import _copy_state

    return _copy_state(capture_graph_rng(main_loop))


def _undo_point(main_loop: Any, random_states: bool) -> Callable[[], None]:
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


def _load(
    main_loop: Any, checkpoint: LoadedCheckpoint, target: Mapping[str, torch.Tensor], saved: dict[str, Any],
    load_iteration_state: bool, load_log: bool,
) -> None:
    with torch.no_grad():
        for name, tensor in target.items():
            tensor.copy_(checkpoint.parameters[name])
    if load_iteration_state:
        main_loop.load_state_dict(saved)
        if checkpoint.rng:
            restore_rng_state(checkpoint.rng)
        if checkpoint.graph_rng is not None:
            restore_graph_rng(main_loop, checkpoint.graph_rng, checkpoint.path)
    elif load_log:
        main_loop.log.load_state_dict(saved["log"])
        main_loop.log.status.update(saved["status"])


def _put_back(target: Mapping[str, torch.Tensor], previous: Mapping[str, torch.Tensor], undo: Any) -> str:
    """Put back the parameters and (with ``undo``) the rest; say what was put back."""
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
    return restored


def load_all_or_nothing(
    main_loop: Any, checkpoint: LoadedCheckpoint, target: Mapping[str, torch.Tensor], saved: dict[str, Any],
    load_iteration_state: bool, load_log: bool,
) -> None:
    """Copy the parameters into ``target`` and load the chosen state; on any failure put everything back.

    Raises
    ------
    CheckpointError
        When the main loop refuses the state (naming the error and what was put back).
    """
    previous = {name: t.detach().clone() for name, t in target.items()}
    undo = _undo_point(main_loop, load_iteration_state) if load_iteration_state or load_log else None
    try:
        _load(main_loop, checkpoint, target, saved, load_iteration_state, load_log)
    except Exception as err:
        restored = _put_back(target, previous, undo)
        raise CheckpointError(
            f"{checkpoint.path}: the main loop could not take the saved state ({type(err).__name__}: {err}); "
            f"{restored}"
        ) from err
