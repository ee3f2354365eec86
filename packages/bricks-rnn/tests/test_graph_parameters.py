"""``ComputationGraph.parameters`` holds what the outputs depend on (Blocks' graph held only what they reach).

A decoder given its initial states explicitly (an ordinary encoder-decoder) does not use its ``initial_state``
parameters: they are not graph parameters, and ``GradientDescent(cost)`` trains the model without being told
which parameters to leave out. The reference for "depends on" is autograd on the same model run eagerly.
"""

from __future__ import annotations

import pytest
import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import Brick, Linear, Softmax, Tanh
from blocks.bricks.cost import CategoricalCrossEntropy
from blocks.bricks.lookup import LookupTable
from blocks.config import config
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_noise, lmatrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import INITIAL_STATE
from blocks_rnn import LSTM, GatedRecurrent, SimpleRecurrent, TorchLSTM

VOCAB, EMBED, DIM = 7, 5, 4
INIT = {"weights_init": IsotropicGaussian(0.3), "biases_init": Constant(0.1)}


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


class EncoderDecoder:
    """Embedding, an encoder recurrence over the source, a decoder started from the encoder's last states."""

    def __init__(self, kind, given=("states", "cells")):
        self.kind, self.given = kind, given
        self.embed = LookupTable(VOCAB, EMBED, name="embed", **INIT)
        if kind == "lstm":
            make, width = (lambda name: LSTM(dim=DIM, name=name, **INIT)), 4 * DIM
        elif kind == "torch_lstm":
            make, width = (lambda name: TorchLSTM(input_dim=DIM, dim=DIM, name=name, **INIT)), DIM
        else:
            make, width = (lambda name: SimpleRecurrent(dim=DIM, activation=Tanh(), name=name, **INIT)), DIM
        self.encoder_in = Linear(EMBED, width, name="encoder_in", **INIT)
        self.decoder_in = Linear(EMBED, width, name="decoder_in", **INIT)
        self.encoder, self.decoder = make("encoder"), make("decoder")
        self.output = Linear(DIM, VOCAB, name="output", **INIT)
        for brick in self.bricks:
            brick.initialize()
        with torch.no_grad():  # non-zero initial states, so a dependency on them shows in the gradients
            for brick in (self.encoder, self.decoder):
                for parameter in brick.parameters():
                    if getattr(parameter, "_blocks_name", "").startswith("initial"):
                        parameter.normal_(generator=torch.Generator().manual_seed(5))

    @property
    def bricks(self):
        return [self.embed, self.encoder_in, self.decoder_in, self.encoder, self.decoder, self.output]

    def cost(self, source, target):
        encoded = self.encoder.apply(inputs=self.encoder_in.apply(self.embed.apply(source)), as_dict=True)
        given = {name: encoded[name][-1] for name in self.given}
        decoded = self.decoder.apply(inputs=self.decoder_in.apply(self.embed.apply(target)), as_dict=True, **given)
        scores = self.output.apply(decoded["states"])
        return CategoricalCrossEntropy().apply(target.reshape(-1), Softmax().apply(scores.reshape(-1, VOCAB)))


def _batch():
    generator = torch.Generator().manual_seed(0)
    return {"source": torch.randint(0, VOCAB, (5, 3), generator=generator),
            "target": torch.randint(0, VOCAB, (4, 3), generator=generator)}


def _used_eagerly(model, batch):
    """Parameters that get a gradient when the same model runs eagerly (autograd's "depends on")."""
    parameters = [p for brick in model.bricks for p in brick.parameters()]
    cost = model.cost(batch["source"], batch["target"])
    gradients = torch.autograd.grad(cost, parameters, allow_unused=True)
    return [p for p, g in zip(parameters, gradients) if g is not None]


def _names(parameters):
    return [Brick.get_hierarchical_name(p) for p in parameters]


@pytest.mark.parametrize(("kind", "given"), [("lstm", ("states", "cells")), ("lstm", ("states",)),
                                             ("torch_lstm", ("states", "cells")), ("simple", ("states",))])
def test_graph_parameters_are_what_autograd_reaches(kind, given):
    model = EncoderDecoder(kind, given)
    batch = _batch()
    cg = ComputationGraph([model.cost(lmatrix("source"), lmatrix("target"))])
    assert set(_names(cg.parameters)) == set(_names(_used_eagerly(model, batch)))
    # the encoder's trainable initial states are used (it starts from them); the decoder's given ones are not
    names = _names(VariableFilter(roles=[INITIAL_STATE])(cg.parameters))
    assert "/encoder.initial_state" in names
    assert "/decoder.initial_state" not in names
    assert ("/decoder.initial_cells" in names) == (kind == "lstm" and "cells" not in given)


def test_gradient_descent_trains_an_encoder_decoder_given_explicit_states():
    model = EncoderDecoder("lstm")
    cost = model.cost(lmatrix("source"), lmatrix("target"))
    before = {name: p.detach().clone() for name, p in zip(_names(ComputationGraph([cost]).parameters),
                                                         ComputationGraph([cost]).parameters)}
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))  # failed: "the cost does not depend on ..."
    algorithm.initialize()
    algorithm.process_batch(_batch())
    after = dict(zip(algorithm.parameter_dict, algorithm.parameters))
    assert set(after) == set(before)
    assert all(not torch.equal(before[name], after[name]) for name in before)
    decoder_initial = [model.decoder.initial_state, model.decoder.initial_cells]
    with pytest.raises(ValueError, match="does not depend on the parameter"):  # naming one explicitly still raises
        explicit = GradientDescent(cost, parameters=[*algorithm.parameters, *decoder_initial])
        explicit.initialize()
        explicit.process_batch(_batch())


def test_an_unused_initial_state_is_not_a_graph_variable_and_noise_on_used_weights_still_works():
    model = EncoderDecoder("lstm")
    cg = ComputationGraph([model.cost(lmatrix("source"), lmatrix("target"))])
    with pytest.raises(ValueError, match="not used by this graph"):
        apply_noise(cg, [model.decoder.initial_state], 0.1)
    noisy = apply_noise(cg, [model.decoder.W_state], 1.0, seed=3)
    batch = _batch()
    assert noisy.compile()(batch)[0].item() != cg.compile()(batch)[0].item()


def test_gated_recurrent_decoder_given_its_state():
    init = dict(INIT)
    encoder = GatedRecurrent(dim=DIM, name="encoder", **init)
    decoder = GatedRecurrent(dim=DIM, name="decoder", **init)
    embed = LookupTable(VOCAB, 3 * DIM, name="embed", **init)
    for brick in (encoder, decoder, embed):
        brick.initialize()
    source, target = lmatrix("source"), lmatrix("target")

    def run(source, target):
        x, y = embed.apply(source), embed.apply(target)
        h = encoder.apply(inputs=x[..., :DIM], gate_inputs=x[..., DIM:])
        return decoder.apply(inputs=y[..., :DIM], gate_inputs=y[..., DIM:], states=h[-1]).sum()

    cg = ComputationGraph([run(source, target)])
    names = _names(cg.parameters)
    assert "/encoder.initial_state" in names and "/decoder.initial_state" not in names
    batch = _batch()
    parameters = [embed.W, *encoder.parameters(), *decoder.parameters()]
    gradients = torch.autograd.grad(run(batch["source"], batch["target"]), parameters, allow_unused=True)
    assert set(names) == set(_names(p for p, g in zip(parameters, gradients) if g is not None))
