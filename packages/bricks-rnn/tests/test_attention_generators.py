"""Attention, sequence generators, beam search and graph annotations of the recurrent bricks."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from blocks.bricks import Brick, Linear, Tanh
from blocks.config import config
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_noise, lmatrix, matrix, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import INITIAL_STATE, WEIGHT, has_roles
from blocks_rnn import (
    LSTM,
    AttentionRecurrent,
    BeamSearch,
    Bidirectional,
    GatedRecurrent,
    LookupFeedback,
    Readout,
    SequenceContentAttention,
    SequenceGenerator,
    SimpleRecurrent,
    SoftmaxEmitter,
)

DT = torch.float64


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


def _attended(T=6, B=3, dim=4):
    gen = torch.Generator().manual_seed(0)
    attended = torch.randn(T, B, dim, dtype=DT, generator=gen)
    mask = torch.ones(T, B, dtype=DT)
    mask[4:, 0] = 0
    if B > 2:
        mask[1:, 2] = 0
    return attended, mask


def test_content_attention_weights_sum_to_one_under_masks():
    attended, mask = _attended()
    attention = SequenceContentAttention(state_names=["states"], state_dims=[5], attended_dim=4, match_dim=3,
                                         weights_init=IsotropicGaussian(1.0), biases_init=Constant(0.1))
    states = torch.randn(3, 5, dtype=DT)
    averages, weights = attention.take_glimpses(attended, attended_mask=mask, states=states)
    torch.testing.assert_close(weights.sum(1), torch.ones(3, dtype=DT))
    assert bool((weights.t()[mask == 0] == 0).all())
    torch.testing.assert_close(averages, (weights.t()[:, :, None] * attended).sum(0))
    # the reference: a masked softmax of the energies computed by hand
    match = attention.attended_transformer.apply(attended) + states @ attention.state_transformers.children[0].W
    energies = (torch.tanh(match) @ attention.energy_computer.children[1].W).squeeze(-1)
    energies = energies.masked_fill(mask == 0, -math.inf)
    torch.testing.assert_close(weights, torch.softmax(energies, dim=0).t())
    # an all-masked column gives zero weights, not NaN
    _, weights = attention.take_glimpses(attended, attended_mask=torch.zeros_like(mask), states=states)
    assert bool((weights == 0).all())


def test_attention_recurrent_glimpses_every_step():
    attended, mask = _attended()
    attention = SequenceContentAttention(state_names=["states"], attended_dim=4, match_dim=3)
    rnn = AttentionRecurrent(GatedRecurrent(dim=5), attention,
                             weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    inputs = torch.randn(7, 3, 5, dtype=DT)
    gate_inputs = torch.randn(7, 3, 10, dtype=DT)
    states, averages, weights = rnn.apply(inputs=inputs, gate_inputs=gate_inputs, attended=attended,
                                          attended_mask=mask)
    assert states.shape == (7, 3, 5) and averages.shape == (7, 3, 4) and weights.shape == (7, 3, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(7, 3, dtype=DT))
    assert bool((weights.permute(2, 1, 0)[mask == 0] == 0).all())
    # step by step with compute_states/take_glimpses gives the same states
    h = rnn.initial_states(3, as_dict=True, attended=attended)["states"]
    for t in range(7):
        glimpses = rnn.take_glimpses(as_dict=True, states=h, attended=attended, attended_mask=mask)
        (h,) = rnn.compute_states(as_list=True, inputs=inputs[t], gate_inputs=gate_inputs[t], states=h, **glimpses)
        torch.testing.assert_close(h, states[t])


def _generator(attention: bool, vocabulary: int = 3, seed: int = 1):
    readout = Readout(readout_dim=vocabulary, source_names=["states", "feedback"] +
                      (["weighted_averages"] if attention else []),
                      emitter=SoftmaxEmitter(seed=seed), feedback_brick=LookupFeedback(vocabulary, 4))
    transition = GatedRecurrent(dim=5)
    att = SequenceContentAttention(state_names=["states"], attended_dim=4, match_dim=3) if attention else None
    generator = SequenceGenerator(readout, transition, attention=att, weights_init=IsotropicGaussian(0.8),
                                  biases_init=Constant(0.2), seed=seed)
    generator.initialize()
    return generator


def _teacher_forced_costs(generator, outputs, contexts):
    """-log p(y_t | y_<t) step by step through the search interface (independent of cost_matrix)."""
    contexts = generator.search_contexts(contexts)
    states = dict(generator.initial_states(outputs.shape[1], as_dict=True, **contexts))
    costs = []
    for t in range(outputs.shape[0]):
        log_p = generator.search_log_probs(states, contexts)
        costs.append(-log_p.gather(1, outputs[t][:, None])[:, 0])
        states = generator.search_next_states(states, outputs[t], contexts)
    return torch.stack(costs)


@pytest.mark.parametrize("attention", [False, True])
def test_cost_matrix_equals_step_by_step_costs_and_symbolic_cost(attention):
    generator = _generator(attention, vocabulary=5)
    outputs = torch.randint(0, 5, (4, 3), generator=torch.Generator().manual_seed(2))
    mask = torch.ones(4, 3, dtype=DT)
    mask[2:, 1] = 0
    attended, attended_mask = _attended()
    contexts = {"attended": attended, "attended_mask": attended_mask} if attention else {}
    costs = generator.cost_matrix(outputs, mask=mask, **contexts)
    torch.testing.assert_close(costs, _teacher_forced_costs(generator, outputs, contexts) * mask)
    # the symbolic cost compiles to the same value and gradient
    symbols = {"outputs": lmatrix("outputs"), "mask": matrix("mask")}
    if attention:
        symbols.update(attended=tensor3("attended"), attended_mask=matrix("attended_mask"))
    cost = generator.cost(symbols["outputs"], mask=symbols["mask"],
                          **{k: v for k, v in symbols.items() if k.startswith("attended")})
    cg = ComputationGraph([cost])
    from blocks.roles import COST, has_roles

    assert has_roles(cost, [COST])  # Blocks tags the generator's cost
    names = [v.name for v in cg.auxiliary_variables]
    assert "per_sequence_element" in names and "states_final_value" in names
    batch = {"outputs": outputs, "mask": mask, **contexts}
    (value,) = cg.compile()(batch)
    eager = generator.cost(outputs, mask=mask, **contexts)
    torch.testing.assert_close(value, eager)
    assert set(map(id, cg.parameters)) == {id(p) for p in generator.parameters()}
    grads = torch.autograd.grad(value, cg.parameters, allow_unused=True)
    ref = torch.autograd.grad(eager, cg.parameters, allow_unused=True)
    for a, b in zip(grads, ref):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b)


def test_generate_samples_with_costs():
    generator = _generator(True, vocabulary=5)
    attended, attended_mask = _attended()
    result = generator.generate(n_steps=6, batch_size=3, attended=attended, attended_mask=attended_mask,
                                as_dict=True)
    assert list(result) == ["states", "outputs", "weighted_averages", "weights", "costs"]
    samples = result["outputs"]
    assert samples.shape == (6, 3) and samples.dtype == torch.int64
    expected = _teacher_forced_costs(generator, samples, {"attended": attended, "attended_mask": attended_mask})
    torch.testing.assert_close(result["costs"], expected)


def _enumerate(generator, vocabulary, eol, max_length, contexts, beam):
    """All complete hypotheses (ended by eol or by max_length) with their exact costs."""
    hypotheses = []
    for length in range(1, max_length + 1):
        for body in itertools.product([s for s in range(vocabulary) if s != eol], repeat=length - 1):
            for last in range(vocabulary):
                if length < max_length and last != eol:
                    continue
                sequence = [*body, last]
                outputs = torch.tensor(sequence)[:, None].expand(-1, beam)
                cost = _teacher_forced_costs(generator, outputs, contexts)[:, 0].sum().item()
                hypotheses.append((cost, sequence))
    return sorted(hypotheses)


@pytest.mark.parametrize("attention", [False, True])
def test_beam_search_returns_the_exact_best_sequences(attention):
    vocabulary, eol, max_length = 3, 0, 3
    generator = _generator(attention, vocabulary=vocabulary, seed=4)
    beam = 15  # every hypothesis fits: the search is exhaustive, so it must be exact
    attended_symbol, mask_symbol = tensor3("source"), matrix("source_mask")
    encoder = Linear(input_dim=4, output_dim=4, weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    if attention:
        samples = generator.generate(n_steps=max_length, batch_size=beam, attended=encoder.apply(attended_symbol),
                                     attended_mask=mask_symbol, as_dict=True)["outputs"]
    else:
        samples = generator  # no contexts: nothing symbolic to compute
    search = BeamSearch(samples)
    source, source_mask = _attended(B=1)
    inputs = {"source": source.expand(-1, beam, -1), "source_mask": source_mask.expand(-1, beam)}
    outputs, costs = search.search(inputs, eol_symbol=eol, max_length=max_length, beam_size=None if attention
                                   else beam)
    contexts = {"attended": encoder.apply(inputs["source"]), "attended_mask": inputs["source_mask"]} \
        if attention else {}
    with torch.no_grad():
        expected = _enumerate(generator, vocabulary, eol, max_length, contexts, beam)
    assert len(expected) == beam
    assert outputs == [sequence for _, sequence in expected]
    torch.testing.assert_close(torch.tensor(costs), torch.tensor([cost for cost, _ in expected]))
    # a smaller beam still finds the best sequence on this model
    if not attention:
        small, _ = search.search(inputs, eol_symbol=eol, max_length=max_length, beam_size=4)
        assert small[0] == expected[0][1]


class _Encoder(Brick):
    """A named parent brick holding a bidirectional LSTM encoder."""

    def __init__(self, **kwargs):
        super().__init__(name="encoder", **kwargs)
        self.projection = Linear(input_dim=3, output_dim=16, weights_init=IsotropicGaussian(0.3),
                                 biases_init=Constant(0))
        self.rnn = Bidirectional(LSTM(dim=4), weights_init=IsotropicGaussian(0.3))
        self.children = [self.projection, self.rnn]

    def apply(self, x):
        return self.rnn.apply(inputs=self.projection.apply(x))[0]


def test_weight_noise_on_lstm_weights_under_encoder():
    encoder = _Encoder()
    decoder = LSTM(dim=2, name="decoder_lstm", weights_init=IsotropicGaussian(0.3))
    to_decoder = Linear(input_dim=8, output_dim=8, weights_init=IsotropicGaussian(0.3), biases_init=Constant(0))
    x = tensor3("features")
    states, _ = decoder.apply(inputs=to_decoder.apply(encoder.apply(x)))
    cost = states.sum()
    cg = ComputationGraph([cost])
    weights = [p for p in VariableFilter(roles=[WEIGHT], bricks=[LSTM])(cg.parameters)
               if any(parent.name == "encoder" for parent in _ancestors(p))]
    names = sorted(Brick.get_hierarchical_name(p) for p in weights)
    assert names == sorted(f"/encoder/bidirectional/{d}.{w}" for d in ("forward", "backward")
                           for w in ("W_state", "W_cell_to_in", "W_cell_to_forget", "W_cell_to_out"))
    assert all(not has_roles(p, [INITIAL_STATE]) for p in weights)
    batch = {"features": torch.randn(5, 2, 3, dtype=DT)}
    clean = cg.compile()(batch)[0]
    noisy_cg = apply_noise(cg, weights, 0.5, seed=1)
    noisy = noisy_cg.compile()(batch)[0]
    assert not torch.allclose(noisy, clean)
    torch.testing.assert_close(cg.compile()(batch)[0], clean)  # the original graph is untouched
    torch.testing.assert_close(apply_noise(cg, weights, 0.0).compile()(batch)[0], clean)
    # noise on the decoder's weights only changes nothing inside the encoder
    decoder_weights = VariableFilter(roles=[WEIGHT], bricks=[decoder])(cg.parameters)
    assert len(decoder_weights) == 4
    grads = torch.autograd.grad(noisy, weights)
    assert all(g.abs().sum() > 0 for g in grads)


def _ancestors(parameter):
    brick = Brick.get_brick(parameter) if hasattr(Brick, "get_brick") else parameter._blocks_brick
    result, stack = [], list(brick.parents)
    while stack:
        parent = stack.pop()
        result.append(parent)
        stack.extend(parent.parents)
    return result


def test_simple_recurrent_symbolic_call_is_one_node_with_parameters():
    rnn = SimpleRecurrent(dim=3, activation=Tanh(), weights_init=IsotropicGaussian(0.5))
    h = rnn.apply(inputs=tensor3("inputs"), mask=matrix("mask"))
    cg = ComputationGraph([h])
    assert [Brick.get_hierarchical_name(p) for p in cg.parameters] == ["/simplerecurrent.W",
                                                                         "/simplerecurrent.initial_state"]
    x, mask = torch.randn(4, 2, 3, dtype=DT), torch.ones(4, 2, dtype=DT)
    torch.testing.assert_close(cg.compile()({"inputs": x, "mask": mask})[0], rnn.apply(inputs=x, mask=mask))


def test_one_symbolic_step_is_traced_with_inner_variables():
    from blocks.bricks import Logistic
    from blocks.roles import OUTPUT

    lstm = LSTM(dim=3, weights_init=IsotropicGaussian(0.5))
    states, cells = lstm.apply(inputs=matrix("inputs"), states=matrix("states"), cells=matrix("cells"),
                               iterate=False)
    cg = ComputationGraph([states, cells])
    assert len(VariableFilter(bricks=[Logistic], roles=[OUTPUT])(cg.variables)) == 3  # the three gates
    batch = {"inputs": torch.randn(2, 12, dtype=DT), "states": torch.randn(2, 3, dtype=DT),
             "cells": torch.randn(2, 3, dtype=DT)}
    for a, b in zip(cg.compile()(batch), lstm.apply(**batch, iterate=False)):
        torch.testing.assert_close(a, b)
    iterated = lstm.apply(inputs=tensor3("inputs"))[0]
    assert VariableFilter(bricks=[Logistic])(ComputationGraph([iterated]).variables) == []  # one opaque node
