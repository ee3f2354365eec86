"""Round trip of third-party plugins: every template kind and the documentation's example, installed for real.

One fresh virtual environment (no system site-packages, no development
installs) gets the six packages as wheels, not editable; torch and the other
third-party libraries are shared through the ``.pth`` file of
``scripts/link_shared_site.py``, never reinstalled. There, ``blocks
new-plugin`` (the installed wheel's template) renders one plugin per kind;
they and the ``blocks-toy`` plugin that ``docs/writing_plugins.md`` shows file
by file are built and installed next to the six packages. Then:

* ``blocks plugins --json`` lists all of them, loaded, under
  ``BLOCKS_STRICT_PLUGINS=1``;
* the rendered plugins' own tests pass against the installed packages;
* each rendered plugin is used by its registry name through installed
  discovery (a step rule by ``GradientDescent``, a dataset by
  ``fuel-download``/``fuel-convert``, an extension in a main loop, a brick, a
  backend by device name, a command), and so is every block of the
  documentation marked ``<!-- installed: blocks-toy -->``;
* uninstalled, they are gone: only the six packages are listed and their
  names are unknown again.

The six wheels come from ``BLOCKS_WHEELS`` when it names a directory holding
them (the integration environment builds them once), else they are built here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "bricks-rnn", "fuel-datasets", "step-rules", "extensions", "gpu-cuda")
DISTRIBUTIONS = ["blocks-bricks-rnn", "blocks-core", "blocks-extensions", "blocks-gpu-cuda", "blocks-step-rules",
                 "fuel-datasets"]
KINDS = ("step-rule", "dataset", "extension", "brick", "backend", "command")
DOCS_PAGE = ROOT / "docs" / "writing_plugins.md"
BLOCK = re.compile(r"<!-- (?P<tag>file|installed): (?P<what>\S+) -->\s*\n```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)

USE = r'''
import hashlib, json, os, subprocess, sys
import numpy, torch
import fuel
from blocks.algorithms import GradientDescent
from blocks.backends import get_backend
from blocks.extensions import FinishAfter
from blocks.graph import matrix
from blocks.initialization import Constant
from blocks.main_loop import MainLoop
from blocks.plugins import resolve
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream

w = torch.nn.Parameter(torch.ones(2))
cost = (matrix("x") @ w).sum()
cost.name = "cost"
algorithm = GradientDescent(cost, parameters=[w], step_rule="rt_step_rule", learning_rate=0.5)
algorithm.initialize()
algorithm.process_batch({"x": numpy.ones((1, 2), dtype="float32")})
assert type(algorithm.step_rule).__name__ == "RtStepRuleRule" and w.tolist() == [0.5, 0.5], w

brick = resolve("bricks", "rt_brick")(dim=2, weights_init=Constant(2.0), biases_init=Constant(1.0))
assert brick.apply(torch.ones(1, 2)).tolist() == [[3.0, 3.0]]

backend = get_backend("rt_backend")
assert type(backend).__name__ == "RtBackendBackend" and backend.float_dtype == torch.float64

v = torch.nn.Parameter(torch.zeros(2))
cost = ((matrix("x") @ v - 1.0) ** 2).mean()
cost.name = "cost"
algorithm = GradientDescent(cost, parameters=[v], learning_rate=0.2)
algorithm.add_monitored([cost])
stream = DataStream(IndexableDataset({"x": numpy.linspace(-1, 1, 16, dtype="float32").reshape(8, 2)}),
                    iteration_scheme=SequentialScheme(8, 4))
loop = MainLoop(algorithm, stream, extensions=[resolve("extensions", "rt_extension")("cost", threshold=0.6),
                                               FinishAfter(after_n_epochs=200)])
loop.run()
assert loop.status["epochs_done"] < 200 and loop.log.current_row["cost"] < 0.6

csv = b"5.1,3.5,1.4,0.2,a\n7.0,3.2,4.7,1.4,b\n6.3,3.3,6.0,2.5,c\n"
os.makedirs("mirror", exist_ok=True)
with open("mirror/iris.data", "wb") as handle:
    handle.write(csv)
bin_dir = os.path.dirname(sys.executable)
for command in (["fuel-download", "rt_dataset", "-d", "raw", "--mirror", "mirror", "--no-verify", "--no-progress"],
                ["fuel-convert", "rt_dataset", "-d", "raw", "-o", "."]):
    result = subprocess.run([os.path.join(bin_dir, command[0]), *command[1:]], capture_output=True, text=True)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
fuel.config.data_path = "."
dataset = resolve("datasets", "rt_dataset")()
assert dataset.num_examples == 3
print("used every kind by name")
'''


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None, cwd: Path | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    if check:
        assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def _shared_site() -> Path:
    """The site-packages that holds torch (the shared test environment's)."""
    import torch

    return Path(torch.__file__).resolve().parents[1]


def _six_wheels(tmp_path: Path, pip: tuple[str, ...]) -> list[Path]:
    given = os.environ.get("BLOCKS_WHEELS")
    if given and len(list(Path(given).glob("*.whl"))) >= len(PACKAGES):
        return sorted(Path(given).glob("*.whl"))
    wheels = tmp_path / "wheels"
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels,
         *(ROOT / "packages" / name for name in PACKAGES))
    return sorted(wheels.glob("*.whl"))


