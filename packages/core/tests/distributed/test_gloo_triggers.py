"""``every_n_seconds`` on two gloo ranks whose clocks disagree: every rank fires on the same batches.

An extension that runs on every rank (monitoring, checkpoints) may run collectives in its ``do``; if each rank's
own clock decided, rank 0 would enter that collective on one batch and rank 1 on another, pairing it with a
different collective (a hang, or the wrong tensors averaged). Here rank 1's clock runs three times as fast as rank
0's; the extension's ``do`` is itself a collective (an all-gather of the batch number), which would hang or
mismatch if the ranks fired apart.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ranks import run_ranks  # noqa: E402

BATCHES = 30


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import datetime

    import numpy

    import blocks.extensions.base as base
    from blocks import distributed
    from blocks.algorithms import TrainingAlgorithm
    from blocks.extensions import FinishAfter, SimpleExtension
    from blocks.log import TrainingLog
    from blocks.main_loop import MainLoop
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    ticks = [0.0]
    base._clock = lambda: ticks[0]  # rank 0: 1 s a batch; rank 1: 3 s a batch

    class Tick(TrainingAlgorithm):
        def initialize(self):
            pass

        def process_batch(self, batch):
            ticks[0] += 1.0 if rank == 0 else 3.0

    class GatherBatch(SimpleExtension):  # a collective in do(), as monitoring and checkpoints have
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def do(self, which_callback, *args):
            self.seen.append(distributed.all_gather_json(self.main_loop.status["iterations_done"]))

    class RankZeroOnly(GatherBatch):  # runs on rank 0 alone: asks no other rank
        main_process_only = True

        def do(self, which_callback, *args):
            self.seen.append(self.main_loop.status["iterations_done"])

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2,
                                 timeout=datetime.timedelta(seconds=30))
    try:
        data = IndexableDataset({"x": numpy.zeros(BATCHES)})
        stream = DataStream(data, iteration_scheme=SequentialScheme(BATCHES, 1))
        shared, alone = GatherBatch(every_n_seconds=5), RankZeroOnly(every_n_seconds=5)
        MainLoop(Tick(), stream, log=TrainingLog(), extensions=[shared, alone, FinishAfter(after_n_epochs=1)]).run()
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"shared": shared.seen, "alone": alone.seen}, f)
    finally:
        distributed.destroy_distributed()


@pytest.mark.slow
def test_every_n_seconds_fires_on_the_same_batches_on_every_rank(tmp_path):
    results = run_ranks(__file__, 2, tmp_path)
    # rank 0's clock decides: 1 s a batch, every 5 s from the first batch -> batches 6, 11, 16, 21, 26
    fired = [6, 11, 16, 21, 26]
    assert results[0]["shared"] == results[1]["shared"] == [[b, b] for b in fired]
    assert results[0]["alone"] == fired and results[1]["alone"] == []


if __name__ == "__main__":
    _worker(int(sys.argv[1]), sys.argv[2], sys.argv[3])
