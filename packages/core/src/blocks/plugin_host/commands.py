"""The ``subparsers`` object a ``register_commands`` hook gets: clashes left out, a failed hook's commands withdrawn."""

from __future__ import annotations

import argparse
from typing import Any, Callable

__all__ = ["Subcommands"]


class Subcommands:
    """argparse's subparsers of ``blocks``, as one plugin sees them.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``blocks`` command's subparsers.
    owner : str
        ``"distribution version"`` of the plugin whose hook gets this object.
    clash : callable
        ``clash(command, kept_by)`` reports a command another plugin (or core)
        already has; the plugin's parser is then built but reachable from
        nowhere, so its hook carries on.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="blocks")
    >>> commands = Subcommands(parser.add_subparsers(), "blocks-demo 1.0", lambda command, kept_by: None)
    >>> _ = commands.add_parser("hello")
    >>> commands.withdraw()  # the hook failed after adding it
    >>> parser.parse_args(["hello"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """

    def __init__(self, subparsers: Any, owner: str, clash: Callable[[str, str], None]) -> None:
        self._subparsers, self._owner, self._clash = subparsers, owner, clash
        self._added: list[str] = []

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """``subparsers.add_parser``; a name that is taken is a clash (a parser that nothing reaches)."""
        taken = getattr(self._subparsers, "_name_parser_map", {})
        for command in (name, *kwargs.get("aliases", ())):
            if command in taken:
                self._clash(command, getattr(taken[command], "blocks_plugin", "another plugin"))
                return argparse.ArgumentParser(prog=f"blocks {name}", add_help=False)  # reachable from nowhere
        parser = self._subparsers.add_parser(name, **kwargs)
        parser.blocks_plugin = self._owner
        self._added.extend([name, *kwargs.get("aliases", ())])
        return parser

    def withdraw(self) -> None:
        """Remove the commands this hook added (it failed part-way)."""
        taken = getattr(self._subparsers, "_name_parser_map", None)
        actions = getattr(self._subparsers, "_choices_actions", None)
        for command in self._added:
            if taken is not None:
                taken.pop(command, None)
            if actions is not None:
                actions[:] = [a for a in actions if getattr(a, "dest", None) != command]
        self._added = []

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._subparsers, attribute)
