"""Run the fuzz targets of packages/core/tests/fuzz for longer than CI does (or replay one case).

CI runs each target for a fixed number of seeded cases (seconds). Here they
share ``--minutes`` (each target gets an equal part), failing inputs are kept
under ``--findings``, and every finding names its target and seed:

    python scripts/fuzz.py --minutes 30                          # every target, 30 minutes in all
    python scripts/fuzz.py --minutes 10 --target server
    python scripts/fuzz.py --target sqlite-log --seed 1234 --cases 1   # replay one finding

``nox -s fuzz -- --minutes 30`` does the same in a nox session.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "packages" / "core" / "tests" / "fuzz"
# target -> (pytest node, number of test functions it runs)
TARGETS = {
    "checkpoint": ("test_fuzz_checkpoints.py::test_fuzz_checkpoints", 1),
    "sqlite-log": ("test_fuzz_logs_configs.py::test_fuzz_sqlite_logs", 1),
    "config": ("test_fuzz_logs_configs.py::test_fuzz_config_files", 2),
    "server": ("test_fuzz_server.py::test_fuzz_server_requests", 1),
    "hdf5": ("test_fuzz_hdf5.py", 1),  # one loop of cases (in child processes) shared by both tests
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="time for all selected targets (default 5)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="a target to run (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: a fresh one per run)")
    parser.add_argument("--cases", type=int, default=None, help="run exactly this many cases per target")
    parser.add_argument("--findings", default="fuzz-findings", help="folder for failing inputs (default fuzz-findings)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = args.target or sorted(TARGETS)
    tests = sum(TARGETS[t][1] for t in targets)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "big")
    env = dict(os.environ, BLOCKS_FUZZ_SEED=str(seed), BLOCKS_FUZZ_FINDINGS=str(Path(args.findings).resolve()))
    if args.cases is not None:
        env["BLOCKS_FUZZ_CASES"] = str(args.cases)
    else:
        env["BLOCKS_FUZZ_SECONDS"] = str(max(1.0, args.minutes * 60 / tests))
    nodes = [str(FUZZ / TARGETS[t][0]) for t in targets]
    print(f"fuzz: targets {', '.join(targets)}; first seed {seed}; "
          + (f"{args.cases} case(s) each" if args.cases is not None else f"{args.minutes:g} min in all"), flush=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-o", "timeout=0", *nodes]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
