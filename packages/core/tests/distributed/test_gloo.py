"""Data parallelism on two gloo processes (127.0.0.1 / file rendezvous, CPU)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest
import torch

from blocks import distributed

STEPS, GLOBAL_BATCH, DIM = 5, 8, 4


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(DIM, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(STEPS, GLOBAL_BATCH, DIM, generator=gen, dtype=torch.float64), torch.randn(
        STEPS, GLOBAL_BATCH, 1, generator=gen, dtype=torch.float64
    )


def _train(module: torch.nn.Module, xs, ys) -> None:
    for x, y in zip(xs, ys):
        module.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(module(x), y).backward()
        with torch.no_grad():
            for p in module.parameters():
                p -= 0.1 * p.grad


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    distributed.init_distributed("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        assert distributed.is_distributed() and distributed.rank() == rank and distributed.world_size() == world
        model = _model()
        distributed.broadcast_parameters(model)
        wrapped = distributed.wrap_module(model)
        xs, ys = _data()
        part = GLOBAL_BATCH // world
        _train(wrapped, xs[:, rank * part : (rank + 1) * part], ys[:, rank * part : (rank + 1) * part])
        mean = distributed.all_reduce_mean({"r": torch.tensor(float(rank))})["r"]
        positions = distributed.all_gather_json({"rank": rank, "position": [rank, STEPS]})
        torch.save(
            {"params": [p.detach() for p in model.parameters()], "mean": mean, "positions": positions},
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        distributed.destroy_distributed()


@pytest.mark.slow
def test_two_gloo_ranks_agree_and_match_single_process(tmp_path):
    # each rank is this file run as a script (the way torchrun runs a training script)
    ranks = [
        subprocess.Popen([sys.executable, __file__, str(r), "2", str(tmp_path / "rendezvous"), str(tmp_path)])
        for r in range(2)
    ]
    assert [p.wait(timeout=120) for p in ranks] == [0, 0]
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for a, b in zip(results[0]["params"], results[1]["params"]):
        assert torch.equal(a, b), "ranks diverged"
    single = _model()
    _train(single, *_data())  # the same global batches in one process
    for a, b in zip(results[0]["params"], single.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=1e-10, atol=1e-12)
    assert results[0]["mean"].item() == 0.5
    assert results[1]["positions"] == [{"rank": 0, "position": [0, STEPS]}, {"rank": 1, "position": [1, STEPS]}]


def test_single_process_fallbacks():
    assert distributed.init_distributed() is False
    assert not distributed.is_distributed() and distributed.rank() == 0 and distributed.world_size() == 1
    assert distributed.is_main_process()
    module = torch.nn.Linear(2, 2)
    assert distributed.wrap_module(module) is module
    assert distributed.all_gather_json([1, "a"]) == [[1, "a"]]
    values = {"x": torch.tensor([1.0, 2.0])}
    assert torch.equal(distributed.all_reduce_mean(values)["x"], values["x"])
    with pytest.raises(ValueError, match="gloo"):
        distributed.init_distributed("mpi", init_method="file:///nonexistent", rank=0, world_size=1)
    assert distributed.ranks_where(True) == [0] and distributed.ranks_where(False) == []
    for timeout in (30, datetime.timedelta(0)):
        with pytest.raises(ValueError, match="timeout must be a positive datetime.timedelta"):
            distributed.init_distributed("gloo", init_method="file:///nonexistent", rank=0, world_size=1,
                                         timeout=timeout)


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
