"""The cheap path imports neither torch nor h5py (checked with ``python -X importtime``)."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("torch", "h5py")

PROBE = r"""
import contextlib, importlib, importlib.util, io
import blocks, blocks.hookspecs, blocks.plugins, blocks.registry, blocks.config, fuel, fuel.config_parser
blocks.plugins.get_host().plugins()          # discovery of every installed plugin
for name in ("blocks.cli.main", "blocks.cli.fuel_download", "blocks.cli.fuel_convert", "blocks.cli.fuel_info",
             "blocks.cli.fuel_server"):
    if importlib.util.find_spec(name) is None:
        continue
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            importlib.import_module(name).main(["--help"])
    except SystemExit as exit:
        assert exit.code in (0, None), f"{name} --help exited with {exit.code}"
    print("checked", name)

import argparse
from blocks.cli.main import build_parser, main as blocks_main

def subcommands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*prefix, name)
                yield from subcommands(subparser, (*prefix, name))

for argv in subcommands(build_parser()):    # every subcommand's --help, core's and the plugins'
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            blocks_main([*argv, "--help"])
    except SystemExit as exit:
        assert exit.code in (0, None), f"blocks {' '.join(argv)} --help exited with {exit.code}"
    print("checked blocks", " ".join(argv))
"""


def _imported_modules(importtime_stderr: str) -> list[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def test_cheap_path_imports_neither_torch_nor_h5py():
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKS_")}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checked blocks.cli.main" in result.stdout
    for command in ("continue", "checkpoint", "checkpoint info", "plugins", "new-plugin", "info", "log"):
        assert f"checked blocks {command}\n" in result.stdout, result.stdout
    modules = _imported_modules(result.stderr)
    assert "blocks.plugins" in modules and "fuel.config_parser" in modules  # the probe really measured
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    if heavy:
        chain = _chain(result.stderr, heavy[0])
        raise AssertionError(f"the cheap path imported {sorted(set(heavy))[:10]}; import chain:\n{chain}")


def _chain(importtime_stderr: str, module: str) -> str:
    """The lines from ``module`` up to the top-level import that pulled it in.

    ``-X importtime`` prints a module after its own imports, indented two
    spaces per level, so the parents follow with less indentation.
    """
    lines = [line.rsplit("|", 1)[-1] for line in importtime_stderr.splitlines() if line.count("|") == 2]
    start = next(i for i, name in enumerate(lines) if name.strip() == module)
    chain, depth = [], len(lines[start]) - len(lines[start].lstrip())
    for name in lines[start:]:
        indent = len(name) - len(name.lstrip())
        if indent <= depth:
            chain.append(name.rstrip())
            depth = indent - 1
        if indent <= 1:
            break
    return "\n".join(chain)
