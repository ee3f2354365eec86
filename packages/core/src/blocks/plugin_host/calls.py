"""Every hook call goes through pluggy's caller; one plugin at a time where a failure must stay its own.

Calling a hook for all plugins at once lets one plugin's exception stop the
others. So the host calls contribution hooks (and ``select_backend``) once per
plugin, each time through a pluggy caller that holds that plugin's
implementation and every *wrapper* (``hookwrapper=True`` or ``wrapper=True``)
of the hook: pluggy's call machinery runs, so ``BLOCKS_TRACE_PLUGINS`` logs the
call and wrappers wrap it. The order of the plugins is the host's precedence:

* registrars and ``register_commands``: core's built-ins first (they win every
  clash), then ``tryfirst`` implementations, the others, ``trylast`` ones, each
  group by distribution name;
* ``select_backend`` (``firstresult``): ``tryfirst``, the others, ``trylast``,
  plugins before core within each group (core's ``cpu`` is the fallback), by
  distribution name.

Examples
--------
>>> import pluggy
>>> from blocks import hookspecs
>>> pm = pluggy.PluginManager("blocks")
>>> pm.add_hookspecs(hookspecs)
>>> class Late:
...     @hookspecs.hookimpl(trylast=True)
...     def register_bricks(self, register):
...         register("late")
>>> class Early:
...     @hookspecs.hookimpl
...     def register_bricks(self, register):
...         register("early")
>>> _ = pm.register(Late(), name="late"), pm.register(Early(), name="early")
>>> calls = HookCalls(pm, owner={"late": "a-late", "early": "z-early"}, core="blocks-core")
>>> seen = []
>>> for impl in calls.implementations("register_bricks"):
...     _ = calls.call(impl, "register_bricks", register=seen.append)
>>> seen
['early', 'late']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from blocks.plugin_host.policy import canonical

__all__ = ["HashableHooks", "HookCalls"]


class HashableHooks:
    """An object with hook functions that cannot be hashed (a ``SimpleNamespace``), made hashable for pluggy.

    pluggy keeps the plugins a per-plugin call leaves out in a set; this holder
    is hashed by identity and carries the public attributes of the object it
    holds (pluggy reads hook functions statically, so they are copied in).

    Examples
    --------
    >>> import types
    >>> hooks = HashableHooks(types.SimpleNamespace(register_bricks=print))
    >>> hash(hooks) == id(hooks), hooks.register_bricks is print, hooks.held.register_bricks is print
    (True, True, True)
    """

    def __init__(self, hooks: Any) -> None:
        self.held = hooks
        for name in dir(hooks):
            if not name.startswith("_"):
                setattr(self, name, getattr(hooks, name))

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def _is_wrapper(impl: Any) -> bool:
    return bool(impl.hookwrapper or impl.wrapper)


class HookCalls:
    """Calls of the hooks of ``pm`` per plugin, through pluggy.

    Parameters
    ----------
    pm : pluggy.PluginManager
        The plugin manager.
    owner : mapping
        Pluggy plugin name -> distribution (read when calling, so it may grow).
    core : str
        The distribution of core's built-ins.
    """

    def __init__(self, pm: pluggy.PluginManager, owner: Mapping[str, str], core: str) -> None:
        self.pm = pm
        self.owner = owner
        self.core = core

    def distribution(self, impl: Any) -> str:
        """The distribution an implementation belongs to."""
        return self.owner.get(impl.plugin_name, impl.plugin_name)

    def _key(self, impl: Any, core_first: bool) -> tuple:
        dist = self.distribution(impl)
        group = 0 if impl.tryfirst else 2 if impl.trylast else 1
        is_core = dist == self.core
        first = (not is_core, group) if core_first else (group, is_core)
        return (*first, canonical(dist), impl.plugin_name)

    def implementations(self, hook_name: str, *, core_first: bool = True) -> list[Any]:
        """The hook's implementations (not its wrappers), in the order the host calls them."""
        caller = getattr(self.pm.hook, hook_name)
        impls = [impl for impl in caller.get_hookimpls() if not _is_wrapper(impl)]
        return sorted(impls, key=lambda impl: self._key(impl, core_first))

    def call(self, impl: Any, hook_name: str, **kwargs: Any) -> Any:
        """Call one implementation (and the hook's wrappers) through pluggy; its result.

        The result is a list of one value (or none, for ``None``), as pluggy
        returns them, except for ``firstresult`` hooks: the value itself.
        """
        caller = getattr(self.pm.hook, hook_name)
        others = [other.plugin for other in caller.get_hookimpls() if other is not impl and not _is_wrapper(other)]
        if others:
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        return caller(**kwargs)
