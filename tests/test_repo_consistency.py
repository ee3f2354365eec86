"""tox.ini, noxfile.py, the scripts, the README and packages/* agree with each other."""

from __future__ import annotations

import ast
import configparser
import os
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
EXPECTED = {
    "core": ("blocks-core", ["blocks", "fuel"]),
    "bricks-rnn": ("blocks-bricks-rnn", ["blocks_rnn"]),
    "fuel-datasets": ("fuel-datasets", ["fuel_datasets"]),
    "step-rules": ("blocks-step-rules", ["blocks_step_rules"]),
    "extensions": ("blocks-extensions", ["blocks_extensions"]),
    "gpu-cuda": ("blocks-gpu-cuda", ["blocks_cuda"]),
}
PLUGINS = [d for d in PACKAGE_DIRS if d != "core"]


def _pyproject(directory: str) -> dict:
    return tomllib.loads((ROOT / "packages" / directory / "pyproject.toml").read_text())


def _tox() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return parser


def _tox_env_list() -> list[str]:
    return [e.strip() for e in _tox()["tox"]["env_list"].split(",")]


def _nox_lists() -> dict[str, list[str]]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = [ast.literal_eval(e) for e in node.value.elts]
    return out


def _nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(d) for d in node.decorator_list)
    }


def test_the_six_packages_exist():
    assert PACKAGE_DIRS == sorted(EXPECTED)


@pytest.mark.parametrize("directory", PACKAGE_DIRS)
def test_skeleton(directory):
    base = ROOT / "packages" / directory
    dist, modules = EXPECTED[directory]
    assert (base / "README.md").is_file()
    for module in modules:
        assert (base / "src" / module / "__init__.py").is_file(), f"{directory}: src/{module}/__init__.py"
        assert (base / "src" / module / "py.typed").is_file(), f"{directory}: src/{module}/py.typed"
    if directory != "core":
        assert (base / "src" / modules[0] / "plugin.py").is_file(), f"{directory}: hook module plugin.py"
    assert list((base / "tests").rglob("test_*.py")), f"{directory}: tests/ has no test module (pytest exit 5)"


