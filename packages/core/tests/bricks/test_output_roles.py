"""Roles given inside an application survive the output annotation (Blocks' tagged copies kept them)."""

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
