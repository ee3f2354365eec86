"""LookupTable, Parallel/Fork/Distribute/Merge, WithExtraDims, ModuleBrick, applications, Selector, registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blocks.bricks import (
    Brick,
    Distribute,
    Fork,
    Linear,
    LookupTable,
    Merge,
    ModuleBrick,
    NDimensionalSoftmax,
    Parallel,
    Tanh,
    application,
)
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_noise, lmatrix, matrix, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks.model import Model
from blocks.roles import BIAS, WEIGHT, has_roles
from blocks.select import Path, Selector


def test_lookup_table_matches_embedding():
    table = LookupTable(length=7, dim=3, weights_init=IsotropicGaussian(1.0))
    table.initialize()
    ref = torch.nn.Embedding(7, 3)
    with torch.no_grad():
        ref.weight.copy_(table.W)
    idx = torch.tensor([[0, 6, 2], [1, 1, 3]])
    out = table.apply(idx)
    torch.testing.assert_close(out, ref(idx))
    out.sum().backward()
    ref(idx).sum().backward()
    torch.testing.assert_close(table.W.grad, ref.weight.grad)
    fn = ComputationGraph(table.apply(lmatrix("words"))).compile()
    torch.testing.assert_close(fn({"words": idx})[0], ref(idx))
    with pytest.raises(ValueError, match=r"/lookuptable .*\[0, 7\)"):
        table.apply(torch.tensor([7]))


def test_parallel_fork_distribute_merge():
    init = dict(weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1))
    par = Parallel(["a", "b"], [2, 3], [4, 5], **init)
    a, b = torch.randn(2, 2), torch.randn(2, 3)
    out_a, out_b = par.apply(a, b)
    t_a, t_b = par.transforms
    assert (t_a.name, t_b.name) == ("transform_a", "transform_b")
    torch.testing.assert_close(out_a, a @ t_a.W + t_a.b)
    torch.testing.assert_close(par.apply(b=b, a=a)[1], out_b)
    fork = Fork(["x", "gates"], input_dim=3, output_dims=[2, 6], **init)
    outs = fork.apply(b, as_dict=True)
    assert list(outs) == ["x", "gates"] and outs["gates"].shape == (2, 6)
    assert fork.get_dim("gates") == 6
    dist = Distribute(["p", "q"], "s", target_dims=[2, 2], source_dim=3, **init)
    p, q = dist.apply(p=a, q=a, s=b)
    assert dist.transforms[0].b is None
    torch.testing.assert_close(p, a + b @ dist.transforms[0].W)
    merge = Merge(["a", "b"], [2, 3], 4, **init)
    torch.testing.assert_close(merge.apply(a, b), a @ merge.transforms[0].W + b @ merge.transforms[1].W)
    # symbolic: named outputs of the fork
    sym = fork.apply(matrix("h"), as_dict=True)
    assert [v.name for v in sym.values()] == ["x", "gates"]


def test_ndimensional_softmax_against_torch():
    softmax = NDimensionalSoftmax()
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    y = torch.randint(0, 5, (4, 3))
    torch.testing.assert_close(softmax.apply(x, extra_ndim=1), F.softmax(x, dim=-1))
    torch.testing.assert_close(softmax.log_probabilities(x, extra_ndim=1), F.log_softmax(x, dim=-1))
    ce = softmax.categorical_cross_entropy(y, x, extra_ndim=1)
    torch.testing.assert_close(ce, F.cross_entropy(x.reshape(-1, 5), y.reshape(-1), reduction="none").reshape(4, 3))
    sym = softmax.apply(tensor3("x", dtype="float64"), extra_ndim=1)
    torch.testing.assert_close(ComputationGraph(sym).compile()({"x": x})[0], F.softmax(x, dim=-1))


def test_module_brick_wraps_torch_modules_with_roles_and_transforms():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    brick = ModuleBrick(seq, name="net")
    x = torch.randn(5, 3)
    torch.testing.assert_close(brick.apply(x), seq(x))
    cg = Model(brick.apply(matrix("x")).sum())
    assert list(cg.get_parameter_dict()) == ["/net.0.weight", "/net.0.bias", "/net.2.weight", "/net.2.bias"]
    assert [has_roles(p, [WEIGHT]) for p in cg.parameters] == [True, False, True, False]
    assert has_roles(seq[0].bias, [BIAS])
    value = cg.compile()({"x": x})[0]
    torch.testing.assert_close(value, seq(x).sum())
    grads = torch.autograd.grad(value, cg.parameters)
    torch.testing.assert_close(grads[0], torch.autograd.grad(seq(x).sum(), seq[0].weight)[0])
    noisy = apply_noise(cg, VariableFilter(roles=[WEIGHT])(cg.variables), 1.0, seed=0)
    assert not torch.allclose(noisy.compile()({"x": x})[0], value)
    torch.testing.assert_close(cg.compile()({"x": x})[0], value)
    with pytest.raises(ValueError, match="nn.Module"):
        ModuleBrick(object())


def test_application_options_properties_and_delegation():
    class Twice(Brick):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Tanh()
            self.children = [self.inner]

        @application(outputs=["a", "b"])
        def apply(self, x, application_call):
            application_call.metadata["seen"] = True
            return x, self.inner.apply(x)

        @apply.property("inputs")
        def apply_inputs(self):
            return ["x"]

        @application
        def wrapped(self, x):
            return self.inner.apply(x)

        @wrapped.delegate
        def wrapped_delegate(self):
            return self.inner.apply

    brick = Twice()
    assert brick.apply.inputs == ["x"] and brick.apply.outputs == ["a", "b"]
    assert brick.wrapped.outputs == ["output"]  # delegated to Tanh.apply
    out = brick.apply(torch.zeros(2), as_dict=True)
    assert list(out) == ["a", "b"]
    sym = brick.apply(matrix("x"), call_id=3)
    cg = ComputationGraph(sym)
    assert {v.name for v in VariableFilter(call_id=3)(cg.variables)} == {"x", "a", "b"}
    with pytest.raises(ValueError, match="not arguments"):
        application(inputs=["nope"])(lambda self, x: x)


def test_brick_children_names_and_module_api():
    lin = Linear(input_dim=2, output_dim=2, weights_init=Constant(1), biases_init=Constant(0))
    parent = Brick(name="parent", children=[lin])
    assert list(parent.children()) == [lin] and lin.parents == [parent]
    assert lin.get_unique_path() == "/parent/linear"
    lin.allocate()
    assert len(list(parent.parameters())) == 2 and len(parent.parameters) == 0
    parent.train(False)
    assert not lin.training
    with pytest.raises(ValueError, match="name"):
        Brick(name="a/b")


def test_selector_paths():
    from blocks.bricks import MLP

    mlp = MLP([Tanh(), Tanh()], [2, 3, 4], weights_init=Constant(0), biases_init=Constant(0))
    mlp.allocate()
    path = Path.parse("/mlp/linear_1.W")
    assert str(path) == "/mlp/linear_1.W" and path == Path.parse("/mlp/linear_1.W")
    with pytest.raises(ValueError, match="invalid path"):
        Path.parse("mlp/linear")
    selector = Selector([mlp])
    assert selector.select("/mlp/linear_1.W") == [mlp.linear_transformations[1].W]
    sub = selector.select("/mlp/linear_0")
    assert sub.bricks == [mlp.linear_transformations[0]]
    assert selector.select("/other").bricks == []
    params = selector.get_parameters()
    assert list(params) == ["/mlp/linear_0.W", "/mlp/linear_0.b", "/mlp/linear_1.W", "/mlp/linear_1.b"]
    assert list(selector.get_parameters("b")) == ["/mlp/linear_0.b", "/mlp/linear_1.b"]


def test_core_bricks_are_registered(plugin_host):
    from blocks.plugins import get_registry

    registry = get_registry("bricks")
    assert registry.get("mlp").__name__ == "MLP"
    assert registry.get("convolutional_sequence").__name__ == "ConvolutionalSequence"
    assert registry.get("module_brick").__name__ == "ModuleBrick"
