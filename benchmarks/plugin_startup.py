"""Start-up cost of the plugin host and the CLIs, as ratios to ``import torch``.

Every measurement is a fresh Python process, and the commands are interleaved
(one of each per repeat, in rotating order), so drift on a shared machine hits
all of them alike. Each repeat's time is divided by the ``python -c "import
torch"`` time of the same repeat; the script prints the median and range of
those paired ratios over the repeats, and the targets of issue 3:

* ``import blocks`` + plugin discovery (``get_host().plugins()``): <= 0.10x
* ``fuel-download --help``: <= 0.15x

Run it with all six packages installed. Usage: ``python benchmarks/plugin_startup.py
[--repeats N]`` (default 15), ``--quick`` for a 2-repeat smoke run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS = [
    "blocks-core",
    "blocks-bricks-rnn",
    "fuel-datasets",
    "blocks-step-rules",
    "blocks-extensions",
    "blocks-gpu-cuda",
]
BASELINE = "python -c 'import torch'"


def _script(name: str) -> str | None:
    """Path of a console script installed next to this interpreter (or on PATH)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def commands() -> dict[str, tuple[list[str], float | None]]:
    """Label -> (command line, target ratio or None)."""
    python = sys.executable
    out: dict[str, tuple[list[str], float | None]] = {
        BASELINE: ([python, "-c", "import torch"], None),
        "import blocks + discovery": (
            [python, "-c", "import blocks; from blocks.plugins import get_host; get_host().plugins()"],
            0.10,
        ),
    }
    fuel_download = _script("fuel-download")
    if fuel_download is not None:
        out["fuel-download --help"] = ([fuel_download, "--help"], 0.15)
    else:  # the dataset CLIs are not installed yet: measure the blocks CLI instead and say so
        print("note: fuel-download is not installed; measuring `blocks --help` against its target instead")
        out["blocks --help (for fuel-download)"] = ([_script("blocks") or "blocks", "--help"], 0.15)
    blocks = _script("blocks")
    if blocks is not None and fuel_download is not None:
        out["blocks --help"] = ([blocks, "--help"], None)
    return out


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="paired repeats (default 15)")
    parser.add_argument("--quick", action="store_true", help="2 repeats: a smoke run, not a measurement")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    if repeats < 1:
        parser.error("--repeats must be >= 1")

    missing = []
    for dist in DISTRIBUTIONS:
        try:
            metadata.version(dist)
        except metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        message = f"not installed: {', '.join(missing)} (the figure is defined with all six packages installed)"
        if not args.quick:
            print(f"error: {message}", file=sys.stderr)
            return 2
        print(f"warning: {message}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOCKS_")}
    env["BLOCKS_STRICT_PLUGINS"] = "1"  # a broken plugin must fail the run, not make it look fast
    cmds = commands()
    labels = list(cmds)
    for label in labels:  # warm the file-system cache once, unmeasured
        _time(cmds[label][0], env)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(repeats):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            times[label].append(_time(cmds[label][0], env))

    base = times[BASELINE]
    print(f"plugin start-up, {repeats} interleaved repeats, each a fresh process ({sys.executable})")
    print(f"{'command':36s} {'median s':>9s} {'ratio median':>13s} {'ratio range':>17s} {'target':>7s}")
    print(f"{BASELINE:36s} {statistics.median(base):9.3f} {'1':>13s} {'':>17s} {'':>7s}")
    verdicts = []
    for label in labels[1:]:
        ratios = [t / b for t, b in zip(times[label], base)]
        target = cmds[label][1]
        median = statistics.median(ratios)
        spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
        target_text = f"<={target:.2f}" if target is not None else ""
        print(f"{label:36s} {statistics.median(times[label]):9.3f} {median:13.3f} {spread:>17s} {target_text:>7s}")
        if target is not None:
            verdicts.append(f"{label}: {median:.3f}x {'meets' if median <= target else 'MISSES'} <= {target:.2f}x")
    if args.quick:
        print("(--quick: 2 repeats, a smoke run; figures are not meaningful)")
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
