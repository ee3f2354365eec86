"""One table of a package's public names: lazy attributes, ``__dir__``, ``__all__`` and plugin registration.

A plugin's package must stay cheap to import (the plugin host imports its hook
module whenever a program asks for a registry, and ``blocks --help`` does), so
its public classes are imported only when first used. Which names it exports,
from which module, and under which registry name each is registered is written
once, in an :class:`Exports` table in the package's ``__init__.py``; the table
gives the module its ``__getattr__``, ``__dir__`` and ``__all__``, and the hook
module registers from it::

    # my_plugin/__init__.py
    from fuel.utils.lazy import Exports

    EXPORTS = Exports(__name__, [
        # attribute   module     registry kind   registry name
        ("Lion",      ".rules",  "step_rules",   "lion"),
        ("lion_lr",   ".rules"),                  # exported, not registered
    ], eager=["__version__"])
    __getattr__, __dir__, __all__ = EXPORTS.module_attributes()

    # my_plugin/plugin.py
    from blocks import hookimpl
    from my_plugin import EXPORTS

    @hookimpl
    def register_step_rules(register):
        EXPORTS.register("step_rules", register)

Registration passes lazy ``"module:attribute"`` references, so registering
imports nothing either. This module imports nothing beyond the standard
library (fuel never imports blocks).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Export", "Exports"]


def _absolute(module: str, package: str) -> str:
    """``".rules"`` relative to ``package``, or an absolute module name as is."""
    if not module.startswith("."):
        return module
    return importlib.util.resolve_name(module, package)


@dataclass(frozen=True)
class Export:
    """One row of an :class:`Exports` table.

    Attributes
    ----------
    attribute : str
        The public name in the package (``"Lion"``).
    module : str
        The absolute name of the module that defines it.
    kind : str or None
        The registry it is registered in (``"step_rules"``), or ``None``.
    name : str or None
        Its registry name (``"lion"``).
    metadata : mapping
        Extra keyword arguments of ``register`` (a dataset's ``download``,
        ``convert`` and ``description``).

    Examples
    --------
    >>> Export("Fraction", "fractions", "numbers", "fraction").reference
    'fractions:Fraction'
    """

    attribute: str
    module: str
    kind: str | None = None
    name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        """The lazy ``"module:attribute"`` reference registries accept."""
        return f"{self.module}:{self.attribute}"


class Exports:
    """The public names of a package, each imported from its module on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    rows : iterable
        :class:`Export` objects or tuples ``(attribute, module[, kind,
        name[, metadata]])``; ``module`` may be relative (``".rules"``), and so
        may the ``"module:attribute"`` strings of ``metadata``
        (``".mnist:fill_download_subparser"``).
    eager : iterable of str
        Names the package defines itself (``"__version__"``), listed in
        ``__all__`` and ``__dir__`` too.
    fallback : callable, optional
        ``fallback(name)`` for names that are not in the table (for example,
        old names looked up in a registry); it raises ``AttributeError`` for
        names it does not know either.

    Examples
    --------
    >>> exports = Exports("demo", [("Fraction", "fractions", "numbers", "fraction"), ("sqrt", "math")])
    >>> exports.all
    ['Fraction', 'sqrt']
    >>> exports.attribute("sqrt")(9.0)
    3.0
    >>> registered = []
    >>> exports.register("numbers", lambda name, obj, **meta: registered.append((name, obj)))
    >>> registered
    [('fraction', 'fractions:Fraction')]
    >>> exports.attribute("Decimal")
    Traceback (most recent call last):
    ...
    AttributeError: module 'demo' has no attribute 'Decimal'
    """

    def __init__(
        self,
        package: str,
        rows: Iterable[Export | tuple],
        eager: Iterable[str] = (),
        fallback: Callable[[str], Any] | None = None,
    ) -> None:
        self.package = package
        self.eager = tuple(eager)
        self.fallback = fallback
        self.rows: dict[str, Export] = {}
        for row in rows:
            export = row if isinstance(row, Export) else self._row(tuple(row))
            if export.attribute in self.rows:
                raise ValueError(f"{package}: {export.attribute!r} is listed twice in its exports")
            self.rows[export.attribute] = export
        registered: dict[tuple[str, str], str] = {}
        for export in self.rows.values():
            if (export.kind is None) != (export.name is None):
                raise ValueError(f"{package}: {export.attribute!r} needs both a registry kind and a name, or neither")
            if export.kind is not None:
                other = registered.setdefault((export.kind, export.name), export.attribute)
                if other != export.attribute:
                    raise ValueError(f"{package}: {export.kind} name {export.name!r} is given to both {other!r} "
                                     f"and {export.attribute!r}")

    def _row(self, row: tuple) -> Export:
        if len(row) not in (2, 4, 5):
            raise ValueError(
                f"{self.package}: an export is (attribute, module[, kind, name[, metadata]]), got {row!r}"
            )
        attribute, module, *rest = row
        kind, name, metadata = [*rest, None, None, None][:3]
        metadata = {key: self._reference(value) for key, value in (metadata or {}).items()}
        return Export(attribute, _absolute(module, self.package), kind, name, metadata)

    def _reference(self, value: Any) -> Any:
        """A relative ``".module:attribute"`` metadata value made absolute; anything else as is."""
        if isinstance(value, str) and value.startswith(".") and ":" in value:
            module, _, attribute = value.partition(":")
            return f"{_absolute(module, self.package)}:{attribute}"
        return value

    # -- the module's side ---------------------------------------------------
    @property
    def all(self) -> list[str]:
        """``__all__``: the eager names and every exported attribute, sorted."""
        return sorted({*self.eager, *self.rows})

    def attribute(self, name: str) -> Any:
        """The exported object ``name``, imported now and cached in the package (its ``__getattr__``)."""
        export = self.rows.get(name)
        if export is None:
            if self.fallback is not None:
                return self.fallback(name)
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(export.module), export.attribute)
        package = sys.modules.get(self.package)
        if package is not None:
            setattr(package, name, value)  # the next access does not come here
        return value

    def dir(self) -> list[str]:
        """``__dir__``: the package's own globals and every exported name."""
        package = sys.modules.get(self.package)
        return sorted(set(vars(package) if package is not None else ()) | set(self.rows))

    def module_attributes(self) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
        """``(__getattr__, __dir__, __all__)`` for the package's ``__init__``."""
        return self.attribute, self.dir, self.all

    # -- the plugin's side ---------------------------------------------------
    def registered(self, kind: str) -> list[Export]:
        """The rows registered in registry ``kind``, in table order."""
        return [export for export in self.rows.values() if export.kind == kind]

    def register(self, kind: str, register: Callable[..., Any]) -> None:
        """Call a registrar hook's ``register(name, "module:attribute", **metadata)`` for each row of ``kind``."""
        for export in self.registered(kind):
            register(export.name, export.reference, **export.metadata)

    def kinds(self) -> list[str]:
        """The registry kinds this table registers in."""
        return sorted({export.kind for export in self.rows.values() if export.kind is not None})
