"""Graph transforms: dropout, noise, batch normalization; opaque (recurrent-style) applications."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blocks.bricks import (
    MLP,
    BatchNormalization,
    BatchNormalizedMLP,
    Identity,
    Initializable,
    Linear,
    Rectifier,
    Tanh,
    application,
    lazy,
)
from blocks.filter import VariableFilter
from blocks.graph import (
    ComputationGraph,
    apply_batch_normalization,
    apply_dropout,
    apply_noise,
    batch_normalization,
    get_batch_normalization_updates,
    l2_norm,
    matrix,
    shared_like,
    tensor3,
)
from blocks.initialization import Constant, IsotropicGaussian, Orthogonal
from blocks.roles import (
    BATCH_NORM_MINIBATCH_ESTIMATE,
    BATCH_NORM_POPULATION_MEAN,
    DROPOUT,
    INPUT,
    OUTPUT,
    PARAMETER,
    WEIGHT,
    has_roles,
)


def test_dropout_mask_statistics_and_original_graph_unchanged():
    ident = Identity()
    x = matrix("x")
    cg = ComputationGraph([ident.apply(x)])
    outputs = VariableFilter(roles=[OUTPUT])(cg.variables)
    dropped = apply_dropout(cg, outputs, 0.3, seed=7)
    values = torch.ones(200, 100)
    out = dropped.compile()({"x": values})[0]
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.02
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / 0.7))
    assert torch.equal(cg.compile()({"x": values})[0], values)
    assert len(VariableFilter(roles=[DROPOUT])(dropped.variables)) == 1
    # masks differ between calls, and are reproducible from the seed
    fn = dropped.compile()
    a, b = fn({"x": values})[0], fn({"x": values})[0]
    assert not torch.equal(a, b)
    again = apply_dropout(cg, outputs, 0.3, seed=7).compile()({"x": values})[0]
    assert torch.equal(again, out)
    with pytest.raises(ValueError, match="drop_prob"):
        apply_dropout(cg, outputs, 1.0)


def test_dropout_on_hidden_outputs_is_differentiable_and_both_graphs_work():
    mlp = MLP([Rectifier(), Rectifier(), Identity()], [5, 6, 6, 2], weights_init=IsotropicGaussian(0.5),
              biases_init=Constant(0.1))
    x = matrix("x")
    cost = mlp.apply(x).pow(2).sum()
    cg = ComputationGraph([cost])
    hidden = VariableFilter(roles=[OUTPUT], bricks=[Rectifier])(cg.variables)
    assert len(hidden) == 2
    dropped = apply_dropout(cg, hidden, 0.5, seed=1)
    assert dropped.parameters == cg.parameters
    batch = {"x": torch.randn(4, 5)}
    for graph in (cg, dropped):
        value = graph.compile()(batch)[0]
        grads = torch.autograd.grad(value, graph.parameters)
        assert all(g.shape == p.shape for g, p in zip(grads, graph.parameters))
    eager = mlp.apply(batch["x"]).pow(2).sum()
    torch.testing.assert_close(cg.compile()(batch)[0], eager)


def test_weight_noise_statistics():
    lin = Linear(input_dim=50, output_dim=40, weights_init=Constant(0), biases_init=Constant(0))
    x = matrix("x")
    cg = ComputationGraph([lin.apply(x)])
    noisy = apply_noise(cg, VariableFilter(roles=[WEIGHT])(cg.variables), 0.5, seed=3)
    eye = torch.eye(50)
    out = noisy.compile()({"x": eye})[0]  # = the noisy W itself
    assert abs(out.std().item() - 0.5) < 0.03 and abs(out.mean().item()) < 0.03
    assert torch.equal(cg.compile()({"x": eye})[0], torch.zeros(50, 40))
    assert lin.W.abs().sum() == 0  # the parameter itself is untouched


class ToyRecurrent(Initializable):
    """A recurrent brick whose time loop runs eagerly inside ONE graph node (opaque application)."""

    @lazy(allocation=["dim"])
    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def _allocate(self):
        self.new_parameter("W_state", (self.dim, self.dim), WEIGHT)

    def _initialize(self):
        self.weights_init.initialize(self.W_state, self.rng)

    @application(inputs=["inputs"], outputs=["states"], opaque=True)
    def apply(self, inputs):
        state = torch.zeros_like(inputs[0])
        states = []
        for t in range(inputs.shape[0]):  # data-dependent Python loop: fine, it runs eagerly
            state = torch.tanh(inputs[t] + state @ self.W_state)
            states.append(state)
        return torch.stack(states)


class Encoder(Initializable):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fork = Linear(input_dim=3, output_dim=4, name="fork")
        self.rnn = ToyRecurrent(dim=4, name="rnn")
        self.children = [self.fork, self.rnn]

    @application(inputs=["x"], outputs=["states"])
    def apply(self, x):
        return self.rnn.apply(self.fork.apply(x))


def test_opaque_application_is_one_node_with_annotated_inputs_outputs_parameters():
    encoder = Encoder(name="encoder", weights_init=Orthogonal(), biases_init=Constant(0))
    decoder = Linear(input_dim=4, output_dim=2, name="decoder", weights_init=IsotropicGaussian(0.1),
                     biases_init=Constant(0))
    x = tensor3("x")
    cost = decoder.apply(encoder.apply(x)).pow(2).sum()
    cg = ComputationGraph([cost])
    calls = [n for n in cg.variables if n.node.op == "call_function" and "rnn_apply" in str(n.node.target)]
    assert len(calls) == 1
    rnn_vars = VariableFilter(bricks=[encoder.rnn])(cg.variables)
    assert {v.name for v in rnn_vars if has_roles(v, [INPUT, OUTPUT])} == {"inputs", "states"}
    assert any(p is encoder.rnn.W_state for p in cg.parameters)
    assert VariableFilter(bricks=[ToyRecurrent], roles=[PARAMETER])(cg.parameters) == [encoder.rnn.W_state]
    batch = {"x": torch.randn(5, 2, 3)}
    value = cg.compile()(batch)[0]
    torch.testing.assert_close(value, decoder.apply(encoder.apply(batch["x"])).pow(2).sum())
    grad = torch.autograd.grad(value, [encoder.rnn.W_state])[0]
    assert grad.abs().sum() > 0

    # The paper's query: weight noise on every WEIGHT under the brick named encoder, dropout on its hidden outputs.
    weights = VariableFilter(under=[encoder], roles=[WEIGHT])(cg.variables)
    assert [w.tensor for w in weights] == [encoder.fork.W, encoder.rnn.W_state]
    linear_weights = VariableFilter(bricks=[Linear], under=[encoder], roles=[WEIGHT])(cg.variables)
    assert [w.tensor for w in linear_weights] == [encoder.fork.W]  # the decoder's Linear is not under encoder
    noisy = apply_noise(cg, weights, 0.1, seed=0)
    hidden = VariableFilter(bricks=[encoder.fork], roles=[OUTPUT])(noisy.variables)
    regularized = apply_dropout(noisy, hidden, 0.5, seed=0)
    fn, clean = regularized.compile(), cg.compile()
    noisy_value = fn(batch)[0]
    assert not torch.allclose(noisy_value, value)
    torch.testing.assert_close(clean(batch)[0], value)  # the original graph is unchanged
    grads = torch.autograd.grad(noisy_value, regularized.parameters)
    assert len(grads) == len(cg.parameters)
    # noise reached the weights used inside the opaque node: with zero-noise level the values agree again
    zero = apply_noise(cg, weights, 0.0).compile()(batch)[0]
    torch.testing.assert_close(zero, value)
    assert encoder.rnn.W_state is encoder.rnn._parameters["W_state"]  # swapped back after the call


def _bn_reference(x, bn, training):
    if training:
        return F.batch_norm(x, None, None, bn.scale.reshape(-1), bn.shift.reshape(-1), training=True, eps=bn.epsilon)
    var = bn.population_stdev.reshape(-1) ** 2 - bn.epsilon
    return F.batch_norm(x, bn.population_mean.reshape(-1), var, bn.scale.reshape(-1), bn.shift.reshape(-1),
                        training=False, eps=bn.epsilon)


def test_batch_normalization_train_vs_inference_against_torch():
    torch.manual_seed(0)
    bn = BatchNormalization(input_dim=3, scale_init=IsotropicGaussian(1.0, mean=1.0), shift_init=Constant(0.5))
    bn.initialize()
    bn.double()
    with torch.no_grad():
        bn.population_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        bn.population_stdev.copy_(torch.tensor([1.5, 2.0, 0.5]))
    x = torch.randn(16, 3, dtype=torch.float64) * 3 + 1
    torch.testing.assert_close(bn.apply(x), _bn_reference(x, bn, False))
    sym = matrix("x", dtype="float64")
    inference = ComputationGraph([bn.apply(sym)])
    training = apply_batch_normalization(inference)
    with batch_normalization(bn):
        training_cm = ComputationGraph([bn.apply(sym)])
    for graph in (training, training_cm):
        torch.testing.assert_close(graph.compile()({"x": x})[0], _bn_reference(x, bn, True))
    torch.testing.assert_close(inference.compile()({"x": x})[0], _bn_reference(x, bn, False))
    # gradients through the training graph match torch's
    value = training.compile()({"x": x})[0].pow(2).sum()
    ours = torch.autograd.grad(value, [bn.scale, bn.shift])
    ref = torch.autograd.grad(_bn_reference(x, bn, True).pow(2).sum(), [bn.scale, bn.shift])
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    # population updates
    pairs = get_batch_normalization_updates(training)
    assert [p for p, _ in pairs] == [bn.population_mean, bn.population_stdev]
    assert all(has_roles(v, [BATCH_NORM_MINIBATCH_ESTIMATE]) for _, v in pairs)
    assert has_roles(bn.population_mean, [BATCH_NORM_POPULATION_MEAN])
    assert [b for b, _ in training.updates] == [bn.population_mean, bn.population_stdev]
    before = bn.population_mean.clone()
    fn = training.compile(apply_updates=True)
    fn({"x": x})
    expected = before * 0.9 + x.mean(0) * 0.1
    torch.testing.assert_close(bn.population_mean, expected)
    with pytest.raises(ValueError, match="no batch normalization"):
        get_batch_normalization_updates(inference)


def test_batch_normalized_mlp_and_eager_training_mode():
    mlp = BatchNormalizedMLP([Tanh(), Identity()], [4, 6, 3], weights_init=IsotropicGaussian(0.5))
    x = torch.randn(10, 4) * 4
    out = mlp.apply(x)
    assert out.shape == (10, 3) and all(lin.b is None for lin in mlp.linear_transformations)
    bn0 = mlp.activations[0].application_methods[0].brick
    with batch_normalization(mlp):
        hidden_stats = bn0.apply(mlp.linear_transformations[0].apply(x))
    torch.testing.assert_close(hidden_stats.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    assert not torch.equal(bn0.population_mean, torch.zeros(6))  # eager training calls update population stats
    from blocks.model import Model
    names = list(Model(mlp.apply(matrix("x"))).get_persistent_dict())
    assert "/batchnormalizedmlp/batch_normalized_0/batch_norm_0.population_mean" in names


def test_l2_norm_and_shared_like():
    a, b = torch.tensor([3.0]), torch.tensor([[4.0]])
    assert l2_norm([a, b]).item() == 5.0 and l2_norm([a, b], squared=True).item() == 25.0
    lin = Linear(input_dim=2, output_dim=2, weights_init=Constant(1), biases_init=Constant(1))
    cg = ComputationGraph([lin.apply(matrix("x"))])
    norm = l2_norm(VariableFilter(roles=[PARAMETER])(cg.variables))
    assert ComputationGraph(norm).compile()({})[0].item() == pytest.approx(6 ** 0.5)
    like = shared_like(lin.W, name="velocity")
    assert like.shape == lin.W.shape and like.sum() == 0 and like is not lin.W


def test_batch_normalized_mlp_matches_torch_sequential_in_training_and_inference():
    torch.manual_seed(3)
    mlp = BatchNormalizedMLP([Tanh(), Identity()], [4, 6, 3], weights_init=IsotropicGaussian(0.5))
    mlp.initialize()
    mlp.double()
    bns = [seq.application_methods[0].brick for seq in mlp.activations]
    ref = torch.nn.Sequential(torch.nn.Linear(4, 6, bias=False), torch.nn.BatchNorm1d(6, eps=bns[0].epsilon),
                              torch.nn.Tanh(), torch.nn.Linear(6, 3, bias=False),
                              torch.nn.BatchNorm1d(3, eps=bns[1].epsilon)).double()
    with torch.no_grad():
        for layer, brick in zip([ref[0], ref[3]], mlp.linear_transformations):
            layer.weight.copy_(brick.W.T)
        for layer, bn in zip([ref[1], ref[4]], bns):
            bn.scale.uniform_(0.5, 1.5)
            bn.shift.uniform_(-1, 1)
            layer.weight.copy_(bn.scale)
            layer.bias.copy_(bn.shift)
    x = torch.randn(9, 4, dtype=torch.float64)
    inference = ComputationGraph(mlp.apply(matrix("x", dtype="float64")))
    training = apply_batch_normalization(inference)
    out = training.compile(apply_updates=True)({"x": x})[0]
    expected = ref.train()(x)
    torch.testing.assert_close(out, expected)
    for layer, bn in zip([ref[1], ref[4]], bns):  # both population means moved like torch's running means
        torch.testing.assert_close(bn.population_mean, layer.running_mean)
    grads = torch.autograd.grad(out.pow(2).sum(), [mlp.linear_transformations[0].W, bns[1].scale])
    ref_grads = torch.autograd.grad(expected.pow(2).sum(), [ref[0].weight, ref[4].weight])
    torch.testing.assert_close(grads[0], ref_grads[0].T)
    torch.testing.assert_close(grads[1], ref_grads[1])
    with torch.no_grad():  # inference uses population statistics: copy torch's running stats over
        for layer, bn in zip([ref[1], ref[4]], bns):
            bn.population_mean.copy_(layer.running_mean)
            bn.population_stdev.copy_((layer.running_var + bn.epsilon).sqrt())
    torch.testing.assert_close(inference.compile()({"x": x})[0], ref.eval()(x))
