"""Blocks behaviours found by running Blocks' recurrent, attention and search tests against blocks_rnn (issue 24).

Each test is ours; it names the Blocks behaviour it pins down.
"""

from __future__ import annotations

import numpy
import torch

from blocks.bricks import Identity, Tanh
from blocks.bricks.base import application
from blocks.bricks.lookup import LookupTable
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, lmatrix, matrix, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks_rnn import (
    LSTM,
    RECURRENTSTACK_SEPARATOR,
    AttentionRecurrent,
    BeamSearch,
    LookupFeedback,
    Readout,
    RecurrentStack,
    SequenceContentAttention,
    SequenceGenerator,
    SimpleRecurrent,
    SoftmaxEmitter,
)


def test_suffix_leaves_mask_alone():
    """All levels of a RecurrentStack share one ``mask``: Blocks' ``suffix("mask", level)`` is ``"mask"``."""
    assert RecurrentStack.suffix("mask", 3) == "mask"
    assert RecurrentStack.suffix("states", 0) == "states"
    assert RecurrentStack.suffix("states", 2) == f"states{RECURRENTSTACK_SEPARATOR}2"


def test_low_memory_stack_with_skip_connections_compiles():
    """Symbolic inputs named ``inputs#1`` are keyword arguments of the one recurrence node: the graph compiles."""
    stack = RecurrentStack([LSTM(dim=3) for _ in range(2)], skip_connections=True, weights_init=Constant(0.1),
                           biases_init=Constant(0))
    x, x1, mask = tensor3("x"), tensor3("x1"), matrix("mask")
    states = stack.apply(low_memory=True, **{"inputs": x, f"inputs{RECURRENTSTACK_SEPARATOR}1": x1, "mask": mask})
    values = ComputationGraph(states).compile()({"x": torch.ones(4, 2, 12), "x1": torch.ones(4, 2, 12),
                                                 "mask": torch.ones(4, 2)})
    eager = stack.apply(low_memory=True, **{"inputs": torch.ones(4, 2, 12), "mask": torch.ones(4, 2),
                                            f"inputs{RECURRENTSTACK_SEPARATOR}1": torch.ones(4, 2, 12)})
    assert len(values) == len(eager) and all(torch.allclose(v, e) for v, e in zip(values, eager))


class _ContextTransition(SimpleRecurrent):
    """A transition that declares the attended sequence and its mask as its own contexts (Blocks' pattern)."""

    def __init__(self, attended_dim, **kwargs):
        super().__init__(**kwargs)
        self.attended_dim = attended_dim
        self.seen_contexts = []

    @application(contexts=["attended", "attended_mask"])
    def apply(self, *args, **kwargs):
        self.seen_contexts.append(sorted(k for k in kwargs if k.startswith("attended")))
        for context in ("attended", "attended_mask"):
            kwargs.pop(context)
        return super().apply(*args, **kwargs)

    @apply.delegate
    def apply_delegate(self):
        return super().apply

    def get_dim(self, name):
        if name == "attended":
            return self.attended_dim
        if name == "attended_mask":
            return 0
        return super().get_dim(name)


def test_attention_recurrent_without_added_contexts_uses_the_transitions():
    transition = _ContextTransition(attended_dim=3, dim=2, activation=Identity())
    assert transition.apply.states == ["states"]  # reading the delegate keeps the override's own contexts
    assert transition.apply.contexts == ["attended", "attended_mask"]
    attention = SequenceContentAttention(state_names=transition.apply.states, match_dim=2)
    recurrent = AttentionRecurrent(transition, attention, add_contexts=False, weights_init=IsotropicGaussian(0.1),
                                   biases_init=Constant(0))
    states, glimpses, weights = recurrent.apply(inputs=torch.ones(5, 4, 2), attended=torch.rand(6, 4, 3),
                                                attended_mask=torch.ones(6, 4))
    assert tuple(states.shape) == (5, 4, 2) and tuple(weights.shape) == (5, 4, 6)
    assert transition.seen_contexts and all(seen == ["attended", "attended_mask"]
                                            for seen in transition.seen_contexts)


def test_beam_search_takes_input_variables_as_keys_and_returns_arrays():
    """Blocks' ``search({inputs: values}, ...)`` is keyed by the input variables; ``as_arrays`` gives NumPy arrays."""
    lookup = LookupTable(6, 4, weights_init=IsotropicGaussian(0.5))
    transition = SimpleRecurrent(activation=Tanh(), dim=4, name="transition")
    attention = SequenceContentAttention(state_names=transition.apply.states, attended_dim=4, match_dim=4)
    readout = Readout(readout_dim=6, source_names=[transition.apply.states[0], attention.take_glimpses.outputs[0]],
                      emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(6, 4))
    generator = SequenceGenerator(readout=readout, transition=transition, attention=attention,
                                  weights_init=IsotropicGaussian(0.5), biases_init=Constant(0), seed=3)
    chars = lmatrix("inputs")
    samples, = VariableFilter(applications=[generator.generate], name="outputs")(
        ComputationGraph(generator.generate(n_steps=5, batch_size=3, attended=lookup.apply(chars),
                                            attended_mask=torch.ones_like(chars, dtype=torch.float32))))
    values = numpy.tile(numpy.array([1, 4, 2, 5]), (3, 1)).T
    search = BeamSearch(samples)
    by_variable = search.search({chars: values}, 0, 6, as_arrays=True)
    by_name = search.search({"inputs": values}, 0, 6, as_arrays=True)
    assert all(isinstance(a, numpy.ndarray) for a in by_variable)
    assert all(numpy.array_equal(a, b) for a, b in zip(by_variable, by_name))
    outputs, costs = search.search({chars: values}, 0, 6)
    assert (outputs, costs) == BeamSearch.result_to_lists(by_variable)
    assert outputs[0] == list(by_variable[0][:int(by_variable[1][:, 0].sum()), 0])
