"""Named registries of plugin contributions.

A :class:`Registry` maps lower_snake_case names to objects contributed by
plugins through the registrar hooks of :mod:`blocks.hookspecs`. Objects may be
given lazily as ``"module:attribute"`` strings: they are imported on first use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "Entry",
    "Registry",
    "RegistryClashError",
    "UnknownNameError",
    "load_object",
]

KINDS = ("bricks", "step_rules", "extensions", "datasets", "backends", "log_backends")
"""The registry kinds, one per registrar hook (``register_<kind>``)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LAZY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class RegistryClashError(ValueError):
    """Two plugins registered the same name in one registry.

    Examples
    --------
    >>> reg = Registry("step_rules")
    >>> reg.add("adam", "fractions:Fraction", plugin="plugin-a", version="1.0")
    >>> reg.add("adam", "decimal:Decimal", plugin="plugin-b", version="2.0")
    Traceback (most recent call last):
    ...
    blocks.registry.RegistryClashError: step_rules name 'adam' is registered twice: by plugin-a 1.0 ...
    """


class UnknownNameError(ValueError, KeyError):
    """A name was asked for that no plugin registered.

    Subclasses both ``ValueError`` (a user mistake) and ``KeyError``.

    Examples
    --------
    >>> try:
    ...     Registry("bricks").get("lstm")
    ... except UnknownNameError as err:
    ...     print(err)
    unknown bricks name 'lstm'; available: (none: is the plugin that provides it installed?)
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def load_object(spec: str) -> Any:
    """Import ``"package.module:attribute[.sub]"`` and return the attribute.

    Parameters
    ----------
    spec : str
        A lazy reference of the form ``"module:attribute"``.

    Examples
    --------
    >>> load_object("os.path:join").__name__
    'join'
    """
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    """One registered object.

    Attributes
    ----------
    name : str
        The registry name.
    obj : object or str
        The object, or a lazy ``"module:attribute"`` reference.
    plugin : str
        Distribution (or plugin) that registered it, e.g. ``"blocks-core"``.
    version : str
        That distribution's version.
    metadata : dict
        Extra keyword arguments given to ``register``.

    Examples
    --------
    >>> entry = Entry("fraction", "fractions:Fraction", "my-plugin", "1.0")
    >>> entry.lazy, entry.load().__name__
    (True, 'Fraction')
    """

    name: str
    obj: Any
    plugin: str
    version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = field(default=None, repr=False)
    _is_loaded: bool = field(default=False, repr=False)

    @property
    def lazy(self) -> bool:
        """Whether the object is given as a ``"module:attribute"`` string."""
        return isinstance(self.obj, str)

    @property
    def reference(self) -> str:
        """A printable ``module:qualname`` reference of the object."""
        if self.lazy:
            return self.obj
        module = getattr(self.obj, "__module__", type(self.obj).__module__)
        qual = getattr(self.obj, "__qualname__", type(self.obj).__qualname__)
        return f"{module}:{qual}"

    def load(self) -> Any:
        """Return the object, importing a lazy reference once."""
        if not self._is_loaded:
            if self.lazy:
                try:
                    self._loaded = load_object(self.obj)
                except Exception as err:
                    raise ImportError(
                        f"plugin {self.plugin} {self.version}: cannot import {self.obj!r} "
                        f"registered as {self.name!r}: {err!r}"
                    ) from err
            else:
                self._loaded = self.obj
            self._is_loaded = True
        return self._loaded

    def load_metadata(self, key: str) -> Any:
        """Return a metadata value, importing it if it is a lazy reference."""
        value = self.metadata.get(key)
        if isinstance(value, str) and _LAZY.match(value):
            try:
                return load_object(value)
            except Exception as err:
                raise ImportError(
                    f"plugin {self.plugin} {self.version}: cannot import {value!r} ({key} of {self.name!r}): {err!r}"
                ) from err
        return value


class Registry:
    """Objects of one kind, registered by name.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    validator : callable, optional
        ``validator(entry, obj)`` called when an object is loaded; raises
        ``TypeError``/``ValueError`` naming what is wrong.
    explain : callable, optional
        ``explain(name)`` says why a name that is not registered is missing
        (e.g. the plugin that provides it failed to load), or returns ``""``.

    Examples
    --------
    >>> reg = Registry("step_rules")
    >>> reg.add("plain_sgd", "fractions:Fraction", plugin="my-plugin")
    >>> reg.get("plain_sgd").__name__
    'Fraction'
    >>> reg.get("adamw")
    Traceback (most recent call last):
    ...
    blocks.registry.UnknownNameError: unknown step_rules name 'adamw'; available: plain_sgd
    """

    def __init__(
        self,
        kind: str,
        validator: Callable[[Entry, Any], None] | None = None,
        explain: Callable[[str], str] | None = None,
    ):
        self.kind = kind
        self.validator = validator
        self.explain = explain
        self._entries: dict[str, Entry] = {}

    def check(self, name: str, obj: Any, *, plugin: str, version: str = "") -> None:
        """Raise ``ValueError`` if ``(name, obj)`` could never be registered (bad name, reference or object)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"plugin {plugin} {version}: {self.kind} name {name!r} is not lower_snake_case "
                "(letters, digits and underscores, starting with a letter)"
            )
        if isinstance(obj, str) and not _LAZY.match(obj):
            raise ValueError(
                f"plugin {plugin} {version}: {self.kind} {name!r} was given the string {obj!r}; "
                "a lazy reference must look like 'package.module:attribute'"
            )
        if obj is None:
            raise ValueError(f"plugin {plugin} {version}: {self.kind} {name!r} was registered as None")

    def add(self, name: str, obj: Any, *, plugin: str, version: str = "", **metadata: Any) -> None:
        """Add an object; a clash with another plugin's name is an error (:class:`RegistryClashError`)."""
        self.check(name, obj, plugin=plugin, version=version)
        if name in self._entries:
            other = self._entries[name]
            raise RegistryClashError(
                f"{self.kind} name {name!r} is registered twice: by {other.plugin} {other.version} "
                f"({other.reference}) and by {plugin} {version} "
                f"({Entry(name, obj, plugin).reference}); uninstall one of them or disable one with "
                "BLOCKS_DISABLE_PLUGINS"
            )
        self._entries[name] = Entry(name, obj, plugin, version, dict(metadata))

    def entry(self, name: str) -> Entry:
        """Return the :class:`Entry` registered as ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            pass
        note = self.explain(name) if self.explain is not None else ""
        if note:
            available = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(f"{self.kind} name {name!r} is not available: {note}; available: {available}")
        available = ", ".join(sorted(self._entries)) or "(none: is the plugin that provides it installed?)"
        raise UnknownNameError(f"unknown {self.kind} name {name!r}; available: {available}")

    def get(self, name: str) -> Any:
        """Return the object registered as ``name`` (importing it if lazy)."""
        entry = self.entry(name)
        was_loaded = entry._is_loaded
        obj = entry.load()
        if self.validator is not None and not was_loaded:
            self.validator(entry, obj)
        return obj

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        """Entries sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()!r})"