@pytest.mark.parametrize("directory", PACKAGE_DIRS)
def test_pyproject_metadata(directory):
    dist, modules = EXPECTED[directory]
    meta = _pyproject(directory)
    project = meta["project"]
    assert project["name"] == dist
    assert project["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    deps = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]: d for d in project["dependencies"]}
    assert deps.get("torch") == "torch>=2.13,<2.14", f"{dist}: torch range must be the tested one"
    wheel = meta["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [f"src/{m}" for m in modules]
    assert meta["tool"]["hatch"]["build"]["dev-mode-dirs"] == ["src"]
    entry_points = project.get("entry-points", {}).get("blocks", {})
    if directory == "core":
        assert entry_points == {}, "core registers its built-ins directly, not through an entry point"
        assert {"blocks", "fuel-download", "fuel-convert", "fuel-info"} <= set(project["scripts"])
        assert project["entry-points"]["pytest11"] == {"blocks": "blocks.testing.pytest_plugin"}
    else:
        assert entry_points == {dist: f"{modules[0]}.plugin"}, "one entry point, named after the distribution"
        assert "blocks-core" in deps and re.search(r">=\s*0\.1", deps["blocks-core"])


@pytest.mark.parametrize("directory", PACKAGE_DIRS)
def test_console_scripts_point_at_existing_functions(directory):
    scripts = _pyproject(directory)["project"].get("scripts", {})
    for script, target in scripts.items():
        module, _, function = target.partition(":")
        path = ROOT / "packages" / directory / "src" / Path(*module.split("."))
        source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        assert source.is_file(), f"{script} = {target!r}: module {module} does not exist"
        assert re.search(rf"^def {function}\(", source.read_text(), re.M), f"{script}: no {function}() in {module}"


def test_installed_torch_is_in_the_declared_range():
    from importlib import metadata

    version = metadata.version("torch").split("+")[0]
    major, minor = (int(x) for x in version.split(".")[:2])
    assert (major, minor) == (2, 13), f"torch {version} is outside >=2.13,<2.14"


def test_tox_has_an_env_per_package_and_links_the_shared_environment():
    tox = _tox()
    env_list = _tox_env_list()
    assert env_list == ["lint", *EXPECTED, "integration", "docs"]
    # the base interpreter's packages stay out; torch comes from the shared test venv through a .pth
    assert tox["testenv"]["system_site_packages"].strip() == "false"
    assert "BLOCKS_SHARED_SITE" in tox["testenv"]["pass_env"]
    for env in env_list:
        first = tox[f"testenv:{env}"]["commands_pre"].strip().splitlines()[0]
        assert first in ("{[link]commands_pre}", "{[package]commands_pre}"), f"{env} does not link the shared site"
    assert tox["link"]["commands_pre"].strip() == "python scripts/link_shared_site.py"
    assert tox["package"]["commands_pre"].strip().splitlines()[0] == "{[link]commands_pre}"
    assert tox["testenv"]["base_python"].strip() == "py311"
    assert "BLOCKS_STRICT_PLUGINS = 1" in tox["testenv"]["set_env"]
    for directory in PACKAGE_DIRS:
        section = tox[f"testenv:{directory}"]
        assert f"pytest packages/{directory}/tests" in section["commands"]
        if directory != "core":
            assert f"-e packages/{directory}" in section["commands_pre"]
    integration = tox["testenv:integration"]
    wheel_line = next(line for line in integration["commands_pre"].splitlines() if " wheel " in line)
    install_line = next(line for line in integration["commands_pre"].splitlines() if " install " in line)
    for directory, (dist, _) in EXPECTED.items():
        assert f"packages/{directory}" in wheel_line.split()
        assert dist in install_line.split()
    assert "-e " not in integration["commands_pre"], "integration installs wheels, not editable packages"


def test_no_uv_and_no_torch_install_in_environments():
    for name in ("tox.ini", "noxfile.py"):
        text = (ROOT / name).read_text()
        assert not re.search(r"tox-uv|\buv (pip|venv|run)|[\"']uv[\"']|runner\s*=\s*uv", text), f"{name} uses uv"
        torch = r"(?<![\w-])torch(?![\w-])"  # the package itself, not e.g. pytorch-ignite
        installs = rf"pip install[^\n]*{torch}|session\.install\([^)]*{torch}|^deps\s*=.*{torch}"
        assert not re.search(installs, text, re.M), (
            f"{name} installs torch into an environment"
        )


def test_nox_has_sessions_for_every_package():
    lists = _nox_lists()
    assert lists["PACKAGES"] == list(EXPECTED)
    assert lists["DISTRIBUTIONS"] == [dist for dist, _ in EXPECTED.values()]
    assert _nox_sessions() == {"tests", "integration", "lint", "template", "quickstart", "docs", "peers", "fuzz",
                               "long_run", "dashboard_browser"}
    text = (ROOT / "noxfile.py").read_text()
    assert "--system-site-packages" not in text and '"virtualenv"' in text
    assert "scripts/link_shared_site.py" in text


def test_scripts_agree_with_tox_and_readme():
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    envs = re.search(r"TOX_ENVS:-([\w,-]+)", test_sh).group(1).split(",")
    assert envs == _tox_env_list()
    venv_sh = (ROOT / "scripts" / "_venv.sh").read_text()
    assert "torch==2.13.0" in venv_sh
    quickstart = (ROOT / "scripts" / "quickstart.sh").read_text()
    for text in (test_sh, quickstart):
        # both commands install into a virtual environment they create, never into $PYTHON itself
        assert ". scripts/_venv.sh" in text and "make_venv" in text and "install_torch" in text
        assert not re.search(r'"\$PYTHON" -m pip', text)
    for directory in PACKAGE_DIRS:
        assert f"-e packages/{directory}" in quickstart
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.*?)```\s*<!-- /test-command -->", readme, re.S)
    assert block and block.group(1).strip() == "bash scripts/test.sh"
    assert "bash scripts/quickstart.sh" in readme
    for script in ("scripts/test.sh", "scripts/quickstart.sh", ".ci/run"):
        text = (ROOT / script).read_text()
        assert "set -euo pipefail" in text, script
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"
    assert "BLOCKS_STRICT_PLUGINS=1" in (ROOT / ".ci" / "run").read_text()


def test_readme_package_map_names_every_package():
    readme = (ROOT / "README.md").read_text()
    for directory, (dist, modules) in EXPECTED.items():
        assert f"`packages/{directory}` | `{dist}` |" in readme