def _docs_plugin(target: Path) -> tuple[Path, list[tuple[str, str]]]:
    """Write the files of blocks-toy from the documentation; return its directory and the blocks that use it."""
    text = DOCS_PAGE.read_text()
    uses = []
    for match in BLOCK.finditer(text):
        if match["tag"] == "file":
            path = target / match["what"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(match["code"])
        else:
            assert match["what"] == "blocks-toy", match["what"]
            uses.append((match["lang"], match["code"]))
    assert uses and (target / "blocks-toy" / "pyproject.toml").is_file()
    return target / "blocks-toy", uses


def _listed(blocks: Path, env: dict[str, str]) -> dict[str, dict]:
    rows = json.loads(_run(blocks, "plugins", "--all", "--json", env=env).stdout)
    return {row["name"]: row for row in rows}


@pytest.mark.slow
def test_every_template_kind_and_the_docs_plugin_install_run_and_uninstall(tmp_path):
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False, system_site_packages=False)
    python, blocks = env_dir / "bin" / "python", env_dir / "bin" / "blocks"
    _run(python, ROOT / "scripts" / "link_shared_site.py", _shared_site())  # torch shared, not reinstalled
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", *_six_wheels(tmp_path, pip))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLOCKS_", "VIRTUAL_ENV", "FUEL_"))}
    env.update(BLOCKS_STRICT_PLUGINS="1", BLOCKS_DEVICE="cpu", HOME=str(tmp_path), MPLBACKEND="Agg")
    probe = "import blocks, sys; print(blocks.__file__)"
    assert str(env_dir) in _run(python, "-c", probe, env=env).stdout  # the wheel, not the checkout

    # render one plugin per kind with the installed wheel's template, and write the documentation's plugin
    rendered = tmp_path / "rendered"
    render = ("from blocks.cli.new_plugin import render_plugin\n"
              + "".join(f"render_plugin('blocks-rt-{kind}', {str(rendered / kind)!r}, kinds=[{kind!r}])\n"
                        for kind in KINDS))
    _run(python, "-c", render, env=env)
    toy, uses = _docs_plugin(tmp_path / "docs")
    plugin_wheels = tmp_path / "plugin-wheels"
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", plugin_wheels,
         *(rendered / kind for kind in KINDS), toy)
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", *sorted(plugin_wheels.glob("*.whl")))

    ours = [f"blocks-rt-{kind}" for kind in KINDS]
    listed = _listed(blocks, env)
    assert sorted(listed) == sorted([*DISTRIBUTIONS, *ours, "blocks-toy"])
    assert all(row["status"] == "loaded" for row in listed.values()), listed
    assert "register_step_rules" in listed["blocks-rt-step-rule"]["hooks"]

    # the rendered plugins' own tests, against the installed packages
    tests = [rendered / kind / "tests" for kind in KINDS]
    result = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *tests,
                  env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    # each rendered plugin by its registry name, found by installed discovery
    work = tmp_path / "work"
    work.mkdir()
    assert "used every kind by name" in _run(python, "-c", USE, env=env, cwd=work).stdout
    out = _run(blocks, "rt-command", "--name", "venv", env=env).stdout
    assert out.strip() == "Hello, venv! (from blocks-rt-command)"

    # every block of the documentation that uses blocks-toy, in order, in one working directory
    docs_work = tmp_path / "docs-work"
    docs_work.mkdir()
    path_env = {**env, "PATH": f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    for number, (lang, code) in enumerate(uses, 1):
        command = (python, "-c", code) if lang == "python" else ("bash", "-euo", "pipefail", "-c", code)
        result = _run(*command, env=path_env, cwd=docs_work, check=False)
        assert result.returncode == 0, f"docs block {number} ({lang}):\n{code}\n{result.stdout}\n{result.stderr}"

    # uninstalled, they are gone
    _run(*pip, "--python", python, "uninstall", "-q", "-y", *ours, "blocks-toy")
    assert sorted(_listed(blocks, env)) == DISTRIBUTIONS
    gone = _run(python, "-c", "from blocks.plugins import resolve; resolve('step_rules', 'rt_step_rule')",
                env=env, check=False)
    assert gone.returncode != 0 and "unknown step_rules name 'rt_step_rule'" in gone.stderr
    assert _run(blocks, "rt-command", env=env, check=False).returncode == 2
