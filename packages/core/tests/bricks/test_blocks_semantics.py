"""Blocks semantics kept: roles given inside applications survive, lazy Merge dimensions."""

from __future__ import annotations

from blocks.bricks import Brick, application
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, matrix
from blocks.roles import COST, OUTPUT, add_role, has_roles


class CostBrick(Brick):
    @application(inputs=["x"], outputs=["cost"])
    def apply(self, x):
        cost = (x**2).sum()
        add_role(cost, COST)
        return cost


def test_cost_role_given_inside_an_application_is_kept():
    cost = CostBrick().apply(matrix("features"))
    assert has_roles(cost, [COST]) and has_roles(cost, [OUTPUT])
    assert VariableFilter(roles=[COST])(ComputationGraph([cost]).variables)[-1].node is cost.node


def test_merge_input_dims_are_lazy_as_in_blocks():
    import pytest
    import torch

    from blocks.bricks import Merge
    from blocks.initialization import Constant

    merge = Merge(input_names=["a", "b"], output_dim=4, weights_init=Constant(1))
    with pytest.raises(ValueError, match="missing setting\\(s\\) input_dims"):
        merge.allocate()
    merge.input_dims = [2, 3]  # e.g. pushed by a parent
    assert merge.apply(torch.ones(1, 2), torch.ones(1, 3)).tolist() == [[5.0] * 4]
