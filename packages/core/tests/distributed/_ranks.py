"""Run a test file as ``world`` gloo ranks, the way torchrun runs a training script, and read what each wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_ranks(script: str, world: int, directory: Path, *arguments: str, timeout: float = 120) -> list[Any]:
    """Start ``python script RANK *arguments RENDEZVOUS DIRECTORY`` for every rank; return each ``rankN.json``.

    Every rank must exit 0 (the assertion carries their standard errors); a rank that hangs in a collective
    fails the test when ``timeout`` passes. The ranks run with ``faulthandler`` on, so a rank that aborts
    (SIGABRT, SIGSEGV) leaves the Python stack of every thread in its standard error.
    """
    ranks = [
        subprocess.Popen([sys.executable, "-X", "faulthandler", script, str(rank), *arguments,
                          str(directory / "rendezvous"), str(directory)], stderr=subprocess.PIPE, text=True)
        for rank in range(world)
    ]
    errors = [process.communicate(timeout=timeout)[1] for process in ranks]
    assert [process.returncode for process in ranks] == [0] * world, errors
    return [json.loads((directory / f"rank{rank}.json").read_text()) for rank in range(world)]
