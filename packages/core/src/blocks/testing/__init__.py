"""Test helpers for Blocks and for third-party plugin authors.

Installed as a pytest plugin (entry point ``pytest11: blocks``), so its
fixtures are available in any test suite where ``blocks-core`` is installed:

``plugin_host``
    A fresh :class:`~blocks.plugins.PluginHost` with core's built-ins and no
    installed entry points, strict (``BLOCKS_STRICT_PLUGINS=1``), installed as
    the process-wide host for the test.
``register_plugin``
    ``register_plugin(obj, name=None, distribution=None)`` registers a hook
    object on that host for the duration of the test.
``make_plugin_host``
    ``make_plugin_host(*fake_entry_points, env={...})`` builds a host that
    discovers exactly the given fake entry points, with a fake environment
    (``BLOCKS_STRICT_PLUGINS`` and friends); it is the process-wide host for
    the test.

Examples
--------
A test of a third-party plugin::

    from my_plugin import plugin

    def test_registers_rule(register_plugin):
        register_plugin(plugin, distribution="my-plugin")
        from blocks.plugins import get_registry
        assert "my_rule" in get_registry("step_rules")
"""

from blocks.testing.fakes import FakeDistribution, FakeEntryPoint, fake_entry_points

__all__ = ["FakeDistribution", "FakeEntryPoint", "fake_entry_points"]
