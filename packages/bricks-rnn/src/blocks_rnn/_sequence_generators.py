"""Sequence generators: BaseSequenceGenerator and SequenceGenerator (Blocks' ``sequence_generators.py``)."""

from __future__ import annotations

from typing import Any

import torch

from blocks.bricks import Initializable, application
from blocks.roles import COST, add_role
from blocks_rnn._attention_recurrent import AttentionRecurrent, FakeAttentionRecurrent, _as_list, dict_subset
from blocks_rnn._recurrent import recurrent

__all__ = ["BaseSequenceGenerator", "SequenceGenerator"]


class BaseSequenceGenerator(Initializable):
    """A generator of sequences: a readout, a transition with (or without) attention, and a fork.

    At every step the glimpses are taken from the current states, the readouts computed from the states,
    glimpses, contexts and the feedback of the previous output, an output emitted, and its feedback forked into
    the transition's inputs to compute the next states.

    Parameters
    ----------
    readout : AbstractReadout
    transition : AbstractAttentionRecurrent
        E.g. :class:`~blocks_rnn.AttentionRecurrent` or :class:`~blocks_rnn.FakeAttentionRecurrent`.
    fork : Brick
        From the feedback to the transition's inputs (a :class:`~blocks.bricks.Fork`).

    Notes
    -----
    ``cost(outputs, mask=None, **contexts)`` is the mean over the batch of the per-sequence sums of
    ``cost_matrix`` (role ``COST``; auxiliary ``per_sequence_element``). ``cost_matrix`` adds the states and
    glimpses as auxiliary variables, and ``<name>_final_value`` of each (to carry states across batches).
    ``generate(n_steps=..., batch_size=..., **contexts)`` samples; it returns the states, ``outputs``, the
    glimpses and ``costs`` (in ``generate.outputs`` order), each ``(n_steps, batch, ...)``.

    Examples
    --------
    See :class:`SequenceGenerator`.
    """

    def __init__(self, readout: Any, transition: Any, fork: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.readout = readout
        self.transition = transition
        self.fork = fork
        self.children = [readout, fork, transition]

    @property
    def _state_names(self) -> list[str]:
        return list(self.transition.compute_states.outputs)

    @property
    def _context_names(self) -> list[str]:
        return list(self.transition.apply.contexts)

    @property
    def _glimpse_names(self) -> list[str]:
        return list(self.transition.take_glimpses.outputs)

    def _push_allocation_config(self) -> None:
        self.transition.push_allocation_config()
        transition_sources = self._state_names + self._context_names + self._glimpse_names
        self.readout.source_dims = [self.transition.get_dim(name) if name in transition_sources
                                    else self.readout.get_dim(name) for name in self.readout.source_names]
        self.readout.push_allocation_config()
        (feedback_name,) = self.readout.feedback.outputs
        self.fork.input_dim = self.readout.get_dim(feedback_name)
        self.fork.output_dims = self.transition.get_dims(self.fork.apply.outputs)

    @application
    def cost(self, outputs: Any, mask: Any = None, *, application_call: Any, **kwargs: Any) -> Any:
        """Mean over the batch of the summed per-element costs."""
        costs = self.cost_matrix(outputs, mask=mask, **kwargs)
        cost = costs.sum(dim=0).mean()
        if application_call.symbolic:
            add_role(cost, COST)
            per_element = costs.sum() / mask.sum() if mask is not None else costs.mean()
            application_call.add_auxiliary_variable(per_element, name="per_sequence_element")
        return cost

    @application
    def cost_matrix(self, outputs: Any, mask: Any = None, *, application_call: Any, **kwargs: Any) -> Any:
        """Per-element costs ``(time, batch)`` of ``outputs`` (teacher forcing), zero where ``mask`` is 0."""
        batch_size = outputs.shape[1]
        states = dict_subset(kwargs, self._state_names, must_have=False)
        contexts = dict_subset(kwargs, self._context_names, must_have=False)
        feedback = self.readout.feedback(outputs)
        inputs = self.fork.apply(feedback, as_dict=True)
        results = self.transition.apply(mask=mask, return_initial_states=True, as_dict=True,
                                        **inputs, **states, **contexts)
        # The last states predict nothing; the initial glimpses are not used (glimpses precede outputs).
        states = {name: results[name][:-1] for name in self._state_names}
        glimpses = {name: results[name][1:] for name in self._glimpse_names}
        initial_feedback = self.readout.feedback(self.readout.initial_outputs(batch_size))
        feedback = torch.cat([initial_feedback.unsqueeze(0), feedback[:-1]])
        readouts = self.readout.readout(feedback=feedback, **states, **glimpses, **contexts)
        costs = self.readout.cost(readouts, outputs)
        if mask is not None:
            costs = costs * mask
        if application_call.symbolic:
            for name, variable in list(glimpses.items()) + list(states.items()):
                application_call.add_auxiliary_variable(variable, name=name)
            for name in self._state_names + self._glimpse_names:
                application_call.add_auxiliary_variable(results[name][-1], name=name + "_final_value")
        return costs

    @recurrent
    def generate(self, outputs: Any, **kwargs: Any) -> list[Any]:
        """One step of generation: glimpses, readouts, a sampled output, its cost, the next states."""
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        contexts = dict_subset(kwargs, self._context_names, pop=True, must_have=False)
        next_glimpses = self.transition.take_glimpses(as_dict=True, **states, **glimpses, **contexts)
        next_readouts = self.readout.readout(feedback=self.readout.feedback(outputs), **states, **next_glimpses,
                                             **contexts)
        next_outputs = self.readout.emit(next_readouts)
        next_costs = self.readout.cost(next_readouts, next_outputs)
        next_feedback = self.readout.feedback(next_outputs)
        next_inputs = self.fork.apply(next_feedback, as_dict=True) if self.fork else {"feedback": next_feedback}
        next_states = self.transition.compute_states(as_list=True, **next_inputs, **states, **next_glimpses,
                                                     **contexts)
        return _as_list(next_states) + [next_outputs] + list(next_glimpses.values()) + [next_costs]

    @generate.delegate
    def generate_delegate(self) -> Any:
        return self.transition.apply

    @generate.property("states")
    def generate_states(self) -> list[str]:
        return self._state_names + ["outputs"] + self._glimpse_names

    @generate.property("outputs")
    def generate_outputs(self) -> list[str]:
        return self._state_names + ["outputs"] + self._glimpse_names + ["costs"]

    @generate.property("sequences")
    def generate_sequences(self) -> list[str]:
        return []

    def get_dim(self, name: str) -> Any:
        if name in self._state_names + self._context_names + self._glimpse_names:
            return self.transition.get_dim(name)
        if name == "outputs":
            return self.readout.get_dim(name)
        return super().get_dim(name)

    @application
    def initial_states(self, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        """The transition's initial states and glimpses, and the readout's initial outputs."""
        state_dict = dict(self.transition.initial_states(batch_size, *args, as_dict=True, **kwargs))
        state_dict["outputs"] = self.readout.initial_outputs(batch_size)
        return [state_dict[name] for name in self.generate.states]

    @initial_states.property("outputs")
    def initial_states_outputs(self) -> list[str]:
        return list(self.generate.states)

    # ------------------------------------------------------------------ beam search support (eager)
    def search_contexts(self, contexts: dict[str, Any]) -> dict[str, Any]:
        """The contexts of generation, with the attended sequence preprocessed once."""
        contexts = {name: value for name, value in contexts.items() if value is not None}
        if isinstance(self.transition, AttentionRecurrent):
            name = self.transition.preprocessed_attended_name
            if name not in contexts:
                contexts[name] = self.transition.attention.preprocess(contexts[self.transition.attended_name])
        return contexts

    def search_log_probs(self, states: dict[str, Any], contexts: dict[str, Any]) -> Any:
        """Log-probabilities ``(batch, vocabulary)`` of the next output given the generation states."""
        state_values = dict_subset(states, self._state_names)
        glimpses = dict_subset(states, self._glimpse_names)
        next_glimpses = self.transition.take_glimpses(as_dict=True, **state_values, **glimpses, **contexts)
        readouts = self.readout.readout(feedback=self.readout.feedback(states["outputs"]), **state_values,
                                        **next_glimpses, **contexts)
        emitter = getattr(self.readout, "emitter", None)
        if emitter is None or not hasattr(emitter, "probs"):
            raise ValueError("beam search needs a readout whose emitter has `probs` (e.g. SoftmaxEmitter)")
        if hasattr(emitter, "log_probs"):
            return emitter.log_probs(readouts)
        return torch.log(emitter.probs(readouts))

    def search_next_states(self, states: dict[str, Any], outputs: Any, contexts: dict[str, Any]) -> dict[str, Any]:
        """The generation states after emitting ``outputs``."""
        state_values = dict_subset(states, self._state_names)
        glimpses = dict_subset(states, self._glimpse_names)
        next_glimpses = self.transition.take_glimpses(as_dict=True, **state_values, **glimpses, **contexts)
        next_inputs = self.fork.apply(self.readout.feedback(outputs), as_dict=True)
        next_states = self.transition.compute_states(as_list=True, **next_inputs, **state_values, **next_glimpses,
                                                     **contexts)
        result = dict(zip(self._state_names, _as_list(next_states)))
        result["outputs"] = outputs
        result.update(next_glimpses)
        return result


class SequenceGenerator(BaseSequenceGenerator):
    """A sequence generator with optional attention (Blocks' ``SequenceGenerator``).

    Parameters
    ----------
    readout : AbstractReadout
    transition : BaseRecurrent
    attention : AbstractAttention, optional
        With attention the transition is wrapped in :class:`~blocks_rnn.AttentionRecurrent` (``att_trans``),
        else in :class:`~blocks_rnn.FakeAttentionRecurrent` (``with_fake_attention``).
    add_contexts : bool
        Passed to :class:`~blocks_rnn.AttentionRecurrent`.
    fork : Brick, optional
        Default ``Fork`` of the transition's inputs.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> from blocks_rnn import SimpleRecurrent, Readout, SoftmaxEmitter, LookupFeedback
    >>> readout = Readout(readout_dim=5, source_names=["states", "feedback"], emitter=SoftmaxEmitter(seed=1),
    ...                   feedback_brick=LookupFeedback(5, 4))
    >>> generator = SequenceGenerator(readout, SimpleRecurrent(dim=3, activation=Tanh()),
    ...                               weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> outputs = torch.randint(0, 5, (6, 2))
    >>> generator.cost_matrix(outputs).shape
    torch.Size([6, 2])
    >>> states, samples, costs = generator.generate(n_steps=4, batch_size=2)
    >>> tuple(samples.shape)
    (4, 2)
    """

    def __init__(self, readout: Any, transition: Any, attention: Any = None, add_contexts: bool = True,
                 **kwargs: Any) -> None:
        from blocks.bricks.parallel import Distribute, Fork

        normal_inputs = [name for name in transition.apply.sequences if "mask" not in name]
        kwargs.setdefault("fork", Fork(normal_inputs))
        if attention:
            distribute = Distribute(normal_inputs, attention.take_glimpses.outputs[0])
            transition = AttentionRecurrent(transition, attention, distribute, add_contexts=add_contexts,
                                            name="att_trans")
        else:
            transition = FakeAttentionRecurrent(transition, name="with_fake_attention")
        super().__init__(readout, transition, **kwargs)
