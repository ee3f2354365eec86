"""Packaging smoke test of blocks-bricks-rnn: metadata, entry point, hook module."""

from __future__ import annotations

from blocks.testing.packaging import check_plugin_package


def test_plugin_package(plugin_host, register_plugin):
    check_plugin_package("blocks-bricks-rnn", "blocks_rnn", plugin_host, register_plugin)
