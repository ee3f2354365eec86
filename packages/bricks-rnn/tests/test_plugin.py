"""The plugin module registers every brick lazily, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

from blocks.plugins import get_registry
from blocks.registry import load_object
from blocks_rnn import EXPORTS, plugin


def test_every_brick_is_registered_and_resolves(register_plugin):
    register_plugin(plugin, name="blocks-bricks-rnn", distribution="blocks-bricks-rnn")
    registry = get_registry("bricks")
    exports = EXPORTS.registered("bricks")
    assert len(exports) == 18
    for name, target in ((export.name, export.reference) for export in exports):
        assert name in registry
        assert registry.get(name) is load_object(target)
        assert name == name.lower() and " " not in name


def test_plugin_import_does_not_import_torch():
    code = "import sys, blocks_rnn.plugin; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
