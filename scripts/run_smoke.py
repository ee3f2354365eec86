"""Run every benchmark with ``--quick`` and every example with no arguments.

Usage: ``python scripts/run_smoke.py [--timeout SECONDS]``. Each script runs in
a fresh process from a temporary working directory; the run fails, naming the
scripts, if any of them exits non-zero or times out. An example that needs
arguments offline (``--generated`` where the real dataset cannot be
downloaded) names them in a module-level ``SMOKE_ARGS`` list.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def smoke_args(path: Path) -> list[str]:
    """An example's ``SMOKE_ARGS = [...]`` (read, never imported): what CI passes it, e.g. ``--generated``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SMOKE_ARGS"]:
            return [str(arg) for arg in ast.literal_eval(node.value)]
    return []


def scripts() -> list[list[str]]:
    """Command lines to run: benchmarks with ``--quick``, examples with their ``SMOKE_ARGS`` (default none)."""
    commands = [[str(p), "--quick"] for p in sorted((ROOT / "benchmarks").glob("*.py")) if not p.name.startswith("_")]
    examples = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    commands += [[str(p), *smoke_args(p)] for p in examples]
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300, help="seconds per script (default 300)")
    args = parser.parse_args()
    failed = []
    for command in scripts():
        name = str(Path(command[0]).relative_to(ROOT))
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as workdir:
            try:
                result = subprocess.run([sys.executable, *command], cwd=workdir, timeout=args.timeout)
                status = result.returncode
            except subprocess.TimeoutExpired:
                status = "timeout"
        print(f"run_smoke: {name} {' '.join(command[1:])}: {status} ({time.perf_counter() - start:.1f} s)", flush=True)
        if status != 0:
            failed.append(name)
    if failed:
        print(f"run_smoke: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"run_smoke: {len(scripts())} scripts passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
