"""The plugin host: discovery, isolation, registries.

Plugins are distributions that declare a module under the entry-point group
``blocks``; the entry point is named after the distribution. The host loads
them one at a time, lazily and once: a plugin that fails to import is reported
(entry point, distribution, version, error) and skipped, unless
``BLOCKS_STRICT_PLUGINS=1`` makes that fatal.

Precedence
----------
Hooks run for core's built-ins first, then for plugins in the order of their
distribution names (entry-point order differs between machines), those marked
``tryfirst`` before and ``trylast`` after the others. When a
plugin registers a name that an earlier one already has — ``adam`` twice, or
core's ``scale`` — the earlier one keeps it: only the later plugin's
conflicting name is disabled, with a warning naming both plugins and
versions, and :meth:`PluginHost.plugins` records the clash. Registration is
transactional per plugin and hook: a hook that raises part-way registers
nothing.

Environment switches
--------------------
``BLOCKS_DISABLE_PLUGIN_AUTOLOAD=1``
    Load no entry points (core's built-ins stay).
``BLOCKS_LOAD_PLUGINS=a,b``
    Load only these distributions (empty: none).
``BLOCKS_DISABLE_PLUGINS=a,b``
    Load every distribution except these.
``BLOCKS_STRICT_PLUGINS=1``
    A plugin that fails to load or register, or a name clash, is an error.
``BLOCKS_TRACE_PLUGINS=1``
    Log every hook call with its implementations (logger ``blocks.plugins``).

Every hook is called through pluggy's caller: contribution hooks (and
``select_backend``) once per plugin, so that one plugin's exception stays its
own, each time with the hook's wrappers; ``tryfirst`` and ``trylast`` order
the plugins (never ahead of core's built-ins for the registrars). The host is
made of parts with one job each (:mod:`blocks.plugin_host`): the loading
policy, the hook calls, the registries and the listing.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import pluggy

from blocks import hookspecs
from blocks.plugin_host.calls import HashableHooks, HookCalls
from blocks.plugin_host.commands import Subcommands
from blocks.plugin_host.listing import hooks_by_distribution, in_listing_order
from blocks.plugin_host.policy import LoadingPolicy
from blocks.plugin_host.registries import RegistryBuilder
from blocks.registry import KINDS, Entry, Registry

__all__ = [
    "BUILTIN_MODULES",
    "CORE_DISTRIBUTION",
    "PluginHost",
    "PluginInfo",
    "PluginLoadError",
    "failure_note",
    "get_host",
    "get_registry",
    "plugin_failures",
    "reset_host",
    "resolve",
    "set_host",
]

logger = logging.getLogger("blocks.plugins")

CORE_DISTRIBUTION = "blocks-core"
GROUP = "blocks"
"""Entry-point group that plugins declare their hook module under."""


def _builtin_modules() -> tuple[str, ...]:
    import pkgutil

    import blocks._builtins as package

    return tuple(
        f"{package.__name__}.{m.name}" for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
    )


BUILTIN_MODULES = _builtin_modules()
"""Core's own hook modules (every module of :mod:`blocks._builtins`), registered
directly under ``blocks-core``. Each area of core adds its own module there."""

class PluginLoadError(RuntimeError):
    """A plugin failed to load or register while ``BLOCKS_STRICT_PLUGINS=1``.

    Examples
    --------
    >>> from blocks.testing import FakeEntryPoint, fake_entry_points
    >>> host = PluginHost(fake_entry_points(FakeEntryPoint("broken", ImportError)), env={"BLOCKS_STRICT_PLUGINS": "1"})
    >>> host.load()
    Traceback (most recent call last):
    ...
    blocks.plugins.PluginLoadError: plugin broken 0.0.1: cannot load entry point 'broken' ...
    """


@dataclass
class PluginInfo:
    """What the host knows about one plugin.

    Attributes
    ----------
    name : str
        Distribution name (``"blocks-core"`` for built-ins).
    version : str
        Distribution version.
    entry_point : str
        ``"name = module"`` of the entry point, or ``""`` for built-ins.
    status : str
        ``"loaded"``, ``"failed"``, ``"skipped"`` (not in ``BLOCKS_LOAD_PLUGINS``)
        or ``"disabled"`` (in ``BLOCKS_DISABLE_PLUGINS``).
    error : str
        The error message when ``status == "failed"``.
    modules : list of str
        Hook modules registered for this plugin.
    hooks : list of str
        Hooks it implements.
    registered : dict
        ``{kind: [names]}`` of what it registered.
    clashes : list of dict
        Names of this plugin disabled because an earlier plugin has them:
        ``{"kind", "name", "kept_by"}`` (``kept_by``: that plugin and its version).

    Examples
    --------
    >>> info = PluginInfo("blocks-demo", "1.0", registered={"step_rules": ["halve"]})
    >>> info.as_dict()["registered"]
    {'step_rules': ['halve']}
    """

    name: str
    version: str
    entry_point: str = ""
    status: str = "loaded"
    error: str = ""
    modules: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    clashes: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary."""
        return {
            "name": self.name,
            "version": self.version,
            "entry_point": self.entry_point,
            "status": self.status,
            "error": self.error,
            "modules": list(self.modules),
            "hooks": list(self.hooks),
            "registered": {k: list(v) for k, v in self.registered.items()},
            "clashes": [dict(c) for c in self.clashes],
        }


