"""The registries, built from the registrar hooks: one plugin at a time, all or nothing per plugin and hook.

Each ``register_<kind>`` implementation is called alone through pluggy
(:class:`~blocks.plugin_host.calls.HookCalls`), in the host's precedence
(core first, then plugins by distribution name, ``tryfirst``/``trylast``
within). What it registers is staged and added only when the hook returns; a
name an earlier plugin has is a clash: the earlier keeps it, the later one's is
disabled. A hook that raises registers nothing, and every name it had staged
remembers why (:meth:`RegistryBuilder.explain`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from blocks.plugin_host.calls import HookCalls
from blocks.registry import KINDS, Entry, Registry

__all__ = ["RegistryBuilder"]


class RegistryBuilder:
    """Builds :class:`~blocks.registry.Registry` objects of every kind and explains missing names.

    Parameters
    ----------
    calls : HookCalls
        Calls the registrar hooks.
    info : callable
        ``info(distribution)`` -> that plugin's :class:`~blocks.plugins.PluginInfo`.
    fail : callable
        ``fail(info, what, error)`` reports a failed hook (fatal when strict).
    clash : callable
        ``clash(info, kind, name, kept_by, reference)`` reports a clash (fatal when strict).
    failed_kinds : dict
        Distribution -> ``{kind or "*": why}``; ``"*"`` entries (a plugin that
        failed to load) come from loading, the others are written here.
    """

    def __init__(
        self,
        calls: HookCalls,
        info: Callable[[str], Any],
        fail: Callable[[Any, str, BaseException], None],
        clash: Callable[[Any, str, str, str, str], None],
        failed_kinds: dict[str, dict[str, str]],
    ) -> None:
        self.calls, self.info, self.fail, self.clash = calls, info, fail, clash
        self.failed_kinds = failed_kinds
        self.withdrawn: dict[tuple[str, str], str] = {}  # (kind, name) -> why a failed hook's name was withdrawn

    def build(self, validators: Mapping[str, Callable[[Entry, Any], None]],
              versions: Callable[[str], str]) -> dict[str, Registry]:
        """Every registry, built afresh (what an earlier build recorded is forgotten)."""
        self.withdrawn = {}
        for kinds in self.failed_kinds.values():
            for kind in [k for k in kinds if k != "*"]:
                del kinds[kind]
        registries = {
            kind: Registry(kind, validators.get(kind), explain=functools.partial(self.explain, kind, versions))
            for kind in KINDS
        }
        for kind in KINDS:
            for impl in self.calls.implementations(f"register_{kind}"):
                self._register_from(impl, registries[kind], self.info(self.calls.distribution(impl)))
        return registries

    def _register_from(self, impl: Any, registry: Registry, info: Any) -> None:
        """Run one registrar implementation and add what it registered, all or nothing."""
        kind = registry.kind
        staged: dict[str, tuple[Any, dict[str, Any]]] = {}

        def register(name: str, obj: Any, **meta: Any) -> None:
            registry.check(name, obj, plugin=info.name, version=info.version)
            if name in staged:
                raise ValueError(f"plugin {info.name} {info.version}: {kind} name {name!r} is registered twice by "
                                 "this plugin")
            staged[name] = (obj, meta)

        try:
            self.calls.call(impl, f"register_{kind}", register=register)
        except Exception as err:  # noqa: BLE001 - isolate every plugin
            for name in staged:
                self.withdrawn[(kind, name)] = (
                    f"plugin {info.name} {info.version} registers it, but its register_{kind} hook failed "
                    f"({err!r}), so none of that hook's names are registered"
                )
            self.failed_kinds.setdefault(info.name, {})[kind] = repr(err)
            self.fail(info, f"hook register_{kind} failed", err)
            return
        for name, (obj, meta) in staged.items():
            if name in registry:
                winner = registry.entry(name)
                reference = Entry(name, obj, info.name).reference
                self.clash(info, kind, name, f"{winner.plugin} {winner.version}", reference)
                continue
            registry.add(name, obj, plugin=info.name, version=info.version, **meta)
            info.registered.setdefault(kind, []).append(name)

    def explain(self, kind: str, versions: Callable[[str], str], name: str) -> str:
        """Why ``name`` is not in registry ``kind`` when a plugin failure may be the reason, else ``""``."""
        withdrawn = self.withdrawn.get((kind, name))
        if withdrawn:
            return withdrawn
        notes = []
        for dist, kinds in sorted(self.failed_kinds.items()):
            if "*" in kinds:
                notes.append(f"plugin {dist} {versions(dist)} failed to load ({kinds['*']})")
            elif kind in kinds:
                notes.append(f"the register_{kind} hook of plugin {dist} {versions(dist)} failed ({kinds[kind]})")
        if not notes:
            return ""
        return "; ".join(notes) + (" and may provide it" if len(notes) == 1 else "; one of them may provide it")
