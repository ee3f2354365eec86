"""Multi-process checkpoints (with a fake process group), graph random states, and device mapping."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import TinyStream, build_loop  # noqa: E402

from blocks.extensions import FinishAfter  # noqa: E402
from blocks.serialization import (  # noqa: E402
    CheckpointError,
    graph_rng,  # noqa: E402
    load_checkpoint,
    load_main_loop_state,
    save_checkpoint,
)
from blocks.serialization import checkpoint as checkpoint_module  # noqa: E402


class FakeGroup:
    """Stands in for ``blocks.distributed`` with two ranks whose data positions differ."""

    def __init__(self, rank, positions):
        self._rank, self.positions, self.barriers = rank, positions, 0

    def rank(self):
        return self._rank

    def world_size(self):
        return len(self.positions)

    def is_main_process(self):
        return self._rank == 0

    def all_gather_json(self, obj):
        gathered = []
        for position in self.positions:
            data = {**obj, "iterator": {**obj["iterator"], "position": position, "tag": {"__tuple__": [1, 2]}}}
            gathered.append(data)
        return gathered

    def barrier(self):
        self.barriers += 1


def test_rank_zero_writes_every_ranks_position_and_each_rank_resumes_its_own(tmp_path, monkeypatch):
    loop = build_loop([FinishAfter(after_n_batches=2)])
    loop.run()
    path = tmp_path / "c.tar"
    worker = FakeGroup(1, [2, 3])
    monkeypatch.setattr(checkpoint_module, "_distributed", lambda: worker)
    assert save_checkpoint(path, loop) == {} and not path.exists() and worker.barriers == 1
    main = FakeGroup(0, [2, 3])
    monkeypatch.setattr(checkpoint_module, "_distributed", lambda: main)
    save_checkpoint(path, loop)
    assert main.barriers == 1
    document = load_checkpoint(path).document
    assert document["ranks"]["world_size"] == 2
    assert [d["iterator"]["position"] for d in document["ranks"]["data"]] == [2, 3]
    resumed = build_loop()
    monkeypatch.setattr(checkpoint_module, "_distributed", lambda: FakeGroup(1, [2, 3]))
    seen = {}
    monkeypatch.setattr(type(resumed.data_stream), "get_epoch_iterator", _recording(seen))
    load_main_loop_state(resumed, path)
    assert resumed.iteration_state[1].position == 3
    assert seen["state"]["tag"] == (1, 2)  # the rank's JSON document is decoded like the rest of the state
    monkeypatch.setattr(checkpoint_module, "_distributed", lambda: None)
    single = build_loop()
    load_main_loop_state(single, path)  # another world size: the position of rank 0, which wrote the file
    assert single.iteration_state[1].position == loop.iteration_state[1].position == 8
    # collective=False never talks to the group
    monkeypatch.setattr(checkpoint_module, "_distributed", lambda: pytest.fail("collective call"))
    save_checkpoint(tmp_path / "alone.tar", loop, collective=False)


def _recording(seen):
    original = TinyStream.get_epoch_iterator

    def get_epoch_iterator(self, as_dict=False):
        iterator = original(self, as_dict)
        load = iterator.load_state_dict

        def load_state_dict(state):
            seen["state"] = state
            load(state)

        iterator.load_state_dict = load_state_dict
        return iterator

    return get_epoch_iterator


class FakeRandomOp:
    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.seed = seed

    def generator(self, device):
        return self.gen

    def state_dict(self):
        return {"seed": self.seed, "states": {"cpu": self.gen.get_state(), "cuda:7": torch.zeros(3)}}

    def load_state_dict(self, state):
        assert set(state["states"]) <= {"cpu", "cuda:0"}
        self.gen.set_state(state["states"]["cpu"])


class FakeNode:
    def __init__(self, target):
        self.target = target


class FakeVariable:
    def __init__(self, target):
        self.node = FakeNode(target)


class FakeGraph:
    def __init__(self, ops):
        self.variables = [FakeVariable("placeholder_name"), *(FakeVariable(op) for op in ops), FakeVariable(ops[0])]


def test_graph_random_states_are_saved_restored_and_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loop = build_loop()
    loop.algorithm.initialize()
    ops = [FakeRandomOp(1), FakeRandomOp(2)]
    loop.algorithm.graph = FakeGraph(ops)
    assert graph_rng.graph_random_ops(loop) == ops
    path = tmp_path / "g.tar"
    save_checkpoint(path, loop)
    expected = [torch.rand(2, generator=op.gen) for op in ops]
    for op in ops:
        op.gen.manual_seed(99)
    other = build_loop()
    other.algorithm.graph = FakeGraph(ops)
    load_main_loop_state(other, path)
    assert all(torch.equal(torch.rand(2, generator=op.gen), e) for op, e in zip(ops, expected))
    fewer = build_loop()
    fewer.algorithm.graph = FakeGraph(ops[:1])
    before = fewer.model.W.detach().clone()
    with pytest.raises(CheckpointError, match=r"graph has 1 random operation\(s\) .* recorded 2"):
        load_main_loop_state(fewer, path)
    assert torch.equal(fewer.model.W, before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_checkpoint_resumes_on_gpu(tmp_path):
    loop = build_loop([FinishAfter(after_n_batches=2)])
    loop.run()
    path = tmp_path / "cpu.tar"
    save_checkpoint(path, loop)
    gpu = build_loop()
    for name in ("W", "b"):
        setattr(gpu.model, name, torch.nn.Parameter(getattr(gpu.model, name).detach().cuda()))
    gpu.model.running = gpu.model.running.cuda()
    gpu.algorithm.initialize()
    load_main_loop_state(gpu, path)
    assert gpu.model.W.device.type == "cuda" and torch.equal(gpu.model.W.cpu(), loop.model.W)
    assert all(v.device.type == "cuda" for v in gpu.algorithm.velocity.values())
