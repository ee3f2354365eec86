"""The README's set-up: a virtual environment is created, the interpreter is never installed into.

``scripts/_venv.sh`` (sourced by both README commands) and ``scripts/link_shared_site.py``
(run first in every tox and nox environment).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_python(tmp_path: Path, venv_behaviour: str) -> Path:
    """A python3 that delegates to this interpreter except for ``-m venv``."""
    script = tmp_path / "python3"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/usr/bin/env bash
            if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
                mkdir -p "$3/bin"  # a half-created directory, as the real failure leaves
                {venv_behaviour}
            fi
            exec {sys.executable} "$@"
            """
        )
    )
    script.chmod(0o755)
    return script


def _make_venv(python: Path, target: Path) -> subprocess.CompletedProcess:
    command = f". scripts/_venv.sh && make_venv {target}"
    env = {**os.environ, "PYTHON": str(python)}
    return subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True)


def test_missing_venv_module_names_the_debian_package(tmp_path):
    message = "The virtual environment was not created successfully because ensurepip is not available."
    python = _fake_python(tmp_path, f'echo "{message}"; exit 1')
    target = tmp_path / "env"
    result = _make_venv(python, target)
    assert result.returncode == 1
    assert "sudo apt install python3.11-venv" in result.stderr
    assert not target.exists(), "the half-created environment is removed"


def test_other_venv_failures_are_shown(tmp_path):
    python = _fake_python(tmp_path, 'echo "disk full" >&2; exit 1')
    result = _make_venv(python, tmp_path / "env")
    assert result.returncode == 1
    assert "disk full" in result.stderr and "python3.11-venv" not in result.stderr


def test_wrong_python_version_is_refused(tmp_path):
    script = tmp_path / "python3"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'case "$2" in *version_info*) exit 1;; *python_version*) echo 3.9.2; exit 0;; esac\n'
        "exit 99\n"
    )
    script.chmod(0o755)
    result = _make_venv(script, tmp_path / "env")
    assert result.returncode == 1
    assert "Python 3.9.2" in result.stderr and "need 3.11" in result.stderr


def test_a_working_environment_is_reused_and_a_broken_one_recreated(tmp_path):
    python = _fake_python(tmp_path, 'echo "venv was called" >&2; exit 42')
    working = tmp_path / "working"
    venv.create(working, with_pip=True)
    result = _make_venv(python, working)
    assert result.returncode == 0 and "creating" not in result.stdout
    broken = tmp_path / "broken"
    venv.create(broken, with_pip=False)  # no pip: the scripts could not install into it
    result = _make_venv(python, broken)
    assert result.returncode == 1 and "venv was called" in result.stderr


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs to run inside a virtual environment")
def test_link_makes_the_shared_site_visible_after_the_environments_own(tmp_path):
    import torch

    shared = Path(torch.__file__).resolve().parents[1]
    target = tmp_path / "env"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BLOCKS_SHARED_SITE")}
    subprocess.run([str(python), str(ROOT / "scripts" / "link_shared_site.py"), str(shared)], check=True, env=env)
    probe = (
        "import sys, torch, sysconfig; print(torch.__version__); "
        "print(sys.path.index(sysconfig.get_paths()['purelib']) < sys.path.index(sys.argv[1]))"
    )
    out = subprocess.run([str(python), "-c", probe, str(shared)], env=env, capture_output=True, text=True, check=True)
    version, own_first = out.stdout.split()
    assert version.startswith("2.13") and own_first == "True"


def test_link_refuses_the_base_interpreter_and_a_directory_without_torch(tmp_path):
    base = Path(sys.base_prefix) / "bin" / "python3"
    script = str(ROOT / "scripts" / "link_shared_site.py")
    result = subprocess.run([str(base), script, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "holds no torch" in result.stderr
    if sys.prefix != sys.base_prefix:
        import torch

        shared = str(Path(torch.__file__).resolve().parents[1])
        result = subprocess.run([str(base), script, shared], capture_output=True, text=True)
        assert result.returncode != 0 and "refusing to write into the base interpreter" in result.stderr
        base_site = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"])
        assert not (base_site / "_blocks_shared_site.pth").exists()
