"""Check that all six packages are installed and their plugins load.

Usage: ``python scripts/check_installed.py [--non-editable]``. Exits non-zero,
naming the problem, when a package is missing, when (with ``--non-editable``)
one is imported from the source tree instead of an installed wheel, or when
``blocks plugins`` does not list every plugin as loaded (run it with
``BLOCKS_STRICT_PLUGINS=1`` to make a broken plugin fatal).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

PACKAGES = {
    "blocks-core": "blocks",
    "blocks-bricks-rnn": "blocks_rnn",
    "fuel-datasets": "fuel_datasets",
    "blocks-step-rules": "blocks_step_rules",
    "blocks-extensions": "blocks_extensions",
    "blocks-gpu-cuda": "blocks_cuda",
}
ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--non-editable", action="store_true", help="require installs from wheels, not the checkout")
    args = parser.parse_args()
    problems = []
    for dist, module_name in PACKAGES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            problems.append(f"{dist}: cannot import {module_name}: {err}")
            continue
        location = Path(module.__file__).resolve()
        if args.non_editable and (ROOT / "packages") in location.parents:
            problems.append(f"{dist}: {module_name} is imported from the checkout ({location}), not from a wheel")
    blocks = Path(sys.executable).parent / "blocks"
    result = subprocess.run([str(blocks), "plugins", "--all", "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        problems.append(f"blocks plugins failed ({result.returncode}): {result.stderr.strip()}")
    else:
        rows = {row["name"]: row["status"] for row in json.loads(result.stdout)}
        for dist in PACKAGES:
            if rows.get(dist) != "loaded":
                problems.append(f"blocks plugins: {dist} is {rows.get(dist, 'not listed')}")
    for problem in problems:
        print(f"check_installed: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_installed: all {len(PACKAGES)} packages installed and loaded")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
