"""The single-process parts of exact data parallelism: counting examples, gathering states, the gradient share.

The multi-process equality with one process (2 and 3 gloo ranks, uneven shards) is
``tests/test_distributed_extensions.py``.
"""

from __future__ import annotations

import math

import numpy
import pytest
import torch

from blocks import distributed
from blocks.algorithms import GradientDescent, Scale
from blocks.graph import matrix


def test_count_examples_is_the_common_length_of_axis_zero():
    batch = {"features": numpy.zeros((5, 3)), "targets": torch.zeros(5, 1), "ids": list(range(5)),
             "learning_rate": numpy.float32(0.1), "scalar": torch.tensor(2.0)}
    assert distributed.count_examples(batch) == 5
    assert distributed.count_examples({"x": numpy.zeros((0, 2))}) == 0
    time_major = {"features": numpy.zeros((7, 5)), "lengths": numpy.zeros(5)}
    with pytest.raises(ValueError, match=r"disagree.*mean_over") as info:
        distributed.count_examples(time_major)
    assert "'features': 7" in str(info.value) and "'lengths': 5" in str(info.value)
    assert distributed.count_examples(time_major, ["lengths"]) == 5
    with pytest.raises(ValueError, match="no axis"):
        distributed.count_examples({"scalar": torch.tensor(1.0)})


def test_states_travel_exactly():
    state = {
        "total": torch.tensor([1 / 3, math.pi, float("nan"), -0.0], dtype=torch.float64),
        "counts": torch.tensor([2**62 + 1, -7]),
        "flags": torch.tensor([True, False]),
        "half": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "empty": torch.zeros(0, 3),
        "nested": [{"value": torch.tensor(3.0)}, 4, "text", None, 2.5],
        "scalar": numpy.float32(0.25),
        "array": numpy.arange(6).reshape(2, 3),
    }
    back = distributed._unpack_state(distributed._pack_state(state))
    for key in ("total", "counts", "flags", "half", "empty"):
        assert back[key].dtype == state[key].dtype and back[key].shape == state[key].shape
        assert torch.equal(back[key].view(-1).view(torch.uint8) if key != "flags" else back[key],
                           state[key].view(-1).view(torch.uint8) if key != "flags" else state[key])
    assert torch.equal(back["nested"][0]["value"], torch.tensor(3.0)) and back["nested"][1:] == [4, "text", None, 2.5]
    assert back["scalar"] == 0.25 and torch.equal(back["array"], torch.arange(6).reshape(2, 3))
    with pytest.raises(ValueError, match="__tensor__"):
        distributed._pack_state({"__tensor__": 1})
    assert distributed.all_gather_state(state) == [state]  # one process: nothing moves


def test_single_process_share_and_collective_flag():
    assert distributed.example_share(8).item() == 1.0
    assert not distributed.is_state_dict_collective()
    with distributed.collective_state_dict():
        with distributed.collective_state_dict():
            pass
        assert distributed._LOCAL.collective
        assert not distributed.is_state_dict_collective()  # no process group: nothing to combine
    assert not distributed._LOCAL.collective


def _algorithm(**kwargs):
    x = matrix("features")
    w = torch.nn.Parameter(torch.ones(2, 1))
    return GradientDescent((x @ w).mean(), parameters=[w], step_rule=Scale(0.1), **kwargs)


def test_reduction_and_mean_over_are_checked():
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        _algorithm(reduction="median")
    with pytest.raises(ValueError, match="mean_over must be a function"):
        _algorithm(mean_over=3)
    with pytest.raises(ValueError, match="nothing with reduction='sum'"):
        _algorithm(reduction="sum", mean_over=len)
    algorithm = _algorithm()
    algorithm.initialize()
    assert algorithm._share is None  # one process: the cost is used as it is


def test_a_rank_without_examples_takes_part_with_weight_zero(monkeypatch):
    # (with real ranks: test_gloo_empty_shards.py)
    algorithm = _algorithm()
    algorithm.initialize()
    counted = _algorithm(mean_over=lambda batch: batch["features"].shape[0] - 2)
    counted.initialize()
    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    monkeypatch.setattr(distributed, "rank", lambda: 2)
    shares = []
    monkeypatch.setattr(distributed, "example_share", lambda count: shares.append(count) or 0.0)
    assert algorithm._data_parallel_share({"features": numpy.zeros((0, 2), "float32")}) == 0.0
    assert algorithm._empty_shard and shares == [0]
    algorithm._data_parallel_share({"features": numpy.zeros((4, 2), "float32")})
    assert not algorithm._empty_shard and shares == [0, 4]
    with pytest.raises(ValueError, match="mean_over counted -1 examples"):
        counted._data_parallel_share({"features": numpy.zeros((1, 2), "float32")})
    assert _algorithm(reduction="sum")._data_parallel_share({}) == 3.0
