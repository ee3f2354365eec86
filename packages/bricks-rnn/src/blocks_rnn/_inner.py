"""The inner graph of a recurrent call: its step traced once on symbolic inputs (Blocks' scan inner graph).

:meth:`RecurrentApplication.inner_graph` calls :func:`trace_step` for every iterated symbolic call: one
placeholder per argument the step will receive (the sequences at one time step, every state, the contexts),
named after the argument and shaped like it without the time axis, then the application applied for one step
(``iterate=False``), which annotates the step's inputs, outputs and whatever the bricks inside compute. The
runner given to :class:`blocks.graph.InnerGraph` runs the recurrence with a rewritten step in the Python loop
(:func:`blocks_rnn._recurrent.scan`), never the fused kernel.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Callable

import torch

from blocks.bricks import Brick
from blocks.bricks.base import Application, BoundApplication
from blocks.graph import InnerGraph, Variable, tensor

__all__ = ["trace_step"]

logger = logging.getLogger(__name__)

_OPTIONS = ("iterate", "reverse", "return_initial_states", "n_steps", "batch_size")
_WARNED: set[tuple[type, str]] = set()


def _shape_of(value: Any, drop_time: bool) -> tuple[tuple[int | None, ...] | None, Any]:
    """``(shape, dtype)`` of a symbolic or concrete argument (``shape`` without the time axis if ``drop_time``)."""
    if isinstance(value, Variable):
        shape, dtype = value.static_shape, value.meta.get("dtype")
        if shape is None and value.meta.get("ndim") is not None:
            shape = (None,) * value.meta["ndim"]
    elif isinstance(value, torch.Tensor):
        shape, dtype = tuple(value.shape), value.dtype
    else:
        raise ValueError(f"a recurrence's sequences, states and contexts must be variables or tensors, got "
                         f"{type(value).__name__}")
    if shape is not None and drop_time:
        if len(shape) == 0:
            raise ValueError("a sequence must have a time axis")
        shape = tuple(shape[1:])
    return shape, dtype


def _state_shape(brick: Brick, name: str) -> tuple[int | None, ...] | None:
    try:
        dim = brick.get_dim(name)
    except (ValueError, AttributeError):
        return None
    if not isinstance(dim, int):
        return None
    return (None,) if dim == 0 else (None, dim)


def _placeholders(app: Application, brick: Brick, named: dict[str, Any]) -> dict[str, Variable]:
    from blocks_rnn._recurrent import _names

    sequences, states, contexts = (_names(app, brick, kind) for kind in ("sequences", "states", "contexts"))
    placeholders: dict[str, Variable] = {}
    for name in sequences + states + contexts:
        if name in placeholders:
            continue
        value = named.get(name)
        if value is None and name not in states:
            continue
        if value is None:
            shape, dtype = _state_shape(brick, name), None
        else:
            shape, dtype = _shape_of(value, drop_time=name in sequences)
        placeholders[name] = tensor(name, ndim=None if shape is None else len(shape), shape=shape,
                                    dtype=dtype if isinstance(dtype, torch.dtype) else None)
    return placeholders


def _runner(app: Application, brick: Brick) -> Callable[[Callable[..., Any], int], Callable[..., Any]]:
    from blocks_rnn._recurrent import _bind, _iterate

    def make(step: Callable[..., Any], num_extra: int) -> Callable[..., Any]:
        def run(*args: Any, iterate: bool = True, reverse: bool = False, return_initial_states: bool = False,
                n_steps: int | None = None, batch_size: int | None = None, **kwargs: Any) -> Any:
            named = _bind(app, brick, args, kwargs)
            result = _iterate(brick, app, step, named, reverse=reverse, return_initial_states=return_initial_states,
                              n_steps=n_steps, batch_size=batch_size, fast=False, num_extra=num_extra)
            count = len(result) - num_extra
            outputs = result[0] if count == 1 else result[:count]
            return outputs, tuple(result[count:])

        return run

    return make


def trace_step(app: Application, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> InnerGraph | None:
    """The :class:`~blocks.graph.InnerGraph` of an iterated call of ``app`` on ``brick``, or ``None``.

    A step that cannot be traced symbolically (Python control flow on values, eager arithmetic on parameters)
    gives ``None`` and a warning naming the brick and the reason, once per brick class and application.
    """
    from blocks_rnn._recurrent import _bind

    try:
        named = _bind(app, brick, args, {k: v for k, v in kwargs.items() if k not in _OPTIONS})
        placeholders = _placeholders(app, brick, named)
        step = copy.copy(app)
        step.opaque = False
        outputs = BoundApplication(step, brick)(iterate=False, as_list=True, **placeholders)
        inner = InnerGraph(list(placeholders.values()), list(outputs), _runner(app, brick))
        inner.tensors  # noqa: B018 -- builds (and checks) the step's graph now, inside this try
        return inner
    except Exception as error:  # any user step: the recurrence still runs, only its step is not visible
        key = (type(brick), app.name)
        if key not in _WARNED:
            _WARNED.add(key)
            logger.warning("the step of %s.%s (%s) could not be traced symbolically, so its variables are not in "
                           "the graph's scan_variables: %s: %s", brick.name, app.name, type(brick).__name__,
                           type(error).__name__, error)
        return None
