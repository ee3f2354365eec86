"""RecurrentStack: a stack of recurrent transitions (Blocks' ``RecurrentStack``)."""

from __future__ import annotations

from typing import Any, Sequence

from blocks.bricks import Initializable, Linear, application
from blocks_rnn._recurrent import BaseRecurrent, recurrent

__all__ = ["RECURRENTSTACK_SEPARATOR", "RecurrentStack"]

#: Separator between a name and its level in a stack (``states#1``).
RECURRENTSTACK_SEPARATOR = "#"


def _fork_class() -> Any:
    from blocks.bricks.parallel import Fork

    return Fork


class RecurrentStack(BaseRecurrent, Initializable):
    """Stack recurrent transitions: the states of each level, forked, are the inputs of the level above.

    Parameters
    ----------
    transitions : list of BaseRecurrent
        The levels, bottom first; level ``i > 0`` gets the suffix ``#i`` appended to its name.
    fork_prototype : Feedforward, optional
        Prototype of the transforms from a level's ``states_name`` state to the next level's inputs
        (default ``Linear(use_bias=False)``); one :class:`~blocks.bricks.parallel.Fork` ``fork_<i>`` per level
        above the first.
    states_name : str
        The state passed up (default ``"states"``).
    skip_connections : bool
        Levels above the first also take their own inputs (``inputs#i``), added to the forked states.

    Notes
    -----
    The names of sequences, states and outputs of level ``i > 0`` are suffixed ``#i`` (``states#1``); ``mask``
    and contexts are shared. ``apply(..., low_memory=True)`` runs all levels inside one loop over time instead
    of one loop per level. ``reverse`` is not supported (as in Blocks): wrap the stack in
    :class:`~blocks_rnn.Bidirectional` or reverse the inputs.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian
    >>> from blocks_rnn import SimpleRecurrent
    >>> stack = RecurrentStack([SimpleRecurrent(dim=3, activation=Tanh()) for _ in range(2)],
    ...                        weights_init=IsotropicGaussian(0.1))
    >>> stack.apply.sequences, stack.apply.outputs
    (['inputs', 'mask'], ['states', 'states#1'])
    >>> bottom, top = stack.apply(inputs=torch.randn(5, 2, 3))
    >>> tuple(top.shape)
    (5, 2, 3)
    """

    def __init__(self, transitions: Sequence[BaseRecurrent], fork_prototype: Any = None, states_name: str = "states",
                 skip_connections: bool = False, **kwargs: Any) -> None:
        transitions = list(transitions)
        if not transitions:
            raise ValueError("RecurrentStack needs at least one transition")
        for level, transition in enumerate(transitions):
            if states_name not in transition.apply.states:
                raise ValueError(f"transition {level} ({transition.name}) has no state {states_name!r}; its states "
                                 f"are {transition.apply.states}")
            if level > 0:
                transition.name = transition.name + RECURRENTSTACK_SEPARATOR + str(level)
        self_transitions = transitions
        fork_prototype = fork_prototype if fork_prototype is not None else Linear(use_bias=False)
        fork_class = _fork_class()
        forks = [fork_class([n for n in transitions[level].apply.sequences if n != "mask"], name=f"fork_{level}",
                            prototype=fork_prototype) for level in range(1, len(transitions))]
        super().__init__(children=self_transitions + forks, **kwargs)
        self.transitions = self_transitions
        self.forks = forks
        self.states_name = states_name
        self.skip_connections = skip_connections

    @staticmethod
    def suffix(name: str, level: int) -> str:
        """``name`` at ``level`` (``name`` itself at level 0; ``mask`` is shared by all levels, as in Blocks)."""
        return name if level == 0 or name == "mask" else f"{name}{RECURRENTSTACK_SEPARATOR}{level}"

    @staticmethod
    def split_suffix(name: str) -> tuple[str, int]:
        """The inverse of :meth:`suffix`."""
        base, separator, level = name.rpartition(RECURRENTSTACK_SEPARATOR)
        if separator and level.isdigit():
            return base, int(level)
        return name, 0

    def normal_inputs(self, level: int) -> list[str]:
        """The sequences of level ``level`` other than ``mask``."""
        return [name for name in self.transitions[level].apply.sequences if name != "mask"]

    def _sequences(self) -> list[str]:
        names = []
        for level in range(len(self.transitions)):
            if level == 0 or self.skip_connections:
                names += [self.suffix(name, level) for name in self.normal_inputs(level)]
        return names + ["mask"]

    def _suffixed(self, kind: str) -> list[str]:
        return [self.suffix(name, level) for level, transition in enumerate(self.transitions)
                for name in getattr(transition.apply, kind)]

    def _contexts(self) -> list[str]:
        names: list[str] = []
        for transition in self.transitions:
            names += [name for name in transition.apply.contexts if name not in names]
        return names

    def _push_allocation_config(self) -> None:
        for transition in self.transitions:
            transition.push_allocation_config()
        for level, fork in enumerate(self.forks):
            fork.input_dim = self.transitions[level].get_dim(self.states_name)
            fork.output_dims = self.transitions[level + 1].get_dims(fork.output_names)

    def get_dim(self, name: str) -> Any:
        if name in self._contexts():
            return self.transitions[0].get_dim(name)
        base, level = self.split_suffix(name)
        if level >= len(self.transitions):
            raise ValueError(f"{self.name} has {len(self.transitions)} levels; no {name!r}")
        return self.transitions[level].get_dim(base)

    def do_apply(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Apply the levels one after the other (each over all steps unless ``iterate=False``)."""
        names = self._sequences() + self._contexts()
        if len(args) > len(names):
            raise ValueError(f"{self.name}.apply takes at most {len(names)} positional arguments ({names})")
        kwargs.update(zip(names, args))
        if kwargs.get("reverse", False):
            raise ValueError("RecurrentStack does not support reverse=True; wrap it in Bidirectional or reverse "
                             "the inputs")
        options = {k: kwargs[k] for k in ("iterate", "return_initial_states") if k in kwargs}
        results: list[Any] = []
        last_states = None
        for level, transition in enumerate(self.transitions):
            normal_inputs = self.normal_inputs(level)
            layer: dict[str, Any] = {}
            if level == 0 or self.skip_connections:
                for name in normal_inputs:
                    if kwargs.get(self.suffix(name, level)) is not None:
                        layer[name] = kwargs[self.suffix(name, level)]
            if "mask" in transition.apply.sequences and kwargs.get("mask") is not None:
                layer["mask"] = kwargs["mask"]
            for name in transition.apply.states:
                if kwargs.get(self.suffix(name, level)) is not None:
                    layer[name] = kwargs[self.suffix(name, level)]
            for name in transition.apply.contexts:
                if kwargs.get(name) is not None:
                    layer[name] = kwargs[name]
            if level > 0:
                forked = self.forks[level - 1].apply(last_states, as_list=True)
                for name, value in zip(normal_inputs, forked):
                    layer[name] = layer[name] + value if name in layer else value
            result = transition.apply(as_list=True, **layer, **options)
            results.extend(result)
            last_states = result[list(transition.apply.outputs).index(self.states_name)]
            if options.get("return_initial_states", False):
                last_states = last_states[1:]
        return results

    @recurrent
    def low_memory_apply(self, *args: Any, **kwargs: Any) -> list[Any]:
        """One step of every level (iterated by ``@recurrent``: all levels inside one loop)."""
        kwargs["iterate"] = False
        return self.do_apply(*args, **kwargs)

    @application
    def apply(self, *args: Any, low_memory: bool = False, **kwargs: Any) -> Any:
        """Apply the stack; returns the outputs of every level (``states``, ``states#1``, ...)."""
        if low_memory:
            return self.low_memory_apply(*args, **kwargs)
        result = self.do_apply(*args, **kwargs)
        return result[0] if len(result) == 1 else result

    @application
    def initial_states(self, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        """The initial states of every level, in the order of ``apply.states``."""
        results: list[Any] = []
        for transition in self.transitions:
            results += transition.initial_states(batch_size, *args, as_list=True, **kwargs)
        return results[0] if len(results) == 1 else results


def _stack_properties() -> None:
    for app in (RecurrentStack.apply, RecurrentStack.low_memory_apply):
        app.property("sequences")(lambda self: self._sequences())
        app.property("states")(lambda self: self._suffixed("states"))
        app.property("contexts")(lambda self: self._contexts())
        app.property("outputs")(lambda self: self._suffixed("outputs"))
    RecurrentStack.initial_states.property("outputs")(lambda self: self._suffixed("states"))


_stack_properties()
