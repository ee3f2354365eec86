"""What ``fuel-download`` and ``fuel-convert`` share: one subcommand per registered dataset.

Datasets come from the ``datasets`` registry (``register_datasets`` hook) with
lazy ``download=`` / ``convert=`` ``fill_subparser`` references and a
``description``. Listing them (``--help``) imports no dataset module: the
arguments of a dataset are added, by importing its module, only for the
dataset chosen on the command line (a first parse finds it).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from typing import Any, Callable, Sequence

from blocks.cli._logging import command_logging
from blocks.cli._run import run_command

__all__ = ["NO_DATASETS", "DatasetCommand"]

NO_DATASETS = (
    "No datasets are installed. Install the standard ones (MNIST, CIFAR-10/100, SVHN, digits, ...) with\n"
    "    pip install packages/fuel-datasets      (from a checkout of this repository)\n"
    "    pip install fuel-datasets               (from an index)\n"
    "Any plugin that registers datasets through the register_datasets hook adds its own; "
    "`blocks plugins --hook register_datasets` shows what is installed."
)


class DatasetCommand:
    """A Fuel command with one subcommand per dataset that registered a ``kind`` function.

    Parameters
    ----------
    prog : str
        Program name (``fuel-download``).
    kind : str
        Registry metadata key holding the ``fill_subparser`` reference
        (``"download"`` or ``"convert"``).
    description : str
        Shown by ``--help``.
    add_common : callable
        ``add_common(parser, defaults)`` adds the options every dataset shares;
        ``defaults`` is ``False`` for the copy added to a subcommand (its
        options must use ``default=argparse.SUPPRESS``) so they may be given
        before or after the dataset name.

    Examples
    --------
    >>> cmd = DatasetCommand("fuel-download", "download", "Download datasets.", lambda p, d: None)
    >>> cmd.prog
    'fuel-download'
    """

    def __init__(self, prog: str, kind: str, description: str, add_common: Callable[[Any, bool], None]):
        self.prog = prog
        self.kind = kind
        self.description = description
        self.add_common = add_common

    def entries(self) -> list[Any]:
        """Registry entries that provide this command, sorted by name.

        Modules named in Fuel's ``extra_downloaders`` / ``extra_converters``
        options (``FUEL_EXTRA_DOWNLOADERS`` / ``FUEL_EXTRA_CONVERTERS``) add
        their ``all_downloaders`` / ``all_converters`` ``(name,
        fill_subparser)`` pairs, as in Fuel; plugins are the preferred way. A
        name clash with a registered dataset is an error.
        """
        from blocks.plugins import get_registry

        entries = {e.name: e for e in get_registry("datasets").entries() if e.metadata.get(self.kind)}
        option = _EXTRA_OPTIONS[self.kind][0]
        for entry in _extra_modules(self.kind):
            if entry.name in entries:
                other = entries[entry.name]
                raise ValueError(
                    f"dataset {entry.name!r} is provided twice: by {other.plugin} {other.version} and by "
                    f"{entry.plugin} ({option}); remove it from {option}"
                )
            entries[entry.name] = entry
        return [entries[name] for name in sorted(entries)]

    def build_parser(self, chosen: str | None = None) -> argparse.ArgumentParser:
        """The parser; only ``chosen``'s module is imported to add its arguments."""
        entries = self.entries()
        epilog = None if entries else NO_DATASETS
        if entries:
            epilog = f"Run `{self.prog} DATASET --help` for the options of one dataset."
        parser = argparse.ArgumentParser(
            prog=self.prog, description=self.description, epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
        self.add_common(parser, True)
        subparsers = parser.add_subparsers(dest="dataset", metavar="DATASET",
                                           title="datasets" if entries else "datasets (none installed)")
        for entry in entries:
            text = entry.metadata.get("description") or ""
            sub = subparsers.add_parser(
                entry.name, help=text, description=text, add_help=entry.name == chosen,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            self.add_common(sub, False)
            if entry.name == chosen:
                sub.set_defaults(func=self._fill(entry, sub))
        return parser

    def _fill(self, entry: Any, sub: argparse.ArgumentParser) -> Callable[..., Any]:
        """Let the dataset's ``fill_subparser`` add its options; return its function, checked before each call."""
        own = {action.dest for action in sub._actions}
        fill_subparser = entry.load_metadata(self.kind)
        where = f"plugin {entry.plugin} {entry.version}".rstrip()
        try:
            func = fill_subparser(sub)
        except (argparse.ArgumentError, TypeError, ValueError) as err:
            raise ValueError(
                f"{where}: the {self.kind} fill_subparser of dataset {entry.name!r} ({_reference(fill_subparser)}) "
                f"failed: {err}. {self._contract()}"
            ) from err
        if not callable(func):
            raise ValueError(
                f"{where}: {self.kind} fill_subparser of {entry.name!r} returned {func!r}; it must return the "
                "function to call"
            )
        added = sorted(action.dest for action in sub._actions if action.dest not in own)
        return _checked_call(func, f"{where}: the {self.kind} function of dataset {entry.name!r}", added,
                             self._contract())

    def _contract(self) -> str:
        """What the dataset's functions get from this command (for error messages)."""
        from fuel.downloaders.commands import CONVERT_KEYWORDS, DOWNLOAD_KEYWORDS

        keywords = DOWNLOAD_KEYWORDS if self.kind == "download" else CONVERT_KEYWORDS
        return (
            f"{self.prog}'s own options set the keyword arguments {', '.join(keywords)} of the dataset's function; "
            "a fill_subparser adds only options of its own (under other names) and returns a function that accepts "
            "those keyword arguments and the dest of each option it added (or **kwargs); see "
            "fuel.downloaders.commands"
        )

    def _named_dataset(self, argv: Sequence[str]) -> str | None:
        """The dataset named on the command line, found without validating it (``None`` if none)."""
        probe = argparse.ArgumentParser(add_help=False, exit_on_error=False)
        probe.add_argument("-v", "--verbose", action="store_true")
        self.add_common(probe, True)
        probe.add_argument("dataset", nargs="?")
        try:
            known, _ = probe.parse_known_args([a for a in argv if a not in ("-h", "--help")])
        except (argparse.ArgumentError, SystemExit):
            return None  # the full parser reports the problem
        return known.dataset

    def check_dataset(self, argv: Sequence[str]) -> None:
        """Explain an unknown dataset name: which are installed, and that datasets come from plugins.

        Raises
        ------
        ValueError
            When ``argv`` names a dataset that no installed plugin provides.
        """
        name = self._named_dataset(argv)
        known = [entry.name for entry in self.entries()]
        if name is None or name in known:
            return
        if not known:
            raise ValueError(f"unknown dataset {name!r}: datasets come from plugins, and none is installed.\n"
                             f"{NO_DATASETS}")
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown dataset {name!r}{hint}; installed: {', '.join(known)}. Datasets come from plugins: "
            "`pip install fuel-datasets` adds the standard ones, and "
            "`blocks plugins --hook register_datasets` shows which plugin provides which"
        )

    def parse(self, argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
        """Parse in two steps: find the dataset, then parse with its arguments."""
        self.check_dataset(argv)
        first, _ = self.build_parser().parse_known_args(argv)
        parser = self.build_parser(first.dataset)
        return parser, parser.parse_args(argv)

    def run(self, argv: Sequence[str] | None, call: Callable[[argparse.Namespace], int]) -> int:
        """Parse ``argv`` and run ``call(args)``; failures end as :mod:`blocks.cli._run` says (status 2)."""
        argv = list(sys.argv[1:] if argv is None else argv)
        with command_logging(logging.INFO):
            return self._run(argv, call)

    def _run(self, argv: list[str], call: Callable[[argparse.Namespace], int]) -> int:
        parsed: list[tuple[argparse.ArgumentParser, argparse.Namespace]] = []

        def parse() -> int:
            parsed.append(self.parse(argv))
            return 0

        status = run_command(self.prog, parse)
        if not parsed:
            return status
        parser, args = parsed[0]
        if args.verbose:
            logging.getLogger().setLevel(logging.DEBUG)
        if getattr(args, "dataset", None) is None:
            return run_command(self.prog, lambda: self._usage(parser))
        return run_command(f"{self.prog} {args.dataset}", lambda: call(args))

    def _usage(self, parser: argparse.ArgumentParser) -> int:
        parser.print_help(sys.stderr)
        return 1 if not self.entries() else 2


_EXTRA_OPTIONS = {
    "download": ("extra_downloaders", "all_downloaders"),
    "convert": ("extra_converters", "all_converters"),
}


def _extra_modules(kind: str) -> list[Any]:
    """Entries from the modules of Fuel's ``extra_downloaders`` / ``extra_converters`` options."""
    import importlib

    from blocks.registry import Entry
    from fuel import config

    option, attribute = _EXTRA_OPTIONS[kind]
    out = []
    for module_name in config.get(option):
        try:
            module = importlib.import_module(module_name)
            pairs = list(getattr(module, attribute))
        except (ImportError, AttributeError) as err:
            raise ValueError(
                f"{option} module {module_name!r} cannot be used: {err!r}; it must be importable and define "
                f"{attribute}, a sequence of (name, fill_subparser) pairs"
            ) from err
        for name, fill_subparser in pairs:
            out.append(Entry(name, fill_subparser, module_name, "", {kind: fill_subparser,
                                                                   "description": f"(from {module_name})"}))
    return out


def _reference(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}:{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _checked_call(func: Callable[..., Any], what: str, added: Sequence[str], contract: str) -> Callable[..., Any]:
    """``func``, refusing before it runs keyword arguments its signature cannot take (a message naming ``what``)."""
    import functools
    import inspect

    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin or C function: nothing to check
        return func

    @functools.wraps(func)
    def call(**kwargs: Any) -> Any:
        try:
            signature.bind(**kwargs)
        except TypeError as err:
            own = f" (its own options: {', '.join(added)})" if added else ""
            raise ValueError(
                f"{what} ({_reference(func)}) cannot take the keyword arguments it is called with ({err}): "
                f"{', '.join(sorted(kwargs))}{own}. {contract}"
            ) from err
        return func(**kwargs)

    return call


def function_kwargs(args: argparse.Namespace, drop: Sequence[str] = ()) -> dict[str, Any]:
    """The parsed arguments as keyword arguments of the dataset's function."""
    kwargs = dict(vars(args))
    for key in ("func", "dataset", "verbose", *drop):
        kwargs.pop(key, None)
    return kwargs
