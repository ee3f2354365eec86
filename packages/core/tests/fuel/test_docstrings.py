"""Every example in fuel's docstrings runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import fuel

MODULES = sorted(m.name for m in pkgutil.walk_packages(fuel.__path__, "fuel."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed; run python -m doctest -v"
