"""nox sessions: tests per package, integration, lint, template round trip, quickstart.

Every session is a virtualenv that first links the shared test environment
(``.venv-tests``, which ``bash scripts/test.sh`` creates with torch and the
third-party libraries; ``scripts/link_shared_site.py``): sessions install only
our packages, with ``--no-deps``, and never reinstall torch. Python 3.11 only;
no uv.

Usage: ``.venv-tests/bin/nox -l`` lists the sessions; ``.venv-tests/bin/nox -s "tests(package='core')"``.
"""

from __future__ import annotations

import os
import shutil

import nox

PACKAGES = ["core", "bricks-rnn", "fuel-datasets", "step-rules", "extensions", "gpu-cuda"]
DISTRIBUTIONS = [
    "blocks-core",
    "blocks-bricks-rnn",
    "fuel-datasets",
    "blocks-step-rules",
    "blocks-extensions",
    "blocks-gpu-cuda",
]
PYTHON = "3.11"
VENV = {"python": PYTHON, "venv_backend": "virtualenv"}
ENV = {"BLOCKS_STRICT_PLUGINS": "1", "MPLBACKEND": "Agg", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

nox.options.sessions = ["lint", "tests", "integration", "template", "docs"]
nox.options.error_on_missing_interpreters = True


def _link_shared(session: nox.Session) -> None:
    """Let the session see the shared test environment's torch and third-party packages."""
    session.run("python", "scripts/link_shared_site.py", silent=True)


def _install_editable(session: nox.Session, *packages: str) -> None:
    _link_shared(session)
    args = ["--no-deps", "--no-build-isolation"]
    for package in dict.fromkeys(packages):
        args += ["-e", f"packages/{package}"]
    session.install(*args)


@nox.session(**VENV)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, installed editable next to blocks-core."""
    _install_editable(session, "core", package)
    session.run("python", "-m", "pytest", f"packages/{package}/tests", *session.posargs, env=ENV)


@nox.session(**VENV)
def integration(session: nox.Session) -> None:
    """All six packages from built wheels: cross-package tests, benchmarks --quick, examples."""
    _link_shared(session)
    wheels = f"{session.create_tmp()}/wheels"
    session.run(
        "python", "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels,
        *[f"packages/{p}" for p in PACKAGES],
    )  # fmt: skip
    session.install("--no-deps", "--force-reinstall", "--no-index", "--find-links", wheels, *DISTRIBUTIONS)
    session.run("python", "scripts/check_installed.py", "--non-editable", env=ENV)
    session.run("python", "-m", "pytest", "packages/core/tests/cli/test_import_cost.py", env=ENV)
    session.run("python", "-m", "pytest", "tests", *session.posargs, env=ENV)
    session.run("python", "scripts/run_smoke.py", env=ENV)


@nox.session(**VENV)
def fuzz(session: nox.Session) -> None:
    """Deep fuzzing outside CI: ``nox -s fuzz -- --minutes 30`` (scripts/fuzz.py; failing inputs in fuzz-findings/)."""
    _install_editable(session, "core")
    session.run("python", "scripts/fuzz.py", *session.posargs, env=ENV)


@nox.session(**VENV)
def lint(session: nox.Session) -> None:
    """ruff over packages/, tests/, benchmarks/, examples/ and the repository scripts."""
    _link_shared(session)
    session.run("python", "-m", "ruff", "check", ".", *session.posargs)


@nox.session(**VENV)
def template(session: nox.Session) -> None:
    """Render the plugin template, install it into a fresh venv and find it in ``blocks plugins``."""
    _install_editable(session, "core")
    session.run("python", "-m", "pytest", "tests/test_template.py", *session.posargs, env=ENV)


@nox.session(python=False)
def quickstart(session: nox.Session) -> None:
    """README command 1 in a temporary virtual environment instead of .venv."""
    venv = f"{session.create_tmp()}/quickstart-venv"
    session.run("bash", "scripts/quickstart.sh", env={**ENV, "BLOCKS_VENV": venv}, external=True)


@nox.session(**VENV)
def docs(session: nox.Session) -> None:
    """Build the documentation offline with warnings as errors (sphinx, myst-parser: the shared environment)."""
    _install_editable(session, *PACKAGES)
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", env=ENV)


@nox.session(**VENV)
def dashboard_browser(session: nox.Session) -> None:
    """`blocks dashboard` in headless Chromium: a short training run, the page, live updates, a screenshot.

    Installs Debian's ``chromium`` when missing (as root; otherwise it says how) and ``plotly`` (the
    ``dashboard`` extra) into the session, then runs the browser test, which must not skip here. The
    screenshot is kept in ``dashboard-browser/``.
    """
    if shutil.which("chromium") is None and not os.environ.get("CHROMIUM"):
        if os.geteuid() != 0:
            session.error("install Debian's chromium first (sudo apt-get install chromium), or set $CHROMIUM")
        session.run("apt-get", "update", "-q", external=True)
        quiet = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "install", "-y", "-q", "chromium", external=True, env=quiet)
    _install_editable(session, "core", "extensions")
    session.install("plotly>=6,<8")
    os.makedirs("dashboard-browser", exist_ok=True)
    env = {**ENV, "BLOCKS_DASHBOARD_SCREENSHOTS": os.path.abspath("dashboard-browser"), "BLOCKS_REQUIRE_BROWSER": "1"}
    session.run("python", "-m", "pytest", "-v", "packages/extensions/tests/test_dashboard_browser.py", env=env)
    session.log("screenshot: dashboard-browser/dashboard-browser-test.png")


@nox.session(**VENV)
def peers(session: nox.Session) -> None:
    """Optional: install Ignite and Lightning and add their ratios to benchmarks/loop_overhead.py.

    Not run by default or in CI (it downloads both from PyPI; torch 2.13 from the shared test
    environment satisfies them).
    """
    _link_shared(session)
    session.install("pytorch-ignite", "lightning")
    _install_editable(session, *PACKAGES)
    session.run("python", "benchmarks/loop_overhead.py", *session.posargs, env=ENV)


@nox.session(**VENV)
def long_run(session: nox.Session) -> None:
    """Not in CI: the quickstart MLP trained with Adam on digits for 100 000 batches stays finite.

    ``scripts/long_run_finite.py`` (minutes); arguments after ``--`` go to the script, e.g.
    ``nox -s long_run -- --rewrites none`` for the naive graph.
    """
    _install_editable(session, "core", "fuel-datasets", "step-rules")
    session.run("python", "scripts/long_run_finite.py", *session.posargs, env=ENV)
