"""Feedforward bricks against torch.nn / torch.nn.functional oracles (values and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blocks.bricks import (
    MLP,
    Bias,
    FeedforwardSequence,
    Identity,
    LeakyRectifier,
    Linear,
    LinearMaxout,
    Logistic,
    Maxout,
    Rectifier,
    Sequence,
    Softmax,
    Softplus,
    Tanh,
)
from blocks.graph import ComputationGraph, lvector, matrix
from blocks.initialization import Constant, IsotropicGaussian

DOUBLE = torch.float64


def _grads(fn, *tensors):
    out = fn(*tensors)
    out.sum().backward() if out.dim() else out.backward()
    return out.detach(), [t.grad.clone() for t in tensors]


def test_linear_matches_torch_linear_values_and_gradients():
    torch.manual_seed(0)
    ref = torch.nn.Linear(5, 3).double()
    brick = Linear(input_dim=5, output_dim=3, weights_init=Constant(0), biases_init=Constant(0))
    brick.initialize()
    brick.double()
    with torch.no_grad():
        brick.W.copy_(ref.weight.T)
        brick.b.copy_(ref.bias)
    x = torch.randn(4, 5, dtype=DOUBLE)
    out = brick.apply(x)
    expected = ref(x)
    torch.testing.assert_close(out, expected)
    out.pow(2).sum().backward()
    expected.pow(2).sum().backward()
    torch.testing.assert_close(brick.W.grad, ref.weight.grad.T)
    torch.testing.assert_close(brick.b.grad, ref.bias.grad)
    x3 = torch.randn(2, 4, 5, dtype=DOUBLE)
    torch.testing.assert_close(brick.apply(x3), ref(x3))


def test_linear_without_bias():
    brick = Linear(input_dim=2, output_dim=2, use_bias=False, weights_init=Constant(1))
    assert torch.equal(brick.apply(torch.ones(1, 2)), torch.full((1, 2), 2.0))
    assert brick.b is None and len(brick.parameters) == 1


@pytest.mark.parametrize("brick, reference", [
    (Identity(), lambda x: x),
    (Tanh(), torch.tanh),
    (Logistic(), torch.sigmoid),
    (Softplus(), F.softplus),
    (Rectifier(), F.relu),
    (LeakyRectifier(leak=0.2), lambda x: F.leaky_relu(x, 0.2)),
    (Softmax(), lambda x: F.softmax(x, dim=-1)),
])
def test_activations_match_torch(brick, reference):
    x = torch.randn(3, 4, dtype=DOUBLE, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, (grad,) = _grads(lambda t: (brick.apply(t) * torch.arange(4.0, dtype=DOUBLE)).sum(), x)
    out_ref, (grad_ref,) = _grads(lambda t: (reference(t) * torch.arange(4.0, dtype=DOUBLE)).sum(), x_ref)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(grad, grad_ref)


def test_softmax_log_probabilities_and_cross_entropy():
    x = torch.randn(5, 4, dtype=DOUBLE) * 50  # large values: must stay finite
    y = torch.tensor([0, 1, 2, 3, 0])
    softmax = Softmax()
    torch.testing.assert_close(softmax.log_probabilities(x), F.log_softmax(x, dim=-1))
    torch.testing.assert_close(softmax.categorical_cross_entropy(y, x), F.cross_entropy(x, y, reduction="none"))
    one_hot = F.one_hot(y, 4).to(DOUBLE)
    torch.testing.assert_close(softmax.categorical_cross_entropy(one_hot, x), F.cross_entropy(x, y, reduction="none"))
    assert torch.isfinite(softmax.categorical_cross_entropy(y, x)).all()


def test_softmax_cross_entropy_symbolic_adds_log_probabilities():
    x, y = matrix("x"), lvector("y")
    cost = Softmax().categorical_cross_entropy(y, x).mean()
    cg = ComputationGraph([cost])
    assert [v.name for v in cg.auxiliary_variables] == ["log_probabilities"]
    xv, yv = torch.randn(3, 4), torch.tensor([0, 1, 3])
    torch.testing.assert_close(cg.compile()({"x": xv, "y": yv})[0], F.cross_entropy(xv, yv))


def test_bias_maxout_linear_maxout():
    bias = Bias(dim=3, biases_init=Constant(2.0))
    assert torch.equal(bias.apply(torch.zeros(2, 3)), torch.full((2, 3), 2.0))
    x = torch.randn(2, 6, dtype=DOUBLE)
    torch.testing.assert_close(Maxout(num_pieces=3).apply(x), x.reshape(2, 2, 3).max(-1).values)
    lm = LinearMaxout(input_dim=6, output_dim=2, num_pieces=3, weights_init=IsotropicGaussian(1.0),
                      biases_init=Constant(0.1))
    lm.initialize()
    lin = lm.linear
    expected = (x.float() @ lin.W + lin.b).reshape(2, 2, 3).max(-1).values
    torch.testing.assert_close(lm.apply(x.float()), expected)
    with pytest.raises(ValueError, match="not a multiple"):
        Maxout(num_pieces=4).apply(x)


def test_mlp_matches_nn_sequential_float64():
    torch.manual_seed(1)
    seq = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    mlp = MLP([Tanh(), None], [6, 5, 3], weights_init=Constant(0), biases_init=Constant(0))
    mlp.initialize()
    mlp.double()
    with torch.no_grad():
        for layer, ref in zip(mlp.linear_transformations, [seq[0], seq[2]]):
            layer.W.copy_(ref.weight.T)
            layer.b.copy_(ref.bias)
    x = torch.randn(7, 6, dtype=DOUBLE)
    out, expected = mlp.apply(x), seq(x)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(mlp.linear_transformations[0].W.grad, seq[0].weight.grad.T)
    torch.testing.assert_close(mlp.linear_transformations[1].b.grad, seq[2].bias.grad)
    torch.testing.assert_close(mlp(x), expected)  # nn.Module call goes to apply


def test_mlp_names_children_and_lazy_pushing():
    mlp = MLP([Rectifier(), Rectifier(), Softmax()], [4, 8, 8, 2], weights_init=IsotropicGaussian(0.1),
              biases_init=Constant(0))
    assert [layer.name for layer in mlp.linear_transformations] == ["linear_0", "linear_1", "linear_2"]
    mlp.push_allocation_config()
    assert (mlp.linear_transformations[1].input_dim, mlp.linear_transformations[1].output_dim) == (8, 8)
    mlp.allocate()
    assert mlp.allocated and not mlp.initialized
    names = [mlp.get_hierarchical_name(p) for p in mlp.parameters()]
    assert "/mlp/linear_0.W" in names and "/mlp/linear_2.b" in names
    assert mlp.linear_transformations[0].get_unique_path() == "/mlp/linear_0"
    assert mlp.linear_transformations[0].parents == [mlp]
    state = mlp.state_dict()
    assert "linear_0.W" in state


def test_first_call_initializes_and_infers_input_dim():
    mlp = MLP([Tanh(), Identity()], [None, 3, 2], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1))
    out = mlp.apply(torch.ones(4, 7))
    assert out.shape == (4, 2)
    first = mlp.linear_transformations[0]
    assert first.input_dim == 7 and first.initialized
    assert torch.isfinite(first.W).all() and torch.equal(first.b, torch.full((3,), 0.1))
    # symbolic inputs with a declared shape also let bricks infer dimensions
    from blocks.graph import tensor
    lin = Linear(output_dim=3, weights_init=Constant(1), biases_init=Constant(0))
    lin.apply(tensor("x", shape=(None, 5)))
    assert lin.input_dim == 5


def test_missing_settings_are_listed():
    with pytest.raises(ValueError, match=r"/linear .*missing setting\(s\) input_dim, output_dim"):
        Linear(weights_init=Constant(0), biases_init=Constant(0)).allocate()
    with pytest.raises(ValueError, match="output_dim"):
        Linear(weights_init=Constant(0), biases_init=Constant(0)).apply(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"/mlp/linear_0 .*weights_init"):
        MLP([Tanh()], [2, 3], biases_init=Constant(0)).apply(torch.ones(1, 2))


def test_shape_errors_name_brick_path_and_shapes():
    mlp = MLP([Tanh(), Tanh()], [4, 3, 2], weights_init=Constant(0.1), biases_init=Constant(0))
    mlp.apply(torch.ones(1, 4))
    with pytest.raises(ValueError, match=r"/mlp/linear_0 .*\(\.\.\., 4\).*\(2, 5\)"):
        mlp.apply(torch.ones(2, 5))
    from blocks.graph import tensor
    with pytest.raises(ValueError, match=r"/mlp/linear_0 .*\(None, 9\)"):
        mlp.apply(tensor("x", shape=(None, 9)))


def test_explicit_initialize_is_reproducible_and_seeded():
    def build(seed):
        return MLP([Tanh()], [3, 4], weights_init=IsotropicGaussian(1.0), biases_init=Constant(0), seed=seed)

    a, b, c = build(5), build(5), build(6)
    for brick in (a, b, c):
        brick.initialize()
    assert torch.equal(a.linear_transformations[0].W, b.linear_transformations[0].W)
    assert not torch.equal(a.linear_transformations[0].W, c.linear_transformations[0].W)


def test_sequence_and_feedforward_sequence():
    lin = Linear(input_dim=3, output_dim=2, weights_init=Constant(1), biases_init=Constant(0))
    seq = FeedforwardSequence([lin.apply, Tanh().apply])
    assert seq.input_dim == 3 and seq.output_dim == 2
    torch.testing.assert_close(seq.apply(torch.ones(1, 3)), torch.tanh(torch.full((1, 2), 3.0)))
    plain = Sequence([Tanh(), Tanh()])
    assert len(plain.children) == 2
    assert plain.apply.inputs == ["input_"]


def test_load_state_dict_counts_as_initialized():
    src = MLP([Tanh()], [2, 2], weights_init=IsotropicGaussian(1), biases_init=Constant(1))
    src.initialize()
    dst = MLP([Tanh()], [2, 2])  # no initialization config at all
    dst.load_state_dict(src.state_dict())
    x = torch.ones(1, 2)
    torch.testing.assert_close(dst.apply(x), src.apply(x))


def test_mlp_pushes_use_bias_only_when_given():
    keep = MLP([Tanh()], [2, 2], prototype=Linear(use_bias=False), weights_init=Constant(1))
    keep.allocate()
    assert keep.linear_transformations[0].b is None
    forced = MLP([Tanh()], [2, 2], prototype=Linear(use_bias=False), use_bias=True, weights_init=Constant(1),
                 biases_init=Constant(0))
    forced.allocate()
    assert forced.linear_transformations[0].b is not None


def test_deepcopy_and_dtype_conversion_keep_annotations():
    import copy

    from blocks.roles import BIAS, WEIGHT, has_roles

    mlp = MLP([Tanh()], [2, 2], weights_init=Constant(1), biases_init=Constant(0))
    mlp.initialize()
    clone = copy.deepcopy(mlp)
    layer = clone.linear_transformations[0]
    assert layer.W is not mlp.linear_transformations[0].W and torch.equal(layer.W, mlp.linear_transformations[0].W)
    assert has_roles(layer.W, [WEIGHT]) and has_roles(layer.b, [BIAS])
    assert clone.get_hierarchical_name(layer.W) == "/mlp/linear_0.W" and layer.parents == [clone]
    clone.double()
    assert layer.W.dtype == torch.float64 and has_roles(layer.W, [WEIGHT])
