"""``blocks new-plugin NAME [-o DIR]``: render the third-party plugin template.

The template (``templates/blocks-plugin`` in the repository, shipped inside
the wheel as ``blocks/cli/plugin_template``) is a src-layout package with a
``blocks`` entry point, a hook module, a README and tests. Files ending in
``.tmpl`` are rendered with :class:`string.Template` (``${dist_name}``,
``${module}``, ...) and lose the suffix; a path segment ``__module__`` becomes
the import package name.
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
from typing import Any

__all__ = ["add_parser", "render_plugin", "run", "template_dir", "template_variables"]

_DIST_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


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
    >>> v = template_variables("blocks-hello")
    >>> v["module"], v["command"]
    ('blocks_hello', 'hello')
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
    return {
        "dist_name": name,
        "module": name.replace("-", "_"),
        "command": command,
        "description": description or f"{name}: a plugin for Blocks and Fuel on PyTorch.",
        "core_version": core_version,
        "core_next": core_next,
    }


def render_plugin(name: str, output: str | os.PathLike[str], description: str | None = None) -> Path:
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

    Returns
    -------
    pathlib.Path
        The created directory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = render_plugin("blocks-hello", pathlib.Path(tmp) / "blocks-hello")
    ...     (out / "src" / "blocks_hello" / "plugin.py").is_file()
    True
    """
    variables = template_variables(name, description)
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} already exists and is not an empty directory; choose another with -o DIR")
    source = template_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for path in sorted(source.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(source)
            parts = [variables["module"] if part == "__module__" else part for part in relative.parts]
            destination = staging.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.suffix == ".tmpl":
                destination = destination.with_suffix("")
                text = path.read_text(encoding="utf-8")
                try:
                    rendered = string.Template(text).substitute(variables)
                except (KeyError, ValueError) as err:
                    raise ValueError(f"template file {relative}: bad placeholder {err}") from err
                destination.write_text(rendered, encoding="utf-8")
            else:
                shutil.copyfile(path, destination)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def add_parser(subparsers: Any) -> None:
    """Add ``new-plugin`` to the ``blocks`` subcommands."""
    parser = subparsers.add_parser(
        "new-plugin",
        help="create a new plugin package from the template",
        description=(
            "Create a plugin package (src layout, `blocks` entry point, hook module, README, tests) that "
            "`pip install -e DIR` makes visible to `blocks plugins`."
        ),
    )
    parser.add_argument("name", help="distribution name, e.g. blocks-hello")
    parser.add_argument("-o", "--output", metavar="DIR", help="directory to create (default: ./NAME)")
    parser.add_argument("--description", help="one-line description for the package metadata")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the template and print what to do next."""
    target = render_plugin(args.name, args.output or args.name, args.description)
    print(f"created {target}")
    print(f"next: pip install -e {target} && blocks plugins")
    return 0
