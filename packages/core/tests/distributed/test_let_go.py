"""No tensor given to a collective is freed by the process group's worker thread.

A gloo collective runs on a worker thread, which wakes the caller and drops its
references a moment later. When the caller had dropped a temporary tensor
first, the worker freed it under the GIL; at interpreter shutdown that aborted
the process (``terminate called without an active exception``) after a run
that succeeded. ``scripts/gloo_exit.py`` reproduces the abort with real gloo
ranks (it is a race: minutes, under load). These tests stand in a worker that
completes at once and lets go 50 ms later, and record on which thread each of
the collective's tensors is freed, so they are deterministic: the collective
tests failed on the code before the fix, where the worker freed them.
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest
import torch

from blocks import distributed

WORLD = 2


def _reference(tensor: torch.Tensor) -> torch.Tensor:
    """A reference that counts in ``tensor._use_count()``, as the C++ worker's does (a view holds its base)."""
    return tensor.view(tensor.shape)


class LateWorker:
    """A stand-in for gloo's worker thread: the result is ready at once, the tensors are let go later."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.freed_on: list[str] = []  # the thread each collective's tensor was freed on
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def hold(self, tensors: list[torch.Tensor]) -> None:
        for tensor in tensors:
            weakref.finalize(tensor, lambda: self.freed_on.append(threading.current_thread().name))
        references = [_reference(tensor) for tensor in tensors]
        with self._lock:
            self.started += 1

        def let_go() -> None:
            time.sleep(0.05)
            with self._lock:
                self.finished += 1
            references.clear()

        thread = threading.Thread(target=let_go, name="worker", daemon=True)
        thread.start()
        self._threads.append(thread)

    def all_reduce(self, tensor, op=None, group=None, async_op=False):
        if op == torch.distributed.ReduceOp.SUM:
            tensor.mul_(WORLD)  # every rank posted the same value
        self.hold([tensor])
        return LateWork(tensor) if async_op else None

    def all_gather(self, outputs, tensor, group=None, async_op=False):
        for output in outputs:
            output.copy_(tensor)
        self.hold([tensor, *outputs])

    def broadcast(self, tensor, src, group=None, async_op=False):
        self.hold([tensor])

    def join(self) -> None:
        for thread in self._threads:
            thread.join()


class LateWork:
    """An asynchronous collective's handle: like torch's, its result holds the tensor."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.result = _reference(tensor)

    def wait(self) -> bool:
        return True


@pytest.fixture
def worker(monkeypatch):
    late = LateWorker()
    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    monkeypatch.setattr(distributed, "world_size", lambda: WORLD)
    monkeypatch.setattr(distributed, "rank", lambda: 0)
    monkeypatch.setattr(distributed, "_collective_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(distributed, "_control_group", lambda: None)
    for name in ("all_reduce", "all_gather", "broadcast"):
        monkeypatch.setattr(distributed.dist, name, getattr(late, name))
    yield late
    late.join()
    getattr(distributed, "_release_held", lambda: None)()  # (absent before the fix)


def _freed_here(worker: LateWorker, tensors: int) -> bool:
    """After the worker let go and ``destroy_distributed``: were the collective's tensors all freed on this thread?"""
    worker.join()
    distributed.destroy_distributed()
    gc.collect()
    return worker.freed_on == [threading.current_thread().name] * tensors


def test_example_share_frees_its_tensor_on_the_calling_thread(worker):
    assert float(distributed.example_share(3)) == pytest.approx(1.0)  # 3 * 2 ranks / (3 + 3)
    assert _freed_here(worker, 1), worker.freed_on


def test_all_reduce_mean_frees_its_tensor_on_the_calling_thread(worker):
    assert distributed.all_reduce_mean({"cost": torch.tensor(4.0)})["cost"] == 4.0
    assert _freed_here(worker, 1), worker.freed_on


def test_ranks_where_frees_its_tensor_on_the_calling_thread(worker):
    assert distributed.ranks_where(True) == [0]
    assert _freed_here(worker, 1), worker.freed_on


def test_all_gather_state_frees_its_tensors_on_the_calling_thread(worker):
    gathered = distributed.all_gather_state({"examples": 7, "total": torch.tensor(2.5, dtype=torch.float64)})
    assert [g["examples"] for g in gathered] == [7, 7]
    assert _freed_here(worker, 2 * (1 + WORLD)), worker.freed_on  # sizes, then bytes: the input and the outputs


def test_broadcast_parameters_frees_its_tensors_on_the_calling_thread(worker):
    distributed.broadcast_parameters(torch.nn.Linear(2, 1))
    assert worker.started == 2 and _freed_here(worker, 2), worker.freed_on


def test_interrupt_vote_frees_its_tensors_on_the_calling_thread(worker):
    vote = distributed.InterruptVote()
    assert vote.exchange(2) == 0
    assert vote.exchange(0) == 2  # the previous post's result
    vote.close()
    del vote
    assert _freed_here(worker, 2), worker.freed_on


def test_destroy_distributed_waits_for_the_worker_to_let_go(worker):
    distributed.example_share(3)
    assert worker.finished == 0  # the worker holds the tensor for 50 ms
    distributed.destroy_distributed()
    assert worker.finished == worker.started == 1


def test_tensors_let_go_are_dropped_by_the_next_collective(worker):
    distributed.example_share(3)
    worker.join()
    distributed.ranks_where(False)  # drops the first collective's tensor, here
    assert worker.freed_on == [threading.current_thread().name]
    worker.join()
    distributed.destroy_distributed()


def test_release_held_waits_for_the_other_holder_to_drop_its_reference():
    tensor = torch.zeros(3)
    holders = distributed._holders([tensor])
    view = [tensor[:1]]  # another reference to the tensor (as a worker's would be)
    dropped = threading.Event()

    def drop() -> None:
        time.sleep(0.05)
        dropped.set()
        view.clear()

    distributed._keep([tensor], holders)
    threading.Thread(target=drop).start()
    distributed._release_held()
    assert dropped.is_set() and not distributed._HELD


def test_release_held_gives_up_after_its_timeout_with_a_debug_message(caplog):
    tensor = torch.zeros(3)
    holders = distributed._holders([tensor])
    kept = tensor[:1]  # never dropped during the wait
    distributed._keep([tensor], holders)
    with caplog.at_level(logging.DEBUG, logger="blocks.distributed"):
        distributed._release_held(timeout=0.05)
    assert "still held by the process group" in caplog.text
    del kept
    distributed._release_held()
    assert not distributed._HELD


def test_keep_ignores_tensors_it_cannot_count():
    tensor = torch.zeros(3)
    kept = tensor[:1]
    distributed._keep([tensor], [0])  # 0: the count was unknown before the collective
    assert kept.numel() == 1 and not distributed._HELD


@pytest.mark.slow
def test_gloo_exit_script_ends_every_rank_with_status_zero():
    """``scripts/gloo_exit.py``, the reproduction of the abort, runs (one short run here; minutes by hand)."""
    script = Path(__file__).resolve().parents[4] / "scripts" / "gloo_exit.py"
    done = subprocess.run([sys.executable, str(script), "--runs", "1", "--world", "2", "--steps", "3"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gloo_exit: 0 of 2 ranks failed" in done.stdout
