"""The Examples sections of the checkpoint modules (and of `blocks continue`) run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "blocks.serialization",
    "blocks.serialization.archive",
    "blocks.serialization.checkpoint",
    "blocks.serialization.document",
    "blocks.serialization.flatten",
    "blocks.serialization.layout",
    "blocks.serialization.legacy",
    "blocks.serialization.rng",
    "blocks.serialization.safetensors_io",
    "blocks.serialization.writing",
    "blocks.cli.continue_command",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name, plugin_host):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
