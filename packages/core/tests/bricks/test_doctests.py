"""The Examples sections of the modelling modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "blocks.roles", "blocks.initialization", "blocks.filter", "blocks.select", "blocks.model",
    "blocks.bricks", "blocks.bricks.base", "blocks.bricks.interfaces", "blocks.bricks.simple",
    "blocks.bricks.sequences", "blocks.bricks.cost", "blocks.bricks.conv", "blocks.bricks.bn",
    "blocks.bricks.lookup", "blocks.bricks.parallel", "blocks.bricks.wrappers",
    "blocks.graph", "blocks.graph.variables", "blocks.graph.computation_graph", "blocks.graph.transforms",
    "blocks.graph.batch_norm", "blocks.graph.inner",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
