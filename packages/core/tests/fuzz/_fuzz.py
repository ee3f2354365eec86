"""What the fuzz targets share: how many cases to run, byte mutations, and the record of findings.

CI runs a fixed number of seeded cases per target (a few seconds each). The
deep mode (``scripts/fuzz.py --minutes N`` or ``nox -s fuzz -- --minutes N``)
sets ``BLOCKS_FUZZ_SECONDS`` (the time of one target) and runs cases until it
is spent; ``BLOCKS_FUZZ_SEED`` shifts the seeds, and ``BLOCKS_FUZZ_FINDINGS``
names a folder where the input of every failing case is kept. A failure names
its target and seed: ``scripts/fuzz.py --target T --seed S --cases 1`` replays
it.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Findings", "mutate_bytes", "seeds"]


def seeds(ci_cases: int) -> Iterator[int]:
    """The seeds of one target's cases: ``ci_cases`` of them, or as many as ``BLOCKS_FUZZ_SECONDS`` allows."""
    start = int(os.environ.get("BLOCKS_FUZZ_SEED", "0"))
    count = os.environ.get("BLOCKS_FUZZ_CASES")
    seconds = float(os.environ.get("BLOCKS_FUZZ_SECONDS", "0"))
    if count is not None or seconds <= 0:
        yield from range(start, start + (int(count) if count is not None else ci_cases))
        return
    deadline = time.monotonic() + seconds
    seed = start
    while time.monotonic() < deadline:
        yield seed
        seed += 1


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits: bit flips, random bytes, truncation, a deleted, zeroed or repeated span."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if not out:
            break
        kind = rng.randrange(7)
        at = rng.randrange(len(out))
        span = rng.choice((1, 2, 4, 8, 64, 512))
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at] = rng.randrange(256)
        elif kind == 2:
            del out[at:]
        elif kind == 3:
            del out[at:at + span]
        elif kind == 4:
            out[at:at + span] = bytes(len(out[at:at + span]))
        elif kind == 5:
            out[at:at] = out[at:at + span]
        else:
            out[at:at + span] = bytes(rng.randrange(256) for _ in out[at:at + span])
    return bytes(out)


class Findings:
    """Failing cases of one target: reported together at the end, their inputs kept in deep mode."""

    def __init__(self, target: str):
        self.target = target
        self.items: list[str] = []

    def add(self, seed: int, what: str, path: str | os.PathLike[str] | None = None) -> None:
        self.items.append(f"{self.target} seed {seed}: {what}")
        keep = os.environ.get("BLOCKS_FUZZ_FINDINGS")
        if keep and path is not None and Path(path).exists():
            folder = Path(keep) / self.target
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"seed-{seed}-{Path(path).name}"
            if Path(path).is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(path, target)

    def check(self) -> None:
        """Fail with every finding (replay one with ``scripts/fuzz.py --target T --seed S --cases 1``)."""
        shown = "\n".join(self.items[:30])
        more = f"\n... and {len(self.items) - 30} more" if len(self.items) > 30 else ""
        assert not self.items, f"{len(self.items)} finding(s):\n{shown}{more}"
