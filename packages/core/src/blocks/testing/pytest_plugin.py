"""pytest fixtures for Blocks and its plugins (entry point ``pytest11: blocks``).

Never imports torch: loading this plugin must stay cheap for every test run.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from blocks.plugins import PluginHost, set_host


@pytest.fixture
def plugin_host() -> Iterator[PluginHost]:
    """A fresh plugin host with core's built-ins and no installed plugins.

    It is the process-wide host (:func:`blocks.plugins.get_host`) during the
    test, so code under test sees exactly what the test registers.
    """
    host = PluginHost(entry_points=lambda: [], env={})
    previous = set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


@pytest.fixture
def register_plugin(plugin_host: PluginHost) -> Iterator[Callable[..., str]]:
    """Register hook objects on :func:`plugin_host` for one test."""
    names: list[str] = []

    def register(plugin: Any, name: str | None = None, distribution: str | None = None, version: str = "0") -> str:
        registered = plugin_host.register_plugin(plugin, name, distribution=distribution, version=version)
        names.append(registered)
        return registered

    try:
        yield register
    finally:
        for name in reversed(names):
            plugin_host.unregister_plugin(name)
