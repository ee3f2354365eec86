"""Tensors the recurrent bricks make themselves (zero states, initial outputs, samples) follow their parameters.

A graph is usually built and compiled before the model moves (``GradientDescent`` places it on the backend's
device in ``initialize``, ``Brick.to`` casts it): the zeros and constants its nodes make are placed when the
graph runs, never baked in when it was built.
"""

from __future__ import annotations

import pytest
import torch

from blocks.bricks import Tanh
from blocks.graph import ComputationGraph, lmatrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks_rnn import LSTM, LookupFeedback, Readout, SequenceGenerator, SimpleRecurrent, SoftmaxEmitter

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _generator() -> SequenceGenerator:
    """The Markov-chain example's generator: no trainable initial state, a parameterless emitter."""
    generator = SequenceGenerator(
        Readout(readout_dim=3, source_names=["states"], emitter=SoftmaxEmitter(seed=1),
                feedback_brick=LookupFeedback(3, 2)),
        SimpleRecurrent(activation=Tanh(), dim=4),
        weights_init=IsotropicGaussian(0.5), biases_init=Constant(0), seed=1,
    )
    generator.initialize()
    assert list(generator.readout.emitter.parameters()) == []
    return generator


def _chains() -> torch.Tensor:
    return torch.tensor([[0, 1, 2, 1, 0], [2, 2, 1, 0, 0], [1, 0, 1, 2, 2]])  # (time, batch)


def test_a_compiled_cost_follows_the_parameters_dtype():
    generator = _generator()
    x = lmatrix("chains")
    cost = generator.cost_matrix(x).sum()
    function = ComputationGraph([cost]).compile()
    generator.to(torch.float64)  # after compiling, as a backend moves a model after the graph was built
    (value,) = function({"chains": _chains()})
    assert value.dtype == torch.float64
    torch.testing.assert_close(value, generator.cost_matrix(_chains()).sum())


def test_initial_outputs_and_zero_states_are_made_where_the_parameters_are():
    # the "meta" device stands in for a GPU on a CPU-only machine: anything made on the CPU by default shows
    generator = _generator().to("meta")
    assert generator.readout.initial_outputs(5).device.type == "meta"  # the parameterless emitter's constant
    lstm = LSTM(dim=3, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    lstm.initialize()
    lstm.to("meta")
    states = lstm.initial_states(2)
    assert [s.device.type for s in states] == ["meta", "meta"] and states[1].shape == (2, 3)


def test_generation_follows_the_parameters_dtype():
    generator = _generator().to(torch.float64)
    result = generator.generate(n_steps=4, batch_size=5, as_dict=True)
    assert result["states"].dtype == torch.float64 and result["outputs"].dtype == torch.int64


@pytest.mark.gpu
@requires_cuda
def test_cost_and_generation_on_a_gpu():
    generator = _generator()
    x = lmatrix("chains")
    function = ComputationGraph([generator.cost_matrix(x).sum()]).compile()
    expected = generator.cost_matrix(_chains()).sum()
    generator.to("cuda")
    (value,) = function({"chains": _chains()})  # a host batch, moved by the compiled graph
    assert value.device.type == "cuda"
    torch.testing.assert_close(value.cpu(), expected, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        result = generator.generate(n_steps=4, batch_size=5, as_dict=True)
    assert result["outputs"].device.type == "cuda" and result["outputs"].shape == (4, 5)
    assert int(result["outputs"].max()) < 3
