"""Exit test: start gloo ranks that use blocks.distributed's collectives, exit at once, and count aborted ranks.

A data-parallel run must end with exit status 0 on every rank. This script
starts ``--world`` processes ``--runs`` times. Each joins a gloo group
(``init_distributed``), wraps a small module in DistributedDataParallel
(``wrap_module``: PyTorch then keeps the group's worker threads alive until
the process exits), runs ``--steps`` batches' worth of the collectives the
main loop runs (``InterruptVote.exchange``, ``example_share``,
``ranks_where``, ``all_reduce_mean``), closes the vote, leaves the group
(``destroy_distributed``) and returns from ``main`` at once, the way a
training script ends. A rank whose gloo worker thread still held one of the
collectives' temporary tensors when the interpreter shut down used to abort
(``terminate called without an active exception``, status 134). The
window is short: run it with other load on the machine (``--load N`` starts
N busy processes); ``--no-destroy`` ends the ranks without
``destroy_distributed`` (its barrier narrows the window), as a script that
forgets it or leaves by an exception does:

    python scripts/gloo_exit.py --runs 60 --load 2
    python scripts/gloo_exit.py --runs 60 --load 2 --no-destroy

It prints the number of aborted ranks and fails (exit status 1) if any rank
exited with another status than 0. Not part of CI (it runs for minutes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
from pathlib import Path


def rank_main(rank: int, world: int, steps: int, rendezvous: str, destroy: bool = True) -> None:
    """One rank: the collectives of ``steps`` batches, then leave the group and return."""
    import datetime

    import torch

    from blocks import distributed

    distributed.init_distributed("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world,
                                 timeout=datetime.timedelta(seconds=60))
    module = distributed.wrap_module(torch.nn.Linear(3, 1))
    vote = distributed.InterruptVote()
    for step in range(steps):
        module(torch.ones(2, 3)).sum().backward()
        vote.exchange(0)
        distributed.example_share(2)
        distributed.ranks_where(step % 7 == rank)
        distributed.all_reduce_mean({"cost": torch.tensor(float(step))})
    vote.close()
    if destroy:
        distributed.destroy_distributed()


def _busy() -> None:
    while True:
        pass


def run_once(world: int, steps: int, destroy: bool = True) -> list[tuple[int, str]]:
    """Start ``world`` ranks; return each one's exit status and standard error."""
    with tempfile.TemporaryDirectory() as directory:
        rendezvous = str(Path(directory) / "rendezvous")
        ranks = [subprocess.Popen([sys.executable, __file__, "--rank", str(rank), "--world", str(world),
                                   "--steps", str(steps), "--rendezvous", rendezvous]
                                  + ([] if destroy else ["--no-destroy"]),
                                  stderr=subprocess.PIPE, text=True) for rank in range(world)]
        errors = [process.communicate(timeout=300)[1] for process in ranks]  # read while they run: no full pipe
        return [(process.returncode, error) for process, error in zip(ranks, errors)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="how many times to start the ranks (20)")
    parser.add_argument("--world", type=int, default=3, help="ranks per run (3)")
    parser.add_argument("--steps", type=int, default=50, help="batches' worth of collectives per run (50)")
    parser.add_argument("--load", type=int, default=0, help="busy processes to run beside (0)")
    parser.add_argument("--no-destroy", action="store_true", help="end the ranks without destroy_distributed")
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rendezvous", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rank is not None:
        rank_main(args.rank, args.world, args.steps, args.rendezvous, destroy=not args.no_destroy)
        return 0
    load = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for process in load:
        process.start()
    aborted = failed = 0
    try:
        for run in range(args.runs):
            for status, errors in run_once(args.world, args.steps, destroy=not args.no_destroy):
                if status != 0:
                    failed += 1
                    aborted += "terminate called" in errors
                    print(f"run {run}: a rank exited with status {status}: {errors.strip()[-300:]}", flush=True)
    finally:
        for process in load:
            process.terminate()
    print(f"gloo_exit: {failed} of {args.runs * args.world} ranks failed ({aborted} aborted in C++ teardown)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
