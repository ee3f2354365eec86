"""Run every benchmark with ``--quick`` and every example with no arguments.

Usage: ``python scripts/run_smoke.py [--timeout SECONDS]``. Each script runs in
a fresh process from a temporary working directory; the run fails, naming the
scripts, if any of them exits non-zero or times out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scripts() -> list[list[str]]:
    """Command lines to run: benchmarks with ``--quick``, examples as they are."""
    commands = [[str(p), "--quick"] for p in sorted((ROOT / "benchmarks").glob("*.py")) if not p.name.startswith("_")]
    commands += [[str(p)] for p in sorted((ROOT / "examples").glob("*.py")) if not p.name.startswith("_")]
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
