"""What ``blocks plugins`` shows: the plugins in order, each with the hooks it implements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

__all__ = ["hooks_by_distribution", "in_listing_order"]


def hooks_by_distribution(pm: pluggy.PluginManager, owner: Mapping[str, str]) -> dict[str, list[str]]:
    """Distribution -> the sorted names of the hooks its registered plugins implement.

    Examples
    --------
    >>> from blocks import hookspecs
    >>> pm = pluggy.PluginManager("blocks")
    >>> pm.add_hookspecs(hookspecs)
    >>> class Demo:
    ...     @hookspecs.hookimpl
    ...     def register_bricks(self, register):
    ...         pass
    >>> _ = pm.register(Demo(), name="demo")
    >>> hooks_by_distribution(pm, {"demo": "blocks-demo"})
    {'blocks-demo': ['register_bricks']}
    """
    hooks: dict[str, set[str]] = {}
    for plugin_name, dist in owner.items():
        plugin = pm.get_plugin(plugin_name)
        if plugin is None:
            continue
        for caller in pm.get_hookcallers(plugin) or []:
            hooks.setdefault(dist, set()).add(caller.name)
    return {dist: sorted(names) for dist, names in hooks.items()}


def in_listing_order(infos: Iterable[Any], core: str, include_failed: bool = True) -> list[Any]:
    """Core first, then by distribution name; without the failed ones unless ``include_failed``."""
    ordered = sorted(infos, key=lambda info: (info.name != core, info.name))
    return [info for info in ordered if include_failed or info.status == "loaded"]
