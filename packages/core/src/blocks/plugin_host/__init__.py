"""The parts of the plugin host, each with one job.

* :mod:`~blocks.plugin_host.policy`: which plugins to load, from the
  ``BLOCKS_*`` switches (strict, trace, load, disable);
* :mod:`~blocks.plugin_host.calls`: every hook call, through pluggy's caller,
  one plugin at a time where a failure must stay that plugin's own;
* :mod:`~blocks.plugin_host.registries`: the registries built from the
  registrar hooks, transactional per plugin and hook, with clashes;
* :mod:`~blocks.plugin_host.listing`: what ``blocks plugins`` shows;
* :mod:`~blocks.plugin_host.commands`: the ``subparsers`` a
  ``register_commands`` hook gets.

:class:`blocks.plugins.PluginHost` puts them together; use it (and the
functions of :mod:`blocks.plugins`), not these parts.
"""
