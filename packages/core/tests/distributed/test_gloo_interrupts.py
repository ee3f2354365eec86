"""A signal that reaches only one of two gloo ranks stops both on the same batch.

A scheduler's SIGTERM (preemption) or a Ctrl-C may reach the ranks on different batches, or reach only one. Each
batch here runs a collective (as DDP's gradient all-reduce does) and ``after_training`` another (as a checkpoint
gathering the ranks' data positions does): a rank that stopped alone would leave its peer waiting in a collective
until the group's timeout, or pair the wrong collectives.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ranks import run_ranks  # noqa: E402

BATCHES_PER_EPOCH, SIGNAL_AT = 8, 5


def _worker(rank: int, scenario: str, init_file: str, out_dir: str) -> None:
    import datetime
    import signal

    import numpy
    import torch
    import torch.distributed as dist

    from blocks import distributed
    from blocks.algorithms import TrainingAlgorithm
    from blocks.extensions import FinishAfter, SimpleExtension
    from blocks.log import TrainingLog
    from blocks.main_loop import MainLoop
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    class AllReduceEveryBatch(TrainingAlgorithm):  # stands for DDP's gradient all-reduce
        def __init__(self):
            super().__init__()
            self.batches = 0

        def initialize(self):
            pass

        def process_batch(self, batch):
            self.batches += 1
            if rank == 1 and self.batches == SIGNAL_AT:  # the signal reaches rank 1 only, mid-batch
                os.kill(os.getpid(), signal.SIGTERM if scenario == "sigterm" else signal.SIGINT)
            dist.all_reduce(torch.ones(1))

    class GatherAtTheEnd(SimpleExtension):  # stands for a checkpoint gathering every rank's data position
        def do(self, which_callback, *args):
            self.gathered = distributed.all_gather_json(self.main_loop.status["iterations_done"])

    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2,
                                 timeout=datetime.timedelta(seconds=30))
    try:
        data = IndexableDataset({"x": numpy.zeros(BATCHES_PER_EPOCH)})
        stream = DataStream(data, iteration_scheme=SequentialScheme(BATCHES_PER_EPOCH, 1))
        gather = GatherAtTheEnd(after_training=True)
        loop = MainLoop(AllReduceEveryBatch(), stream, log=TrainingLog(),
                        extensions=[gather, FinishAfter(after_n_epochs=3)])
        loop.run()
        status = loop.status
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"gathered": gather.gathered, "batch": status["batch_interrupt_received"],
                       "epoch": status["epoch_interrupt_received"]}, f)
    finally:
        distributed.destroy_distributed()


@pytest.mark.slow
@pytest.mark.parametrize("scenario, stops_at, batch, epoch", [
    ("sigterm", SIGNAL_AT + 1, True, False),  # posted after batch 5, agreed after batch 6: both stop there
    ("sigint", BATCHES_PER_EPOCH, False, True),  # a first Ctrl-C: both finish the epoch
])
def test_a_signal_to_one_rank_stops_every_rank_on_the_same_batch(tmp_path, scenario, stops_at, batch, epoch):
    results = run_ranks(__file__, 2, tmp_path, scenario)
    for result in results:
        assert result == {"gathered": [stops_at, stops_at], "batch": batch, "epoch": epoch}


if __name__ == "__main__":
    _worker(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
