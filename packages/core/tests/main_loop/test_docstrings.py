"""The Examples sections of the main loop, extension and log modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "blocks.main_loop",
    "blocks.extensions",
    "blocks.extensions.base",
    "blocks.extensions.predicates",
    "blocks.extensions.training",
    "blocks.log",
    "blocks.log.base",
    "blocks.log.log",
    "blocks.log.sqlite",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name, plugin_host):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
