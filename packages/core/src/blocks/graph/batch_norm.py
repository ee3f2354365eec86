"""Batch normalization in training mode: context manager, graph transform, population updates."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from blocks.graph.computation_graph import ComputationGraph
from blocks.graph.variables import Variable
from blocks.roles import INPUT, OUTPUT, has_roles

__all__ = ["apply_batch_normalization", "batch_normalization", "get_batch_normalization_updates"]


def _batch_norm_bricks(bricks: Any) -> list[Any]:
    from blocks.bricks.bn import BatchNormalization

    found: list[Any] = []
    for brick in bricks:
        for module in brick.modules():
            if isinstance(module, BatchNormalization) and not any(module is f for f in found):
                found.append(module)
    return found


@contextlib.contextmanager
def batch_normalization(*bricks: Any) -> Iterator[None]:
    """Put every batch-normalization brick under ``bricks`` in training mode (nestable).

    Graphs built inside use minibatch statistics, and their ``updates`` hold the
    population statistics' moving averages.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import BatchNormalizedMLP, Tanh
    >>> from blocks.graph import matrix, ComputationGraph, batch_normalization
    >>> from blocks.initialization import IsotropicGaussian
    >>> mlp = BatchNormalizedMLP([Tanh()], [3, 4], weights_init=IsotropicGaussian(1.0))
    >>> with batch_normalization(mlp):
    ...     cg = ComputationGraph([mlp.apply(matrix("x")).sum()])
    >>> len(cg.updates)
    2
    """
    found = _batch_norm_bricks(bricks)
    for brick in found:
        brick._training_mode.append(True)
    try:
        yield
    finally:
        for brick in found:
            brick._training_mode.pop()


def apply_batch_normalization(computation_graph: ComputationGraph) -> ComputationGraph:
    """Rewrite an inference graph into one using minibatch statistics (a new graph).

    Each batch-normalization call in inference mode is applied again on the
    same input in training mode and its output replaced.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import BatchNormalization
    >>> from blocks.graph import matrix, ComputationGraph, apply_batch_normalization
    >>> bn = BatchNormalization(input_dim=2)
    >>> cg = ComputationGraph([bn.apply(matrix("x"))])
    >>> train = apply_batch_normalization(cg)
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    >>> cg.compile()({"x": x})[0].tolist(), train.compile()({"x": x})[0].tolist()
    ([[1.0, 2.0], [3.0, 6.0]], [[-0.9999500513076782, -0.9999874830245972], [0.9999500513076782, 0.9999874830245972]])
    """
    from blocks.bricks.bn import BatchNormalization

    replacements = {}
    for call in computation_graph.application_calls:
        if not isinstance(call.brick, BatchNormalization) or call.metadata.get("training_mode"):
            continue
        nodes = [Variable(n) for n in call.nodes]
        inputs = [v for v in nodes if has_roles(v, [INPUT])]
        outputs = [v for v in nodes if has_roles(v, [OUTPUT])]
        if len(inputs) != 1 or len(outputs) != 1:
            continue
        source = Variable(inputs[0].node.args[0])
        with call.brick:
            new_output = call.brick.apply(source, call_id=call.metadata.get("call_id"))
        replacements[outputs[0]] = new_output
    if not replacements:
        raise ValueError("the graph has no batch-normalization call in inference mode to rewrite")
    return computation_graph.replace(replacements)


def get_batch_normalization_updates(training_graph: ComputationGraph,
                                    allow_duplicates: bool = False) -> list[tuple[torch.Tensor, Variable]]:
    """Pairs ``(population statistic buffer, minibatch estimate variable)`` of a training graph.

    Use them to build your own population updates (the graph's ``updates``
    already hold moving averages with each brick's ``population_update_rate``).

    Raises
    ------
    ValueError
        When a brick is applied more than once and ``allow_duplicates`` is false,
        or when the graph has no training-mode batch normalization.
    """
    pairs: list[tuple[torch.Tensor, Variable]] = []
    seen: list[Any] = []
    for call in training_graph.application_calls:
        if not call.metadata.get("training_mode"):
            continue
        if any(call.brick is s for s in seen) and not allow_duplicates:
            raise ValueError(f"brick {call.brick.get_unique_path()} is applied several times in training mode; "
                             "pass allow_duplicates=True to get one pair per call")
        seen.append(call.brick)
        pairs.append((call.brick.population_mean, call.metadata["offset"]))
        if call.metadata.get("divisor") is not None:
            pairs.append((call.brick.population_stdev, call.metadata["divisor"]))
    if not pairs:
        raise ValueError("the graph has no batch normalization in training mode; build it inside "
                         "batch_normalization(...) or transform it with apply_batch_normalization")
    return pairs
