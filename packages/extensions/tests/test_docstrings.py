"""The Examples sections of every blocks_extensions module run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "aggregation", "monitoring", "printing", "timing", "schedules", "stopping", "numerics", "plot", "commands",
    "dashboard.store", "dashboard.bulk", "dashboard.downsample", "dashboard.views", "dashboard.browser", "tensorboard",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(f"blocks_extensions.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
