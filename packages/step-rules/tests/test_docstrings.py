"""The Examples sections of every rule module run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import blocks_step_rules

MODULES = sorted(m.name for m in pkgutil.iter_modules(blocks_step_rules.__path__, "blocks_step_rules.")
                 if m.name != "blocks_step_rules.plugin")


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
