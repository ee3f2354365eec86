"""Test helpers for Blocks and for third-party plugin authors.

Installed as a pytest plugin (entry point ``pytest11: blocks``), so its
fixtures are available in any test suite where ``blocks-core`` is installed:

``plugin_host``
    A fresh :class:`~blocks.plugins.PluginHost` with core's built-ins and no
    installed entry points, installed as the process-wide host for the test.
``register_plugin``
    ``register_plugin(obj, name=None, distribution=None)`` registers a hook
    object on that host for the duration of the test.
"""

from blocks.testing.fakes import FakeDistribution, FakeEntryPoint, fake_entry_points

__all__ = ["FakeDistribution", "FakeEntryPoint", "fake_entry_points"]
