"""The ``@recurrent`` application decorator and :class:`BaseRecurrent` (Blocks' ``bricks/recurrent/base.py``).

A recurrent application is written as ONE step (``apply(self, inputs, states, mask=None)``) and declared with
its ``sequences``, ``states``, ``contexts`` and ``outputs``. Calling it iterates the step over the time axis
(axis 0) of the sequences, starting from the given states or from ``initial_states``; ``iterate=False`` applies
one step; ``reverse=True`` runs from the last step to the first; ``return_initial_states=True`` prepends the
initial states to the outputs that are states.

On tensors the loop runs eagerly, through the brick's fast path when it has one (``_scan_fast``: a fused
PyTorch kernel or a hand-written BPTT kernel) and a Python loop over the step otherwise. On symbolic inputs
the whole call is ONE node of the annotated graph (``@application(opaque=True)``, the way Theano's ``scan``
was one op): its inputs/outputs are annotated as usual, the brick's parameters (and its children's) are inputs
of the node, so ``VariableFilter`` finds them and ``apply_noise`` on them takes effect inside the loop. The
step is also traced once on symbolic inputs (its *inner graph*, :mod:`blocks.graph.inner`): its variables are
the graph's ``scan_variables``, and a transform of them (dropout on hidden states) gives a graph whose
recurrence runs the rewritten step in a Python loop; graphs that leave the step alone keep the fused path.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from blocks.bricks import Brick, application
from blocks.bricks.base import Application, BoundApplication
from blocks.graph import Variable, call, is_symbolic
from blocks.roles import INITIAL_STATE, has_roles
from blocks_rnn._device import zeros_like_brick

__all__ = ["BaseRecurrent", "RecurrentApplication", "recurrent", "scan"]

_OPTIONS = ("iterate", "reverse", "return_initial_states", "n_steps", "batch_size")


def _names(app: Application, brick: Brick, kind: str) -> list[str]:
    """``sequences``/``states``/``contexts``/``outputs`` of ``app`` on ``brick`` (properties and delegates too)."""
    try:
        value = getattr(getattr(brick, app.name), kind)
    except AttributeError:
        return []
    return list(value or [])


def scan(step: Callable[..., Any], sequences: dict[str, Tensor], states: dict[str, Tensor],
         contexts: dict[str, Any], outputs: Sequence[str], reverse: bool = False,
         n_steps: int | None = None) -> list[Tensor]:
    """Iterate ``step`` over axis 0 of ``sequences`` (eagerly) and stack its outputs over time.

    Parameters
    ----------
    step : callable
        ``step(**sequences_at_t, **states, **contexts)`` returning the outputs (a tensor or a list in the order
        of ``outputs``). Outputs named like a state become that state for the next step.
    sequences, states, contexts : dict of str to Tensor
        Keyword arguments of the step; ``sequences`` are indexed by time.
    outputs : sequence of str
        The names of the step's outputs.
    reverse : bool
        Iterate from the last step to the first (outputs stay in the original time order).
    n_steps : int, optional
        The number of steps when there are no sequences (generation).

    Returns
    -------
    list of Tensor
        One ``(time, ...)`` tensor per output.

    Examples
    --------
    >>> import torch
    >>> out = scan(lambda inputs, states: states + inputs, {"inputs": torch.ones(3, 1)},
    ...            {"states": torch.zeros(1)}, {}, ["states"])
    >>> out[0].view(-1).tolist()
    [1.0, 2.0, 3.0]
    """
    if not sequences and n_steps is None:
        raise ValueError("a recurrent application needs a sequence to iterate over, or n_steps")
    length = next(iter(sequences.values())).shape[0] if sequences else int(n_steps)
    if length == 0:
        raise ValueError("the sequences of a recurrent application must have at least one step")
    for name, value in sequences.items():
        if value.shape[0] != length:
            raise ValueError(f"sequence {name!r} has {value.shape[0]} steps, others have {length}")
    current = dict(states)
    collected: list[list[Tensor]] = [[] for _ in outputs]
    order = range(length - 1, -1, -1) if reverse else range(length)
    for t in order:
        kwargs = {name: value[t] for name, value in sequences.items()}
        kwargs.update(current)
        kwargs.update(contexts)
        result = step(**kwargs)
        if not isinstance(result, (list, tuple)):
            result = [result]
        if len(result) != len(outputs):
            raise ValueError(f"the step returned {len(result)} outputs, the application declares {list(outputs)}")
        for i, (name, value) in enumerate(zip(outputs, result)):
            collected[i].append(value)
            if name in current:
                current[name] = value
    if reverse:
        for values in collected:
            values.reverse()
    return [torch.stack(values) for values in collected]


class _BoundRecurrentApplication(BoundApplication):
    """A bound recurrent application: one symbolic step (``iterate=False``) is traced, not opaque."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("iterate", True) is False and is_symbolic(args, kwargs):
            step = copy.copy(self.application)
            step.opaque = False
            return BoundApplication(step, self.brick)(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class RecurrentApplication(Application):
    """The application made by :func:`recurrent`.

    On symbolic inputs an iterated call is ONE opaque node (the time loop runs eagerly when the graph runs);
    a single step (``iterate=False``) is traced like any application, so the variables inside the step (gate
    activations, ...) are part of the annotated graph (Blocks' scan variables).

    Examples
    --------
    >>> from blocks_rnn import LSTM
    >>> isinstance(LSTM.apply, RecurrentApplication), LSTM.apply.opaque
    (True, True)
    """

    variadic = False

    def unused_tensors(self, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> list[Tensor]:
        """The initial-state parameters an iterated call given those states explicitly does not depend on.

        Given every state, the loop never calls ``initial_states``: every ``INITIAL_STATE`` parameter of the
        brick's tree is left out of the graph node (Blocks' graph held only what the outputs reach). Given some
        states, the ones the base ``initial_states`` would read for them (``initial_<state>``) are left out.
        """
        if kwargs.get("iterate", True) is False:
            return []
        names = list(self.argument_names)
        if self.variadic:
            names = _names(self, brick, "sequences") + _names(self, brick, "contexts")
            names += [n for n in _names(self, brick, "states") if n not in names]
        given = {name for name, value in zip(names, args) if value is not None}
        given.update(name for name, value in kwargs.items() if value is not None)
        states = _names(self, brick, "states")
        if all(name in given for name in states):
            return [p for p in brick.parameters() if has_roles(p, [INITIAL_STATE])]
        if isinstance(brick, BaseRecurrent) and type(brick).initial_states is BaseRecurrent.initial_states:
            unused = [brick._initial_parameter(name) for name in states if name in given]
            return [p for p in unused if p is not None]
        return []

    def inner_graph(self, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> Any:
        """The step of an iterated symbolic call traced once (its variables are the graph's scan variables).

        ``None`` for one step (``iterate=False``: traced inline) or when the step cannot be traced
        symbolically (a warning says why; the recurrence still runs, but its step cannot be transformed).
        """
        if kwargs.get("iterate", True) is False:
            return None
        from blocks_rnn._inner import trace_step

        return trace_step(self, brick, args, kwargs)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        bound = _BoundRecurrentApplication(self, instance)
        if inspect.getattr_static(type(instance), self.name, None) is self:  # not ``super().apply`` of an override
            instance.__dict__[self.name] = bound
        return bound


def _bind(app: Application, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the positional ``args`` named (the step's arguments; per brick for variadic steps)."""
    if app.variadic:  # names come from the (per-brick) declaration; positional: sequences, then contexts
        arg_names = _names(app, brick, "sequences") + _names(app, brick, "contexts")
        arg_names += [n for n in _names(app, brick, "states") if n not in arg_names]
    else:
        arg_names = app.argument_names
    if len(args) > len(arg_names):
        raise ValueError(f"{brick.name}.{app.name} takes at most {len(arg_names)} positional arguments "
                         f"({arg_names}), got {len(args)}")
    kwargs = dict(kwargs)
    for name, value in zip(arg_names, args):
        if name in kwargs:
            raise ValueError(f"{brick.name}.{app.name}: argument {name!r} given twice")
        kwargs[name] = value
    unknown = [name for name in kwargs if name not in arg_names]
    if unknown:
        raise ValueError(f"{brick.name}.{app.name}: unknown argument(s) {unknown}; it takes {arg_names} "
                         f"and the options {list(_OPTIONS)}")
    return kwargs


def _iterate(brick: Brick, app: Application, step: Callable[..., Any], kwargs: dict[str, Any], *,
                 reverse: bool = False, return_initial_states: bool = False, n_steps: int | None = None,
                 batch_size: int | None = None, fast: bool = True, num_extra: int = 0) -> list[Any]:
    """Run ``step`` over time for a call of the recurrent application ``app`` with (named) ``kwargs``.

    The initial states missing from ``kwargs`` come from ``brick.initial_states``. With ``fast``, the brick's
    fused implementation (``_scan_fast``) runs the loop when it has one. ``step`` returns the application's
    outputs followed by ``num_extra`` values that are stacked over time too. Returns one tensor per output
    (then per extra value); ``return_initial_states`` prepends the initial states to the outputs that are
    states.
    """
    sequence_names = _names(app, brick, "sequences")
    state_names = _names(app, brick, "states")
    context_names = _names(app, brick, "contexts")
    output_names = _names(app, brick, "outputs")
    sequences = {n: kwargs[n] for n in sequence_names if kwargs.get(n) is not None}
    contexts = {n: kwargs[n] for n in context_names if kwargs.get(n) is not None}
    if not sequences and (n_steps is None or batch_size is None):
        raise ValueError(f"{brick.name}.{app.name}: give at least one of the sequences {sequence_names}, "
                         "or n_steps and batch_size, or call it with iterate=False for one step")
    if sequences:
        batch_size = next(iter(sequences.values())).shape[1]
    states = {n: kwargs[n] for n in state_names if kwargs.get(n) is not None}
    missing = [n for n in state_names if n not in states]
    if missing:
        initial = brick.initial_states(batch_size, as_dict=True, **sequences, **contexts)
        for name in missing:
            states[name] = initial[name]
    result = brick._scan_fast(app.name, sequences, states, contexts, reverse) if (fast and sequences) else None
    if result is None:
        extra_names = [f"extra output {i}" for i in range(num_extra)]
        result = scan(step, sequences, states, contexts, output_names + extra_names, reverse, n_steps=n_steps)
    result = list(result)
    if return_initial_states:
        result[:len(output_names)] = [
            torch.cat([states[name].unsqueeze(0), value]) if name in states and value is not None else value
            for name, value in zip(output_names, result)]
    return result


def recurrent(*args: Any, **kwargs: Any) -> Any:
    """Declare a recurrent application from its step function (Blocks' ``@recurrent``).

    Parameters
    ----------
    sequences : list of str
        Arguments iterated over time (axis 0); ``mask`` is a sequence too. ``None`` values are left out.
    states : list of str
        Arguments carried from step to step; missing ones come from ``brick.initial_states``.
    contexts : list of str
        Arguments passed unchanged to every step.
    outputs : list of str
        The step's outputs; those named like states feed the next step.

    Call options: ``iterate=True`` (``False``: one step), ``reverse=False``, ``return_initial_states=False``;
    without sequences (generation) ``n_steps`` and ``batch_size``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Brick
    >>> class Accumulator(BaseRecurrent):
    ...     @recurrent(sequences=["inputs"], states=["states"], outputs=["states"], contexts=[])
    ...     def apply(self, inputs, states):
    ...         return states + inputs
    ...     def get_dim(self, name):
    ...         return 2 if name == "states" else super().get_dim(name)
    >>> acc = Accumulator()
    >>> acc.apply(torch.ones(3, 1, 2))[:, 0, 0].tolist()
    [1.0, 2.0, 3.0]
    >>> acc.apply(inputs=torch.ones(1, 2), states=torch.ones(1, 2), iterate=False).tolist()
    [[2.0, 2.0]]
    """

    def decorate(step: Callable[..., Any]) -> Application:
        signature = inspect.signature(step)
        variadic = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values())
        declared = [name for name, p in signature.parameters.items()
                    if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        holder: list[Application] = []

        @functools.wraps(step)
        def recurrent_apply(self: Brick, *args: Any, iterate: bool = True, reverse: bool = False,
                            return_initial_states: bool = False, n_steps: int | None = None,
                            batch_size: int | None = None, **kwargs: Any) -> Any:
            app = holder[0]
            kwargs = _bind(app, self, args, kwargs)
            if not iterate:
                return step(self, **kwargs)
            result = _iterate(self, app, functools.partial(step, self), kwargs, reverse=reverse,
                                  return_initial_states=return_initial_states, n_steps=n_steps,
                                  batch_size=batch_size)
            return result[0] if len(result) == 1 else result

        attributes = dict(kwargs)
        if "states" in attributes:
            attributes.setdefault("outputs", list(attributes["states"]))
        if not variadic:
            attributes.setdefault("inputs", declared)
        app = RecurrentApplication(recurrent_apply, opaque=True, **attributes)
        app.argument_names = declared
        app.variadic = variadic
        holder.append(app)
        return app

    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return decorate(args[0])
    if args:
        raise ValueError("use @recurrent(sequences=[...], states=[...], contexts=[...], outputs=[...])")
    return decorate


class BaseRecurrent(Brick):
    """Base class of recurrent bricks: ``initial_states`` and the fast-path hook.

    ``initial_states(batch_size, *args, **kwargs)`` returns one ``(batch_size, dim)`` tensor per state of
    ``apply``: the brick's trainable initial state (a parameter named ``initial_<state>`` or
    ``initial_state``/``initial_state_`` when it has one, role ``INITIAL_STATE``) repeated over the batch, else
    zeros of ``get_dim(state)``.

    Examples
    --------
    >>> import torch
    >>> from blocks_rnn import SimpleRecurrent
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import Constant
    >>> rnn = SimpleRecurrent(dim=3, activation=Tanh(), weights_init=Constant(0.1))
    >>> rnn.initial_states(2).shape
    torch.Size([2, 3])
    """

    def _initial_parameter(self, state: str) -> Tensor | None:
        for name in (f"initial_{state}", "initial_state" if state == "states" else None,
                     "initial_state_" if state == "states" else None):
            if name is not None and self._parameters.get(name) is not None:
                return self._parameters[name]
        return None

    def _initial_value(self, state: str, batch_size: Any) -> Any:
        parameter = self._initial_parameter(state)
        if parameter is not None:
            return parameter.unsqueeze(0).expand(batch_size, *parameter.shape)
        dim = self.get_dim(state)
        shape = () if dim == 0 else (dim,)
        if isinstance(batch_size, Variable):  # device and dtype looked up when the graph runs
            return call(self._zero_state, batch_size, shape)
        return self._zero_state(batch_size, shape)

    def _zero_state(self, batch_size: Any, shape: tuple[int, ...]) -> Tensor:
        """Zeros on the device and in the float dtype of this brick's parameters."""
        return zeros_like_brick(self, batch_size, shape)

    @application
    def initial_states(self, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        """Initial values of the states for a batch of ``batch_size`` sequences."""
        values = [self._initial_value(state, batch_size) for state in self.apply.states]
        return values[0] if len(values) == 1 else values

    @initial_states.property("outputs")
    def initial_states_outputs(self) -> list[str]:
        return list(self.apply.states)

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        """A fused implementation of the whole loop, or ``None`` to run the step in a Python loop (override)."""
        return None
