"""``blocks new-plugin NAME [-o DIR] [--kind KIND ...]``: render the third-party plugin template.

The template (``templates/blocks-plugin`` in the repository, shipped inside
the wheel as ``blocks/cli/plugin_template``) is a src-layout package with a
``blocks`` entry point, a hook module, the package's one table of exports
(:mod:`fuel.utils.lazy`), a README and tests. Each kind of contribution
(:data:`KINDS`: a command, a step rule, a dataset, an extension, a brick, a
backend) adds its files from ``kinds/<kind>/files`` and its parts of the
common files (``plugin.py.part``: hooks; ``exports.part``: rows of the table;
``README.md.part``, ``layout.part``). Files ending in ``.tmpl`` and the parts
are rendered with :class:`string.Template` (``${dist_name}``, ``${module}``,
``${short}``, ``${camel}``, ...); a path segment ``__module__`` becomes the
import package name.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import string
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

__all__ = ["KINDS", "add_parser", "render_plugin", "run", "template_dir", "template_variables"]

_DIST_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

KINDS: dict[str, tuple[str, ...]] = {
    "command": ("Any",),
    "step-rule": ("Callable",),
    "dataset": ("Callable",),
    "extension": ("Callable",),
    "brick": ("Callable",),
    "backend": ("Callable",),
}
"""The kinds of contribution a rendered plugin can hold, with the ``typing`` names their hooks use."""


def template_dir() -> Path:
    """Directory of the plugin template.

    The wheel ships it as package data (``blocks/cli/plugin_template``); an
    editable install of a source checkout uses ``templates/blocks-plugin``.
    """
    packaged = resources.files("blocks.cli") / "plugin_template"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[5] / "templates" / "blocks-plugin"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"the plugin template is missing: neither {packaged} nor {checkout} exists; reinstall blocks-core"
    )


def template_variables(name: str, description: str | None = None) -> dict[str, str]:
    """Values substituted into the template for the distribution ``name``.

    Parameters
    ----------
    name : str
        Distribution name, lowercase words joined by ``-`` (``"blocks-hello"``).
    description : str, optional
        One-line description for the package metadata.

    Examples
    --------
    >>> v = template_variables("blocks-hello-world")
    >>> v["module"], v["command"], v["short"], v["camel"]
    ('blocks_hello_world', 'hello-world', 'hello_world', 'HelloWorld')
    """
    if not _DIST_NAME.match(name):
        raise ValueError(
            f"plugin name {name!r} is not a valid distribution name: use lowercase letters and digits in words "
            "joined by '-', starting with a letter (e.g. 'blocks-hello')"
        )
    if name in {"blocks", "blocks-core", "fuel"}:
        raise ValueError(f"plugin name {name!r} is taken by blocks-core; choose another, e.g. 'blocks-{name}-extra'")
    if description is not None and (not description.strip() or any(c in description for c in '"\\\n\r')):
        raise ValueError(
            f"description {description!r} must be one non-empty line without double quotes or backslashes "
            "(it goes into pyproject.toml and a docstring)"
        )
    from blocks import __version__

    major, minor = (__version__.split(".") + ["0", "0"])[:2]
    core_version = f"{major}.{minor}" if major.isdigit() and minor.isdigit() else "0.1"
    core_next = f"{major}.{int(minor) + 1}" if major.isdigit() and minor.isdigit() else "0.2"
    command = name.removeprefix("blocks-") or name
    short = command.replace("-", "_")
    if not re.match(r"^[a-z]", short):
        raise ValueError(
            f"plugin name {name!r}: what follows 'blocks-' names its registry entries and must start with a letter "
            "(e.g. 'blocks-lion')"
        )
    return {
        "dist_name": name,
        "module": name.replace("-", "_"),
        "command": command,
        "short": short,
        "camel": "".join(part.capitalize() for part in short.split("_")),
        "description": description or f"{name}: a plugin for Blocks and Fuel on PyTorch.",
        "core_version": core_version,
        "core_next": core_next,
    }


def render_plugin(
    name: str,
    output: str | os.PathLike[str],
    description: str | None = None,
    kinds: Sequence[str] = ("command",),
) -> Path:
    """Render the template for plugin ``name`` into the new directory ``output``.

    The files are rendered into a temporary sibling directory that is renamed
    to ``output`` at the end, so a failure leaves nothing half-written.

    Parameters
    ----------
    name : str
        Distribution name (see :func:`template_variables`).
    output : path
        Directory to create; it must not exist or be empty.
    description : str, optional
        One-line description.
    kinds : sequence of str
        What the plugin contributes, any of :data:`KINDS` (default: a command).

    Returns
    -------
    pathlib.Path
        The created directory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = render_plugin("blocks-lion", pathlib.Path(tmp) / "blocks-lion", kinds=["step-rule", "dataset"])
    ...     sorted(p.name for p in (out / "src" / "blocks_lion").iterdir())
    ['__init__.py', 'datasets.py', 'plugin.py', 'py.typed', 'rules.py']
    """
    variables = template_variables(name, description)
    chosen = _kinds(kinds)
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} already exists and is not an empty directory; choose another with -o DIR")
    source = template_dir()
    variables.update(_parts(source, chosen, variables))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _render_tree(source, staging, variables, skip=source / "kinds")
        for kind in chosen:
            _render_tree(source / "kinds" / kind / "files", staging, variables)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _kinds(kinds: Sequence[str]) -> list[str]:
    """The chosen kinds in :data:`KINDS` order, each once; an unknown one is an error listing them."""
    if isinstance(kinds, str):
        kinds = [kinds]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValueError(f"unknown plugin kind(s) {', '.join(unknown) or '(none given)'}; kinds: {', '.join(KINDS)}")
    return [kind for kind in KINDS if kind in kinds]


def _substitute(text: str, variables: dict[str, str], where: str) -> str:
    try:
        return string.Template(text).substitute(variables)
    except (KeyError, ValueError) as err:
        raise ValueError(f"template file {where}: bad placeholder {err}") from err


def _parts(source: Path, kinds: Sequence[str], variables: dict[str, str]) -> dict[str, str]:
    """The variables the chosen kinds contribute to the common files (hooks, table rows, README sections)."""

    def joined(part: str) -> str:
        texts = []
        for kind in kinds:
            path = source / "kinds" / kind / part
            texts.append(_substitute(path.read_text(encoding="utf-8"), variables, f"kinds/{kind}/{part}"))
        return "".join(texts)

    hooks = joined("plugin.py.part")
    names = sorted(re.findall(r"^def (\w+)\(", hooks, re.M))
    typing_names = sorted({n for kind in kinds for n in KINDS[kind]})
    return {
        "hooks": hooks,
        "hook_names": "".join(f'    "{n}",\n' for n in names),
        "typing_import": f"from typing import {', '.join(typing_names)}\n",
        "export_rows": joined("exports.part"),
        "readme_sections": joined("README.md.part"),
        "layout_lines": joined("layout.part"),
    }


def _render_tree(root: Path, staging: Path, variables: dict[str, str], skip: Path | None = None) -> None:
    """Copy ``root``'s files into ``staging``, rendering ``.tmpl`` files and renaming ``__module__``."""
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or (skip is not None and skip in path.parents):
            continue
        relative = path.relative_to(root)
        parts = [variables["module"] if part == "__module__" else part for part in relative.parts]
        destination = staging.joinpath(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.suffix == ".tmpl":
            text = _substitute(path.read_text(encoding="utf-8"), variables, str(relative))
            destination.with_suffix("").write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, destination)


def add_parser(subparsers: Any) -> None:
    """Add ``new-plugin`` to the ``blocks`` subcommands."""
    parser = subparsers.add_parser(
        "new-plugin",
        help="create a new plugin package from the template",
        description=(
            "Create a plugin package (src layout, `blocks` entry point, hook module, README, tests) that "
            "`pip install -e DIR` makes visible to `blocks plugins`: a command, a step rule, a dataset "
            "(downloader and converter), a training extension, a brick or a backend, or several of them."
        ),
    )
    parser.add_argument("name", help="distribution name, e.g. blocks-hello")
    parser.add_argument("-o", "--output", metavar="DIR", help="directory to create (default: ./NAME)")
    parser.add_argument("--description", help="one-line description for the package metadata")
    parser.add_argument("--kind", action="append", choices=list(KINDS), dest="kinds", metavar="KIND",
                        help=f"what the plugin contributes, repeatable: {', '.join(KINDS)} (default: command)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the template and print what to do next."""
    kinds = args.kinds or ["command"]
    target = render_plugin(args.name, args.output or args.name, args.description, kinds)
    print(f"created {target} ({', '.join(kinds)})")
    print(f"next: pip install -e {target} && blocks plugins")
    return 0
