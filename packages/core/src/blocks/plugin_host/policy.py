"""Which plugins the host loads: the ``BLOCKS_*`` environment switches.

Examples
--------
>>> policy = LoadingPolicy({"BLOCKS_DISABLE_PLUGINS": "Blocks_Extensions"})
>>> policy.selection("blocks-extensions"), policy.selection("blocks-step-rules")
('disabled', 'loaded')
>>> LoadingPolicy({"BLOCKS_LOAD_PLUGINS": ""}).selection("blocks-step-rules")
'skipped'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

__all__ = ["LoadingPolicy", "canonical", "flag"]

_TRUE = {"1", "true", "yes", "on"}


def flag(env: Mapping[str, str], name: str) -> bool:
    """Whether the switch ``name`` is on (``1``, ``true``, ``yes``, ``on``) in ``env``.

    Examples
    --------
    >>> flag({"BLOCKS_STRICT_PLUGINS": "Yes"}, "BLOCKS_STRICT_PLUGINS"), flag({}, "BLOCKS_STRICT_PLUGINS")
    (True, False)
    """
    return env.get(name, "").strip().lower() in _TRUE


def canonical(name: str) -> str:
    """A distribution name normalised as PEP 503 does (case, ``_``/``.`` -> ``-``).

    Examples
    --------
    >>> canonical(" Blocks_Step.Rules ")
    'blocks-step-rules'
    """
    return name.strip().lower().replace("_", "-").replace(".", "-")


class LoadingPolicy:
    """The switches, read from ``env`` (default: ``os.environ`` when asked).

    Parameters
    ----------
    env : mapping, optional
        Where to read ``BLOCKS_STRICT_PLUGINS``, ``BLOCKS_TRACE_PLUGINS``,
        ``BLOCKS_DISABLE_PLUGIN_AUTOLOAD``, ``BLOCKS_LOAD_PLUGINS`` and
        ``BLOCKS_DISABLE_PLUGINS``.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env

    @property
    def env(self) -> Mapping[str, str]:
        """The environment the switches are read from."""
        return os.environ if self._env is None else self._env

    @property
    def strict(self) -> bool:
        """Whether plugin failures and clashes are fatal (``BLOCKS_STRICT_PLUGINS``)."""
        return flag(self.env, "BLOCKS_STRICT_PLUGINS")

    @property
    def trace(self) -> bool:
        """Whether every hook call is logged (``BLOCKS_TRACE_PLUGINS``)."""
        return flag(self.env, "BLOCKS_TRACE_PLUGINS")

    def selection(self, distribution: str) -> str:
        """``"loaded"`` (to load), ``"skipped"`` (not selected) or ``"disabled"`` (deny-listed)."""
        if flag(self.env, "BLOCKS_DISABLE_PLUGIN_AUTOLOAD"):
            return "skipped"
        if canonical(distribution) in self.denied():
            return "disabled"
        wanted = self.wanted()
        return "loaded" if wanted is None or canonical(distribution) in wanted else "skipped"

    def wanted(self) -> set[str] | None:
        """Distributions named by ``BLOCKS_LOAD_PLUGINS`` (``None``: all)."""
        if "BLOCKS_LOAD_PLUGINS" not in self.env:
            return None
        return {canonical(n) for n in self.env["BLOCKS_LOAD_PLUGINS"].split(",") if n.strip()}

    def denied(self) -> set[str]:
        """Distributions named by ``BLOCKS_DISABLE_PLUGINS``."""
        return {canonical(n) for n in self.env.get("BLOCKS_DISABLE_PLUGINS", "").split(",") if n.strip()}

    def warnings(self, known: Iterable[str], core: str) -> list[str]:
        """What to warn about the switches: names no installed plugin has, core named in the deny-list.

        A warning even when strict: naming a plugin that is absent here is how
        a test or a script restricts discovery to what it needs, whatever else
        is installed.

        Examples
        --------
        >>> LoadingPolicy({"BLOCKS_LOAD_PLUGINS": "blocks-rnn,nope"}).warnings(["blocks-core", "blocks-rnn"],
        ...                                                                     "blocks-core")
        ['BLOCKS_LOAD_PLUGINS names nope, which is not an installed plugin; installed plugins: blocks-rnn']
        """
        known = list(known)
        names = {canonical(name) for name in known}
        installed = ", ".join(sorted(n for n in known if n != core)) or "(none)"
        out = []
        for variable, given in (("BLOCKS_LOAD_PLUGINS", self.wanted() or set()),
                                ("BLOCKS_DISABLE_PLUGINS", self.denied())):
            if canonical(core) in given and variable == "BLOCKS_DISABLE_PLUGINS":
                out.append(f"BLOCKS_DISABLE_PLUGINS names {core}: core's built-ins cannot be disabled")
            missing = sorted(given - names - {canonical(core)})
            if missing:
                out.append(f"{variable} names {', '.join(missing)}, which is not an installed plugin; "
                           f"installed plugins: {installed}")
        return out
