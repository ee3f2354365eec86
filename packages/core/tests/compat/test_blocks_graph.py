"""The graph as Blocks': one object per variable, parameters equal to their variables, replace, snapshots, names."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.bricks import MLP, Bias, Identity, Linear, Logistic
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, as_variable, matrix, scalar, vector
from blocks.initialization import Constant
from blocks.roles import AUXILIARY, BIAS, PARAMETER, add_role


def test_the_graph_gives_back_the_variables_built():
    x, y = matrix("x"), matrix("y")
    z = x + y
    cg = ComputationGraph([z * 2])
    assert any(v is z for v in cg.variables) and any(v is x for v in cg.inputs)


def test_a_parameter_equals_the_variable_standing_for_it():
    linear = Linear(input_dim=2, output_dim=2, weights_init=Constant(1.0), biases_init=Constant(0.0))
    cg = ComputationGraph([linear.apply(vector("x"))])
    W, b = VariableFilter(roles=[PARAMETER])(cg.variables)
    assert W == linear.W and linear.W == W and linear.W != b and not (linear.W != W)
    assert [linear.W, linear.b] == [W, b] and linear.b in [W, b]
    assert isinstance(torch.eq(as_variable(linear.W), linear.W), type(W))  # torch.eq stays element-wise, symbolic
    assert (linear.W == torch.ones(2, 2)).all()  # tensors among themselves compare element-wise


def test_filter_by_theano_name_and_unbound_application():
    linear, bias = Linear(input_dim=2, output_dim=2, name="linear1"), Bias(2, name="bias1")
    h = Logistic().apply(linear.apply(vector("x")))
    h.name = "h2act"
    cg = ComputationGraph([bias.apply(h)])
    assert [v.name for v in VariableFilter(theano_name="h2act")(cg.variables)] == ["h2act"]
    assert [v.name for v in VariableFilter(theano_name_regex="h2a.?t")(cg.variables)] == ["h2act"]
    assert VariableFilter(applications=[Linear.apply])(cg.variables) == VariableFilter(
        applications=[linear.apply])(cg.variables)
    assert VariableFilter(roles=[BIAS], bricks=[Bias])(cg.variables) == [bias.b]
    with pytest.raises(ValueError, match="not both"):
        VariableFilter(name="a", theano_name="b")


def test_replace_takes_pairs_and_warns_about_auxiliary_variables():
    x = scalar("x")
    y = x + 1
    z = scalar("z")
    cg = ComputationGraph([y])
    doubled = cg.replace([(y, 2 * y)])
    assert doubled.compile()({"x": torch.tensor(2.0)})[0].item() == 6.0
    with pytest.raises(ValueError, match="neither a variable of this graph"):  # Blocks warned and did nothing
        cg.replace([(y, 2 * y), (z, 2 * z)])
    add_role(y, AUXILIARY)
    with pytest.warns(UserWarning, match="auxiliary"):
        ComputationGraph([y]).replace({y: y * 3})


def test_snapshot_leaves_parameters_out():
    mlp = MLP([Identity(), Identity()], [10, 10, 10], weights_init=Constant(1), biases_init=Constant(2))
    cg = ComputationGraph(mlp.apply(matrix("x")))
    snapshot = cg.get_snapshot({"x": numpy.zeros((1, 10), dtype="float32")})
    assert len(snapshot) == 14  # inputs and outputs of the bricks, and the weight and bias norms
    assert all(v.node.op != "get_attr" for v in snapshot)


def test_blocks_graph_gives_the_roles_names_blocks_did():
    from blocks.graph import PARAMETER as role
    from blocks.graph import add_role as function

    assert role is PARAMETER and function is add_role


def test_an_annotated_variable_keeps_its_aggregation_scheme():
    from blocks.bricks import Brick, application

    scheme = object()

    class WithMean(Brick):
        @application
        def apply(self, x, application_call):
            total = x.sum()
            total.meta["aggregation_scheme"] = scheme
            application_call.add_auxiliary_variable(total, name="total")
            return x

    y = WithMean().apply(matrix("x"))
    (auxiliary,) = ComputationGraph([y]).auxiliary_variables
    assert auxiliary.name == "total" and auxiliary.meta["aggregation_scheme"] is scheme
