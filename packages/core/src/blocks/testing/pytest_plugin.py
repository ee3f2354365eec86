"""pytest fixtures for Blocks and its plugins (entry point ``pytest11: blocks``).

Tests run on the CPU by default: the plugin sets ``BLOCKS_DEVICE=cpu`` unless
the environment already names a device, so a suite that compares training with
a CPU reference gives the same answer on a machine with a GPU. A test of a GPU
asks for its device explicitly (``get_backend("cuda")``, ``backend="cuda"``);
``BLOCKS_DEVICE=auto pytest`` runs a whole suite on the GPU instead.

Never imports torch: loading this plugin must stay cheap for every test run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest

from blocks.plugins import PluginHost, set_host

__all__ = ["make_plugin_host", "plugin_host", "register_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """Default the device of the code under test to the CPU (see the module docstring)."""
    os.environ.setdefault("BLOCKS_DEVICE", "cpu")


@pytest.fixture
def plugin_host() -> Iterator[PluginHost]:
    """A fresh plugin host with core's built-ins and no installed plugins.

    It is the process-wide host (:func:`blocks.plugins.get_host`) during the
    test, so code under test sees exactly what the test registers. It is
    strict (``BLOCKS_STRICT_PLUGINS=1``): a hook of a registered plugin that
    raises fails the test with :class:`~blocks.plugins.PluginLoadError`
    instead of logging a warning.
    """
    host = PluginHost(entry_points=list, env={"BLOCKS_STRICT_PLUGINS": "1"})
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


@pytest.fixture
def make_plugin_host() -> Iterator[Callable[..., PluginHost]]:
    """Build hosts from fake entry points and a fake environment.

    ``make_plugin_host(*entry_points, env=None, builtins=True)`` returns a
    :class:`~blocks.plugins.PluginHost` that discovers exactly the given
    :class:`~blocks.testing.FakeEntryPoint` objects and reads the ``BLOCKS_*``
    switches from ``env`` (default: empty). The newest host is the
    process-wide one until the test ends.
    """
    previous: list[PluginHost | None] = []

    def make(*entry_points: Any, env: Mapping[str, str] | None = None, builtins: bool = True) -> PluginHost:
        eps: Iterable[Any] = list(entry_points)
        host = PluginHost(entry_points=lambda: eps, env=dict(env or {}), builtins=builtins)
        old = set_host(host)
        if not previous:
            previous.append(old)
        return host

    try:
        yield make
    finally:
        if previous:
            set_host(previous[0])
