"""Bricks as in Blocks: assigned parameters, unbound applications, lazy arguments, names, annotations."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.bricks import MLP, Brick, Linear, Merge, Tanh, application, lazy
from blocks.config import config
from blocks.filter import VariableFilter, get_application_call, get_brick
from blocks.graph import ComputationGraph, matrix
from blocks.initialization import Constant
from blocks.roles import BIAS, OUTPUT, PARAMETER, WEIGHT, add_role, get_roles
from blocks.utils import shared_floatx, shared_floatx_nans


class Affine(Brick):
    """A Blocks-style custom brick: parameters appended in ``_allocate``."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def _allocate(self):
        W = shared_floatx_nans((self.dim, self.dim), name="W")
        add_role(W, WEIGHT)
        self.parameters.append(W)
        b = shared_floatx_nans((self.dim,), name="b")
        add_role(b, BIAS)
        self.parameters.append(b)

    def _initialize(self):
        W, b = self.parameters
        with torch.no_grad():
            W.copy_(torch.eye(self.dim))
            b.fill_(1.0)

    @application(inputs=["x"], outputs=["y"])
    def apply(self, x):
        W, b = self.parameters
        return x @ W + b


def test_parameters_appended_in_allocate_are_the_bricks_parameters():
    brick = Affine(2, name="affine")
    x = matrix("x")
    y = brick.apply(x)
    W, b = brick.parameters
    assert [n for n, _ in brick.named_parameters()] == ["W", "b"] and brick.W is W
    assert get_roles(W) == [WEIGHT] and get_brick(W) is brick and brick.get_hierarchical_name(b) == "/affine.b"
    assert ComputationGraph([y]).compile()({"x": numpy.ones((1, 2), dtype=config.floatX)})[0].tolist() == [[2.0, 2.0]]
    assert VariableFilter(roles=[WEIGHT])(ComputationGraph([y]).variables) == [W]
    brick.allocate()  # allocating again starts afresh, as in Blocks
    assert len(brick.parameters) == 2 and brick.parameters[0] is not W


def test_assigning_and_editing_parameters():
    brick = Brick(name="holder")
    V, W = shared_floatx(0.0, name="V"), shared_floatx(1.0, name="W")
    brick.parameters = [V, W]
    assert brick.parameters == [V, W] and get_roles(V) == [PARAMETER]
    brick.parameters[0] = shared_floatx(2.0, name="U")
    assert [n for n, _ in brick.named_parameters()] == ["U", "W"]
    del brick.parameters[0]
    brick.parameters += [shared_floatx(3.0)]
    assert [n for n, _ in brick.named_parameters()] == ["W", "parameter_1"]
    brick.parameters = []
    assert list(brick.named_parameters()) == []
    with pytest.raises(ValueError, match="nn.Parameter"):
        brick.parameters = [torch.zeros(2)]
    with pytest.raises(ValueError, match="several parameters are named"):
        brick.parameters = [shared_floatx(0.0, name="W"), shared_floatx(1.0, name="W")]
    with pytest.raises(ValueError, match="attributes of the brick"):
        brick.parameters = [shared_floatx(0.0, name="apply")]
    assert list(brick.named_parameters()) == []  # a refused assignment changes nothing


class Doubler(Brick):
    @application(inputs=["x"], outputs=["y"])
    def apply(self, x):
        return 2 * x

    @application(inputs=["x"], outputs=["y"])
    def twice(self, x):
        return self.apply(x)

    @twice.property("all")
    def twice_all(self):
        return self.twice.inputs + self.twice.outputs


def test_unbound_applications_apply_to_the_brick_given():
    brick = Doubler()
    assert Doubler.apply(brick, torch.ones(1)).tolist() == [2.0]
    assert brick.apply is brick.apply  # the unbound call did not replace the brick's own application
    with pytest.raises(TypeError, match="needs a brick"):
        Doubler.apply(torch.ones(1))


def test_application_properties_cannot_be_set_on_the_class():
    assert Doubler().twice.all == ["x", "y"]
    with pytest.raises(AttributeError, match="computed per brick"):
        Doubler.twice.all = ["w"]


def test_lazy_arguments_given_twice_are_a_value_error():
    class Configured(Brick):
        @lazy(allocation=["config"])
        def __init__(self, config, **kwargs):
            super().__init__(**kwargs)
            self.config = config

    with pytest.raises(ValueError, match="both by position and by keyword"):
        Configured("a", config="b")


def test_brick_representation_is_blocks():
    brick = Linear(name="layer")
    assert repr(brick) == str(brick) and hex(id(brick)) in repr(brick) and repr(brick).endswith(": name=layer>")


def test_mlp_takes_applications_as_activations():
    tanh = Tanh()
    mlp = MLP([tanh.apply, None], [3, 4, 2], weights_init=Constant(1.0), biases_init=Constant(0.0))
    assert tanh in mlp.children and mlp.activations[0] == tanh.apply
    out = mlp.apply(torch.ones(1, 3))
    assert torch.allclose(out, torch.tanh(torch.full((1, 4), 3.0)).sum(1, keepdim=True).expand(1, 2))


def test_auxiliary_tensors_keep_their_name():
    class WithAuxiliary(Brick):
        @application
        def apply(self, x, application_call):
            application_call.add_auxiliary_variable(shared_floatx(numpy.ones(1), name="test_val"))
            return x

    brick = WithAuxiliary()
    y = brick.apply(matrix("x"))
    (auxiliary,) = get_application_call(y).auxiliary_variables
    assert auxiliary.name == "test_val" and get_brick(auxiliary) is brick


def test_linear_norms_belong_to_the_brick_not_to_the_call():
    linear = Linear(input_dim=2, output_dim=2)
    y = linear.apply(matrix("x"), call_id="first")
    variables = ComputationGraph([y]).variables
    assert {v.name for v in VariableFilter(bricks=[linear])(variables)} >= {"W_norm", "b_norm"}
    assert {v.name for v in VariableFilter(applications=[linear.apply])(variables)} == {"input_", "output"}
    assert {v.name for v in VariableFilter(call_id="first")(variables)} == {"input_", "output"}


def test_merge_parts_are_outputs_of_the_merge():
    merge = Merge(["a", "b"], [2, 3], 4, weights_init=Constant(1.0))
    merged = merge.apply(matrix("a"), matrix("b"))
    variables = ComputationGraph([merged]).variables
    outputs = VariableFilter(roles=[OUTPUT], bricks=[merge])(variables)
    assert len(outputs) == 3 and merged in outputs
    assert VariableFilter(roles=[OUTPUT], applications=[merge.apply])(variables) == [merged]
    assert merge.apply(torch.ones(1, 2), torch.ones(1, 3)).tolist() == [[5.0] * 4]


def test_a_merge_of_one_input_applies_symbolically():
    merge = Merge(["a"], [2], 3, weights_init=Constant(1.0))
    merged = merge.apply(matrix("a"))
    value = ComputationGraph([merged]).compile()({"a": numpy.ones((1, 2), dtype=config.floatX)})[0]
    assert value.tolist() == [[2.0, 2.0, 2.0]]


def test_a_blocks_random_state_can_be_the_bricks_rng():
    linear = Linear(input_dim=2, output_dim=3, weights_init=Constant(1.0), biases_init=Constant(0.0))
    linear.rng = numpy.random.RandomState(1)
    linear.initialize()
    assert isinstance(linear.rng, numpy.random.RandomState)
    with pytest.raises(ValueError, match="RandomState"):
        linear.rng = 3
