"""The random generators inside a training graph (dropout masks, weight noise).

``blocks.graph.apply_dropout`` / ``apply_noise`` put nodes in the graph whose
targets own ``torch.Generator`` objects and have ``state_dict()`` /
``load_state_dict()``. Neither the model's persistent tensors nor the
algorithm's state holds them, so a checkpoint collects them from the
algorithm's graph (in the graph's deterministic variable order, then those
inside the steps of its recurrences: per-step and per-sequence dropout masks)
and an exact resume puts them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from blocks.serialization.errors import CheckpointError

__all__ = ["capture_graph_rng", "graph_random_ops", "restore_graph_rng"]


def graph_random_ops(main_loop: Any) -> list[Any]:
    """The distinct random node targets of ``main_loop.algorithm.graph`` (and of its steps), in graph order."""
    graph = getattr(getattr(main_loop, "algorithm", None), "graph", None)
    ops: list[Any] = []
    seen: set[int] = set()
    variables = list(getattr(graph, "variables", None) or []) + list(getattr(graph, "scan_variables", None) or [])
    for variable in variables:
        target = getattr(getattr(variable, "node", None), "target", None)
        if id(target) in seen or isinstance(target, str):
            continue
        if all(callable(getattr(target, attr, None)) for attr in ("generator", "state_dict", "load_state_dict")):
            seen.add(id(target))
            ops.append(target)
    return ops


def capture_graph_rng(main_loop: Any) -> list[dict[str, Any]]:
    """``state_dict()`` of every random node target of the training graph.

    Examples
    --------
    >>> capture_graph_rng(object())
    []
    """
    return [op.state_dict() for op in graph_random_ops(main_loop)]


def _available(device: str) -> bool:
    kind = torch.device(device).type
    return kind == "cpu" or (kind == "cuda" and torch.cuda.is_available())


def restore_graph_rng(main_loop: Any, states: Sequence[dict[str, Any]], where: str = "checkpoint") -> None:
    """Load ``states`` (from :func:`capture_graph_rng`) into the graph's random node targets.

    Generator states of devices this process lacks (CUDA on a CPU machine) are skipped.

    Raises
    ------
    CheckpointError
        When the graph has a different number of random nodes than the checkpoint.
    """
    ops = graph_random_ops(main_loop)
    if len(ops) != len(states):
        raise CheckpointError(
            f"{where}: the training graph has {len(ops)} random operation(s) (dropout, noise) but the checkpoint "
            f"recorded {len(states)}; build the same graph as the run that saved it"
        )
    for op, state in zip(ops, states):
        state = dict(state)
        state["states"] = {d: s for d, s in dict(state.get("states", {})).items() if _available(d)}
        op.load_state_dict(state)
