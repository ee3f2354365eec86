"""Recurrent transitions with attention: AbstractAttentionRecurrent, AttentionRecurrent, FakeAttentionRecurrent."""

from __future__ import annotations

from typing import Any, Iterable

from blocks.bricks import Initializable, application
from blocks_rnn._recurrent import BaseRecurrent, recurrent

__all__ = ["AbstractAttentionRecurrent", "AttentionRecurrent", "FakeAttentionRecurrent", "dict_subset"]


def dict_subset(source: dict[str, Any], names: Iterable[str], pop: bool = False,
                must_have: bool = True) -> dict[str, Any]:
    """The items of ``source`` named in ``names`` (in that order), optionally removed from ``source``.

    Examples
    --------
    >>> d = {"a": 1, "b": 2}
    >>> dict_subset(d, ["b"], pop=True), d
    ({'b': 2}, {'a': 1})
    """
    result = {}
    for name in names:
        if name in source:
            result[name] = source.pop(name) if pop else source[name]
        elif must_have:
            raise ValueError(f"missing argument {name!r}; got {sorted(source)}")
    return result


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class AbstractAttentionRecurrent(BaseRecurrent):
    """The interface of a recurrent transition with attention: ``apply``, ``compute_states``, ``take_glimpses``.

    ``take_glimpses`` computes the glimpses from the current states (and the previous glimpses);
    ``compute_states`` the next states from the inputs, states and glimpses; ``apply`` runs both over time.
    """


