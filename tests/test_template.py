"""Round trip of the third-party plugin template.

``blocks-core`` is built as a wheel and installed (not editable) into a fresh
virtual environment that sees neither the system site-packages nor the
development installs; the ``blocks new-plugin`` of that environment renders the
template the wheel carries; the rendered package is built and installed there
too, and ``blocks plugins --json`` must list exactly ``blocks-core`` and it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_rendered_plugin_installs_into_fresh_venv_and_is_listed(tmp_path):
    wheels = tmp_path / "wheels"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT / "packages" / "core")
    # blocks-core's other dependencies (torch, h5py, ...) are not needed to list plugins: only pluggy is
    _run(*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "-d", wheels, "pluggy>=1.5,<2")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False, system_site_packages=False)
    python, blocks = env_dir / "bin" / "python", env_dir / "bin" / "blocks"
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", *sorted(wheels.glob("*.whl")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLOCKS_", "VIRTUAL_ENV"))}
    env["BLOCKS_STRICT_PLUGINS"] = "1"

    # the installed wheel renders the template it carries as package data
    plugin_dir = tmp_path / "blocks-hello"
    assert f"created {plugin_dir}" in _run(blocks, "new-plugin", "blocks-hello", "-o", plugin_dir, env=env)
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "plugin", plugin_dir)
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", *(tmp_path / "plugin").glob("*.whl"))

    rows = json.loads(_run(blocks, "plugins", "--all", "--json", env=env))
    assert [row["name"] for row in rows] == ["blocks-core", "blocks-hello"]
    hello = rows[1]
    assert hello["status"] == "loaded"
    assert hello["entry_point"] == "blocks-hello = blocks_hello.plugin"
    assert hello["hooks"] == ["register_commands"]
    assert _run(blocks, "hello", "--name", "venv", env=env).strip() == "Hello, venv! (from blocks-hello)"
    # the environment is really isolated from the development installs and from torch
    probe = "import importlib.util as u; print([m for m in ('torch', 'blocks_rnn') if u.find_spec(m)])"
    assert _run(python, "-c", probe, env=env).strip() == "[]"
