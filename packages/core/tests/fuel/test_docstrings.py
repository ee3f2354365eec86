"""Every example in the docstrings of fuel's datasets, schemes, streams and transformers runs as shown."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import fuel.transformers

MODULES = [
    "fuel.datasets.base", "fuel.datasets.text", "fuel.datasets.toy", "fuel.datasets.hdf5", "fuel.datasets.hdf5_errors",
    "fuel.datasets.hdf5_heap", "fuel.datasets.hdf5_layout", "fuel.datasets.hdf5_pread", "fuel.datasets.hdf5_scales",
    "fuel.interop", "fuel.iterator", "fuel.schemes", "fuel.streams", "fuel.transformers", "fuel.utils.random_state",
    *sorted(m.name for m in pkgutil.iter_modules(fuel.transformers.__path__, "fuel.transformers.")),
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.attempted, f"{name} has no docstring examples"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed; run python -m doctest -v"