class AttentionRecurrent(AbstractAttentionRecurrent, Initializable):
    """Wrap a recurrent ``transition`` with an ``attention`` mechanism (Blocks' ``AttentionRecurrent``).

    At every step the glimpses are computed from the current states (``take_glimpses``), the first glimpse
    (e.g. ``weighted_averages``) is distributed to the transition's inputs, and the transition computes the next
    states (``compute_states``). Glimpses are states of ``apply`` (fed back).

    Parameters
    ----------
    transition : BaseRecurrent
    attention : AbstractAttention
    distribute : Brick, optional
        Adds the first glimpse to the transition's inputs (default
        ``Distribute(inputs, attention.take_glimpses.outputs[0])``).
    add_contexts : bool
        Add the contexts ``attended`` and ``attended_mask`` (else take the transition's first two contexts).
    attended_name, attended_mask_name : str, optional

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> from blocks_rnn import SimpleRecurrent, SequenceContentAttention
    >>> transition = SimpleRecurrent(dim=3, activation=Tanh())
    >>> attention = SequenceContentAttention(state_names=["states"], attended_dim=4, match_dim=5)
    >>> rnn = AttentionRecurrent(transition, attention, weights_init=IsotropicGaussian(0.1),
    ...                          biases_init=Constant(0))
    >>> states, averages, weights = rnn.apply(inputs=torch.randn(6, 2, 3), attended=torch.randn(7, 2, 4),
    ...                                       attended_mask=torch.ones(7, 2))
    >>> tuple(states.shape), tuple(averages.shape), tuple(weights.shape)
    ((6, 2, 3), (6, 2, 4), (6, 2, 7))
    """

    def __init__(self, transition: Any, attention: Any, distribute: Any = None, add_contexts: bool = True,
                 attended_name: str | None = None, attended_mask_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from blocks.bricks.parallel import Distribute

        self._sequence_names = list(transition.apply.sequences)
        self._state_names = list(transition.apply.states)
        self._context_names = list(transition.apply.contexts)
        if add_contexts:
            attended_name = attended_name or "attended"
            attended_mask_name = attended_mask_name or "attended_mask"
            self._context_names += [attended_name, attended_mask_name]
        else:
            if len(self._context_names) < 2:
                raise ValueError("add_contexts=False needs a transition whose first two contexts are the attended "
                                 f"sequence and its mask; it has {self._context_names}")
            attended_name, attended_mask_name = self._context_names[0], self._context_names[1]
        if not distribute:
            normal_inputs = [name for name in self._sequence_names if "mask" not in name]
            distribute = Distribute(normal_inputs, attention.take_glimpses.outputs[0])
        self.transition = transition
        self.attention = attention
        self.distribute = distribute
        self.add_contexts = add_contexts
        self.attended_name = attended_name
        self.attended_mask_name = attended_mask_name
        self.preprocessed_attended_name = "preprocessed_" + attended_name
        self._glimpse_names = list(attention.take_glimpses.outputs)
        self.previous_glimpses_needed = [name for name in self._glimpse_names
                                         if name in attention.take_glimpses.inputs]
        self.children = [transition, attention, distribute]

    def _push_allocation_config(self) -> None:
        self.attention.state_dims = self.transition.get_dims(self.attention.state_names)
        self.attention.attended_dim = self.get_dim(self.attended_name)
        self.distribute.source_dim = self.attention.get_dim(self.distribute.source_name)
        self.distribute.target_dims = self.transition.get_dims(self.distribute.target_names
                                                               if hasattr(self.distribute, "target_names")
                                                               else self.distribute.input_names)

    @application
    def take_glimpses(self, **kwargs: Any) -> Any:
        """The glimpses for the current states (and the previous glimpses the attention needs)."""
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True, must_have=False)
        glimpses_needed = dict_subset(glimpses, self.previous_glimpses_needed, must_have=False)
        return self.attention.take_glimpses(kwargs.pop(self.attended_name),
                                            kwargs.pop(self.preprocessed_attended_name, None),
                                            kwargs.pop(self.attended_mask_name, None),
                                            **states, **glimpses_needed)

    @take_glimpses.property("outputs")
    def take_glimpses_outputs(self) -> list[str]:
        return self._glimpse_names

    @application
    def compute_states(self, **kwargs: Any) -> Any:
        """The next states from the inputs, the current states and the glimpses."""
        sequences = dict_subset(kwargs, self._sequence_names, pop=True, must_have=False)
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        inputs = dict(sequences)
        inputs.update(glimpses)
        distributed = self.distribute.apply(as_dict=True, **dict_subset(inputs, self.distribute.apply.inputs))
        sequences.update(distributed)
        contexts = dict_subset(kwargs, self.transition.apply.contexts, must_have=False)
        return self.transition.apply(iterate=False, as_list=True, **sequences, **states, **contexts)

    @compute_states.property("outputs")
    def compute_states_outputs(self) -> list[str]:
        return self._state_names

    @recurrent
    def do_apply(self, **kwargs: Any) -> list[Any]:
        """One step: glimpses from the current states, then the next states."""
        attended = kwargs[self.attended_name]
        preprocessed_attended = kwargs.pop(self.preprocessed_attended_name, None)
        attended_mask = kwargs.get(self.attended_mask_name)
        sequences = dict_subset(kwargs, self._sequence_names, pop=True, must_have=False)
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        current_glimpses = self.take_glimpses(as_dict=True, **states, **glimpses,
                                              **{self.attended_name: attended,
                                                 self.attended_mask_name: attended_mask,
                                                 self.preprocessed_attended_name: preprocessed_attended})
        # with add_contexts=False the attended sequence and its mask are the transition's own contexts too
        rest = {k: v for k, v in kwargs.items() if k not in (self.attended_name, self.attended_mask_name)
                or k in self.transition.apply.contexts}
        current_states = self.compute_states(as_list=True, **sequences, **states, **current_glimpses, **rest)
        return current_states + list(current_glimpses.values())

    @application
    def apply(self, **kwargs: Any) -> Any:
        """Run the transition with attention over time (preprocessing the attended sequence once)."""
        kwargs[self.preprocessed_attended_name] = self.attention.preprocess(kwargs[self.attended_name])
        return self.do_apply(**kwargs)

    @apply.delegate
    def apply_delegate(self) -> Any:
        return self.do_apply

    def get_dim(self, name: str) -> Any:
        if name in self._glimpse_names:
            return self.attention.get_dim(name)
        if name == self.preprocessed_attended_name:
            (original_name,) = self.attention.preprocess.outputs
            return self.attention.get_dim(original_name)
        if self.add_contexts:
            if name == self.attended_name:
                return self.attention.get_dim(self.attention.take_glimpses.inputs[0])
            if name == self.attended_mask_name:
                return 0
        return self.transition.get_dim(name)

    @application
    def initial_states(self, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        """The transition's initial states followed by the attention's initial glimpses."""
        return (_as_list(self.transition.initial_states(batch_size, as_list=True, **kwargs))
                + _as_list(self.attention.initial_glimpses(batch_size, kwargs[self.attended_name])))

    @initial_states.property("outputs")
    def initial_states_outputs(self) -> list[str]:
        return self._state_names + self._glimpse_names


AttentionRecurrent.do_apply.property("sequences")(lambda self: self._sequence_names)
AttentionRecurrent.do_apply.property("contexts")(lambda self: self._context_names + [self.preprocessed_attended_name])
AttentionRecurrent.do_apply.property("states")(lambda self: self._state_names + self._glimpse_names)
AttentionRecurrent.do_apply.property("outputs")(lambda self: self._state_names + self._glimpse_names)


class FakeAttentionRecurrent(AbstractAttentionRecurrent, Initializable):
    """Adapt a transition without attention to the interface of :class:`AttentionRecurrent` (no glimpses).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian
    >>> from blocks_rnn import SimpleRecurrent
    >>> rnn = FakeAttentionRecurrent(SimpleRecurrent(dim=2, activation=Tanh()), weights_init=IsotropicGaussian(0.1))
    >>> rnn.take_glimpses.outputs, tuple(rnn.apply(inputs=torch.randn(3, 1, 2)).shape)
    ([], (3, 1, 2))
    """

    def __init__(self, transition: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transition = transition
        self.state_names = list(transition.apply.states)
        self.context_names = list(transition.apply.contexts)
        self.glimpse_names: list[str] = []
        self.children = [transition]

    @application
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """The transition's ``apply``."""
        return self.transition.apply(*args, **kwargs)

    @apply.delegate
    def apply_delegate(self) -> Any:
        return self.transition.apply

    @application
    def compute_states(self, *args: Any, **kwargs: Any) -> Any:
        """One step of the transition."""
        return self.transition.apply(*args, iterate=False, **kwargs)

    @compute_states.delegate
    def compute_states_delegate(self) -> Any:
        return self.transition.apply

    @application(outputs=[])
    def take_glimpses(self, *args: Any, **kwargs: Any) -> Any:
        """No glimpses."""
        return []

    @application
    def initial_states(self, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        """The transition's initial states."""
        return self.transition.initial_states(batch_size, *args, **kwargs)

    @initial_states.property("outputs")
    def initial_states_outputs(self) -> list[str]:
        return self.transition.apply.states

    def get_dim(self, name: str) -> Any:
        return self.transition.get_dim(name)