EntryPointSource = Callable[[], Iterable[Any]]


def _hashable(plugin: Any) -> Any:
    """The plugin, or a holder of it that pluggy can keep in a set (a ``SimpleNamespace`` of hooks cannot be)."""
    return HashableHooks(plugin) if type(plugin).__hash__ is None else plugin


def _default_entry_points() -> Iterable[Any]:
    return importlib_metadata.entry_points(group=GROUP)


class PluginHost:
    """A pluggy plugin manager plus the registries built from it.

    Parameters
    ----------
    entry_points : callable, optional
        Returns the entry points to consider (objects with ``name``,
        ``value``, ``dist`` and ``load()``). Defaults to the installed
        distributions' ``blocks`` group. Tests pass fakes
        (:mod:`blocks.testing`).
    builtins : bool
        Register core's built-in hook modules (default ``True``).
    env : mapping, optional
        Environment to read the ``BLOCKS_*`` switches from (default
        ``os.environ`` at load time).

    Examples
    --------
    >>> host = PluginHost(entry_points=lambda: [])
    >>> "blocks-core" in [p.name for p in host.plugins()]
    True
    """

    def __init__(
        self,
        entry_points: EntryPointSource | None = None,
        *,
        builtins: bool = True,
        env: Mapping[str, str] | None = None,
    ):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._entry_points = entry_points or _default_entry_points
        self._builtins = builtins
        self.policy = LoadingPolicy(env)
        self._lock = threading.RLock()
        self._loaded = False
        self._plugins: dict[str, PluginInfo] = {}
        self._owner: dict[str, str] = {}  # pluggy plugin name -> distribution
        self._registries: dict[str, Registry] | None = None
        self.validators: dict[str, Callable[[Entry, Any], None]] = {}
        self._undo_trace: Callable[[], None] | None = None
        self._load_error: PluginLoadError | None = None
        # distribution -> {kind whose registrar hook failed, or "*" (the plugin failed to load): why}
        self._failed_kinds: dict[str, dict[str, str]] = {}
        self.calls = HookCalls(self.pm, self._owner, CORE_DISTRIBUTION)
        self._builder = RegistryBuilder(self.calls, self._info, self._fail, self._clash, self._failed_kinds)

    # -- environment ---------------------------------------------------------
    @property
    def env(self) -> Mapping[str, str]:
        """The environment the ``BLOCKS_*`` switches are read from."""
        return self.policy.env

    @property
    def strict(self) -> bool:
        """Whether plugin failures are fatal (``BLOCKS_STRICT_PLUGINS``)."""
        return self.policy.strict

    # -- loading -------------------------------------------------------------
    def load(self) -> None:
        """Register built-ins and load entry points (once).

        Under ``BLOCKS_STRICT_PLUGINS=1`` a failure raises
        :class:`PluginLoadError`, and so does every later call: a host is
        never used half-loaded.
        """
        with self._lock:
            if self._load_error is not None:
                raise self._load_error
            if self._loaded:
                return
            self._loaded = True
            try:
                if self.policy.trace:
                    self._install_tracing()
                if self._builtins:
                    self._load_builtins()
                self._load_entry_points()
            except PluginLoadError as err:
                self._load_error = err
                raise

    def _core_version(self) -> str:
        try:
            return importlib_metadata.version(CORE_DISTRIBUTION)
        except importlib_metadata.PackageNotFoundError:
            return "unknown"

    def _load_builtins(self) -> None:
        info = PluginInfo(CORE_DISTRIBUTION, self._core_version())
        self._plugins[CORE_DISTRIBUTION] = info
        for module_name in BUILTIN_MODULES:
            try:
                module = importlib.import_module(module_name)
                self.pm.register(module, name=module_name)
            except Exception as err:  # noqa: BLE001 - one broken built-in must not take the others down
                self._fail(info, f"cannot load built-in module {module_name}", err)
                continue
            self._owner[module_name] = CORE_DISTRIBUTION
            info.modules.append(module_name)
            self._check_specs(module_name, info)

    def _load_entry_points(self) -> None:
        seen: set[str] = set()
        for ep in self._entry_points():
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else ep.name
            version = dist.version if dist is not None else "unknown"
            key = f"{dist_name}:{ep.name}"
            if key in seen or ep.name in self._owner:
                continue
            seen.add(key)
            info = self._plugins.get(dist_name) or PluginInfo(dist_name, version)
            info.entry_point = f"{ep.name} = {ep.value}"
            self._plugins[dist_name] = info
            selection = self.policy.selection(dist_name)
            if selection != "loaded":
                info.status = selection
                continue
            try:
                module = _hashable(ep.load())
                self.pm.register(module, name=ep.name)
            except Exception as err:  # noqa: BLE001 - isolate every plugin
                what = f"cannot load entry point {ep.name!r} ({ep.value})"
                self._failed_kinds.setdefault(dist_name, {})["*"] = f"{what}: {err!r}"
                self._fail(info, what, err)
                continue
            self._owner[ep.name] = dist_name
            info.modules.append(getattr(module, "__name__", str(module)))
            self._check_specs(ep.name, info)
        self._check_wanted()

    def _check_specs(self, plugin_name: str, info: PluginInfo) -> None:
        """Reject a plugin that implements a hook no specification declares (a typo)."""
        plugin = self.pm.get_plugin(plugin_name)
        unknown = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if caller.spec is None
            and any(impl.plugin_name == plugin_name and not impl.optionalhook for impl in caller.get_hookimpls())
        )
        if unknown:
            self.pm.unregister(name=plugin_name)
            self._owner.pop(plugin_name, None)
            valid = sorted(n for n in dir(hookspecs) if n.startswith(("register_", "select_")))
            self._fail(
                info,
                f"implements unknown hook(s) {', '.join(unknown)}",
                ValueError(f"valid hooks: {', '.join(valid)}"),
            )

    def _check_wanted(self) -> None:
        """Warn about names in ``BLOCKS_LOAD_PLUGINS``/``BLOCKS_DISABLE_PLUGINS`` that no installed plugin has."""
        for message in self.policy.warnings(self._plugins, CORE_DISTRIBUTION):
            logger.warning(message)

    def _fail(self, info: PluginInfo, what: str, err: BaseException) -> None:
        message = (
            f"plugin {info.name} {info.version}: {what}: {err!r} "
            f"(blocks-core {self._core_version()}). Check that the plugin is compatible with this "
            f"blocks-core, or disable it with BLOCKS_DISABLE_PLUGINS={info.name}."
        )
        info.status = "failed"
        info.error = message
        if self.strict:
            raise PluginLoadError(message + " [BLOCKS_STRICT_PLUGINS=1 makes this fatal]") from err
        logger.warning(message)

    def _install_tracing(self) -> None:
        def before(hook_name: str, impls: list, kwargs: dict) -> None:
            logger.info("hook %s called: %s", hook_name, [i.plugin_name for i in impls])

        def after(outcome: Any, hook_name: str, impls: list, kwargs: dict) -> None:
            logger.info(
                "hook %s returned %r",
                hook_name,
                outcome.get_result() if outcome.exception is None else outcome.exception,
            )

        self._undo_trace = self.pm.add_hookcall_monitoring(before, after)

    # -- registration of plugins at run time (tests, notebooks) ---------------
    def register_plugin(
        self, plugin: Any, name: str | None = None, *, distribution: str | None = None, version: str = "0"
    ) -> str:
        """Register a hook module or object at run time.

        Parameters
        ----------
        plugin : module or object
            Holds ``@hookimpl`` functions.
        name : str, optional
            Plugin name for pluggy; defaults to the object's name.
        distribution : str, optional
            Distribution it is listed under (defaults to ``name``).
        version : str
            Version shown in listings.

        Returns
        -------
        str
            The name under which it was registered (for :meth:`unregister_plugin`).
        """
        self.load()
        with self._lock:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            plugin = _hashable(plugin)
            registered = self.pm.register(plugin, name=name)
            if registered is None:  # pragma: no cover - pluggy only returns None for blocked names
                raise ValueError(f"plugin name {name!r} is blocked in this host")
            dist = distribution or name
            self._owner[registered] = dist
            info = self._plugins.setdefault(dist, PluginInfo(dist, version))
            info.modules.append(registered)
            self._registries = None
            unknown = [c.name for c in self.pm.get_hookcallers(plugin) or [] if c.spec is None]
            if unknown:
                self.unregister_plugin(registered)
                valid = sorted(n for n in dir(hookspecs) if n.startswith(("register_", "select_")))
                raise ValueError(
                    f"plugin {dist}: implements unknown hook(s) {', '.join(sorted(unknown))}; "
                    f"valid hooks: {', '.join(valid)}"
                )
            return registered

    def unregister_plugin(self, name: str) -> None:
        """Undo :meth:`register_plugin`."""
        with self._lock:
            self.pm.unregister(name=name)
            dist = self._owner.pop(name, None)
            if dist is not None and dist in self._plugins:
                info = self._plugins[dist]
                if name in info.modules:
                    info.modules.remove(name)
                if not info.modules and dist != CORE_DISTRIBUTION:
                    del self._plugins[dist]
            self._registries = None

    # -- hooks ---------------------------------------------------------------
    @property
    def hook(self) -> Any:
        """The pluggy hook relay (loads plugins first)."""
        self.load()
        return self.pm.hook

    def _info(self, dist: str) -> PluginInfo:
        return self._plugins.setdefault(dist, PluginInfo(dist, "unknown"))

    def call_per_plugin(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of a hook separately, through pluggy, isolating failures.

        A failing implementation is reported like a plugin that fails to load
        (fatal under ``BLOCKS_STRICT_PLUGINS=1``); the others still run. They
        run in precedence order: core's built-ins first, then plugins by
        distribution name (``tryfirst``/``trylast`` first/last among them),
        each through pluggy's caller with the hook's wrappers. For
        ``register_commands``, a command name an earlier plugin has is a clash
        (the later plugin's command is left out, with a warning), and a hook
        that fails part-way adds no command.
        """
        self.load()
        for impl in self.calls.implementations(hook_name):
            info = self._info(self.calls.distribution(impl))
            args = dict(kwargs)
            commands = None
            if "subparsers" in args:
                commands = args["subparsers"] = Subcommands(
                    args["subparsers"], f"{info.name} {info.version}",
                    lambda command, kept_by, info=info: self._clash(info, "commands", command, kept_by,
                                                                    f"blocks {command}"),
                )
            try:
                self.calls.call(impl, hook_name, **args)
            except PluginLoadError:  # a clash under BLOCKS_STRICT_PLUGINS=1
                if commands is not None:
                    commands.withdraw()
                raise
            except Exception as err:  # noqa: BLE001
                if commands is not None:
                    commands.withdraw()
                self._fail(info, f"hook {hook_name} failed", err)

    def call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """The first non-``None`` answer of a decision hook, asking one plugin at a time through pluggy.

        Plugins are asked before core's built-ins (``tryfirst`` ones first,
        ``trylast`` ones last), by distribution name. A plugin whose
        implementation raises is reported (fatal under
        ``BLOCKS_STRICT_PLUGINS=1``) and the next one is asked.

        Examples
        --------
        >>> host = PluginHost(entry_points=lambda: [])
        >>> host.call_first("select_backend", requested="auto", available=["cpu"])
        'cpu'
        """
        self.load()
        for impl in self.calls.implementations(hook_name, core_first=False):
            try:
                answer = self.calls.call(impl, hook_name, **kwargs)
            except PluginLoadError:
                raise
            except Exception as err:  # noqa: BLE001 - isolate every plugin
                self._fail(self._info(self.calls.distribution(impl)), f"hook {hook_name} failed", err)
                continue
            if isinstance(answer, list):  # not a firstresult hook: pluggy gives a list
                answer = answer[0] if answer else None
            if answer is not None:
                return answer
        return None

    def _clash(self, info: PluginInfo, kind: str, name: str, kept_by: str, reference: str) -> None:
        """A later plugin's ``name`` is disabled: an earlier one (``kept_by``) has it."""
        info.clashes.append({"kind": kind, "name": name, "kept_by": kept_by})
        message = (
            f"plugin {info.name} {info.version} registers {kind} name {name!r} ({reference}), which {kept_by} "
            f"already has: {kept_by} keeps it (core first, then plugins by distribution name) and {info.name}'s "
            f"{name!r} is disabled. Uninstall one of them, or disable one with BLOCKS_DISABLE_PLUGINS"
        )
        if self.strict:
            raise PluginLoadError(message + " [BLOCKS_STRICT_PLUGINS=1 makes this fatal]")
        logger.warning(message)

    def explain(self, kind: str, name: str) -> str:
        """Why ``name`` is not in registry ``kind`` when a plugin failure may be the reason, else ``""``.

        Names a hook registered before it failed are named exactly; otherwise
        every plugin that failed to load, or whose ``register_<kind>`` hook
        failed, is listed with its error (it may be the one that provides
        ``name``).

        Examples
        --------
        >>> from blocks.testing import FakeDistribution, FakeEntryPoint, fake_entry_points
        >>> broken = FakeEntryPoint("blocks-rnn", ImportError("no cudnn"), FakeDistribution("blocks-rnn", "1.2"))
        >>> host = PluginHost(fake_entry_points(broken), env={})
        >>> print(host.explain("bricks", "lstm"))
        plugin blocks-rnn 1.2 failed to load (cannot load entry point ...: ImportError('no cudnn')) and may provide it
        """
        self.load()
        return self._builder.explain(kind, self._version, name)

    def _version(self, dist: str) -> str:
        return self._plugins[dist].version if dist in self._plugins else "unknown"

    def registry(self, kind: str) -> Registry:
        """The :class:`~blocks.registry.Registry` of one kind (built once)."""
        if kind not in KINDS:
            raise ValueError(f"unknown registry kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        self.load()
        with self._lock:
            if self._registries is None:
                for info in self._plugins.values():
                    info.registered = {}
                    info.clashes = [c for c in info.clashes if c["kind"] == "commands"]
                self._registries = self._builder.build(self.validators, self._version)
            return self._registries[kind]

    def add_validator(self, kind: str, validator: Callable[[Entry, Any], None]) -> None:
        """Install a validator called when an object of ``kind`` is first loaded."""
        self.validators[kind] = validator
        with self._lock:
            if self._registries is not None:
                self._registries[kind].validator = validator

    # -- listing ---------------------------------------------------------------
    def plugins(self, include_failed: bool = True) -> list[PluginInfo]:
        """Plugins known to the host, core first, then by name.

        Building the registries fills each plugin's ``registered`` map.
        """
        self.load()
        for kind in KINDS:
            self.registry(kind)
        with self._lock:
            hooks = hooks_by_distribution(self.pm, self._owner)
            for info in self._plugins.values():
                info.hooks = hooks.get(info.name, [])
            return in_listing_order(self._plugins.values(), CORE_DISTRIBUTION, include_failed)

    @property
    def failures(self) -> list[PluginInfo]:
        """Plugins that failed to load or register."""
        self.load()
        return [p for p in self._plugins.values() if p.status == "failed"]


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_host() -> PluginHost:
    """The process-wide plugin host (created and loaded lazily, once)."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost()
    _host.load()
    return _host


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Replace the process-wide host; returns the previous one (tests)."""
    global _host
    with _host_lock:
        previous, _host = _host, host
    return previous


def reset_host() -> None:
    """Forget the process-wide host; the next :func:`get_host` rediscovers."""
    set_host(None)


def get_registry(kind: str) -> Registry:
    """The registry of ``kind`` of the process-wide host.

    Examples
    --------
    >>> "scale" in get_registry("step_rules")  # doctest: +SKIP
    True
    """
    return get_host().registry(kind)


def resolve(kind: str, name: str) -> Any:
    """Return the object registered as ``name`` in registry ``kind``.

    Unknown names raise :class:`~blocks.registry.UnknownNameError` listing the
    available ones, and saying which plugin failed to load (and why) when that
    may be the reason the name is missing.
    """
    return get_registry(kind).get(name)


def plugin_failures() -> list[PluginInfo]:
    """The plugins of the process-wide host that failed to load or register (with their errors).

    Examples
    --------
    >>> [p.name for p in plugin_failures()]  # doctest: +SKIP
    []
    """
    return list(get_host().failures)


def failure_note(kind: str, name: str) -> str:
    """Why ``name`` is missing from registry ``kind`` of the process-wide host when a plugin failed, else ``""``.

    For code that resolves names its own way (e.g. module ``__getattr__``
    that looks names up in a registry) and wants to say "the plugin that
    provides it failed to load" instead of "no such name". See
    :meth:`PluginHost.explain`.

    Examples
    --------
    >>> failure_note("step_rules", "scale")  # doctest: +SKIP
    ''
    """
    return get_host().explain(kind, name)
