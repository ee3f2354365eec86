"""Checkpoints written by an earlier version of the code load, resume and re-save exactly (see ``_golden.py``)."""

from __future__ import annotations

import json
import math
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

import _golden  # noqa: E402

from blocks.serialization import (  # noqa: E402
    capture_rng_state,
    checkpoint_info,
    load_checkpoint,
    load_main_loop_state,
    persistent_tensors,
    save_checkpoint,
)
from blocks.serialization.graph_rng import capture_graph_rng  # noqa: E402

REGENERATE = ("if the format changed on purpose, regenerate the golden files (python "
              "packages/core/tests/serialization/_golden.py) and say so in the commit")


def assert_same(actual: Any, expected: Any, where: str = "") -> None:
    """Exact equality of nested states: types, dtypes, shapes and values (NaN equals NaN)."""
    assert type(actual) is type(expected), f"{where or '/'}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        assert torch.equal(actual, expected) or (actual.is_floating_point() and torch.equal(
            torch.nan_to_num(actual, nan=7.0), torch.nan_to_num(expected, nan=7.0))), where
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert actual.dtype == expected.dtype and np.shape(actual) == np.shape(expected), where
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}/{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}/{index}")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual), where
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture(scope="module")
def reference():
    """The run the golden files were written from, redone now."""
    loop = _golden.build_loop(_golden.SAVED_AT)
    loop.run()
    return loop


def test_the_golden_checkpoint_holds_exactly_the_state_that_was_saved(reference):
    loaded = load_checkpoint(_golden.FULL)
    assert loaded.kind == "full"
    assert_same(loaded.parameters, {k: v.detach() for k, v in persistent_tensors(reference.model).items()})
    assert_same(loaded.main_loop, reference.state_dict(), "/main_loop")
    assert_same(loaded.extra, _golden.extra_state(), "/extra")
    assert_same(loaded.graph_rng, capture_graph_rng(reference), "/graph_rng")
    _golden.seed_globals()
    assert_same(loaded.rng, capture_rng_state(), "/rng")
    info = checkpoint_info(_golden.FULL)
    assert info["status"] == {"iterations_done": 5, "epochs_done": 1} and info["training_finished"]
    assert info["num_parameters"] == 3 * 4 + 4 + 4 * 3 + 3


def test_the_golden_checkpoint_resumes_bit_for_bit():
    continuous = _golden.build_loop(8)
    continuous.run()
    resumed = _golden.build_loop(8)
    load_main_loop_state(resumed, _golden.FULL)
    assert resumed.status["iterations_done"] == 5
    resumed.run()
    assert resumed.status["iterations_done"] == 8
    assert_same(persistent_tensors(resumed.model), persistent_tensors(continuous.model))
    assert_same(resumed.algorithm.state_dict(), continuous.algorithm.state_dict(), "/algorithm")
    assert_same(resumed.data_stream.state_dict(), continuous.data_stream.state_dict(), "/data")
    assert_same(capture_graph_rng(resumed), capture_graph_rng(continuous), "/graph_rng")
    rows, expected = resumed.log.state_dict()["rows"], continuous.log.state_dict()["rows"]
    finished = rows[str(_golden.SAVED_AT)]  # the saved run ended there
    assert finished.pop("training_finish_requested") and finished.pop("training_finished")
    assert_same(rows, expected, "/log/rows")


def test_the_golden_parameters_only_checkpoint_loads_its_parameters_and_status(reference):
    loaded = load_checkpoint(_golden.PARAMETERS_ONLY)
    assert loaded.kind == "parameters" and loaded.main_loop is None and loaded.rng is None
    assert_same(loaded.parameters, {k: v.detach() for k, v in persistent_tensors(reference.model).items()})
    status = {k: v for k, v in reference.status.items() if isinstance(v, (int, float, str, bool, type(None)))}
    assert loaded.document["status"] == status
    fresh = _golden.build_loop(1)
    load_main_loop_state(fresh, _golden.PARAMETERS_ONLY, load_iteration_state=False, load_log=False)
    assert_same(persistent_tensors(fresh.model), persistent_tensors(reference.model))


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers()}


def _ordered(text: bytes) -> list[tuple[str, Any]]:
    """``state.json`` as ordered pairs (key order is part of the bytes), less the values that differ by run."""
    pairs = json.loads(text, object_pairs_hook=lambda items: items)
    return [(key, None if key in ("run", "versions") else value) for key, value in pairs]


@pytest.mark.parametrize("golden, options", [(_golden.FULL, {"extra": "golden"}),
                                             (_golden.PARAMETERS_ONLY, {"parameters_only": True})])
def test_saving_the_same_state_today_writes_the_same_members(reference, tmp_path, golden, options):
    if options.get("extra") == "golden":
        options = {"extra": _golden.extra_state()}
    _golden.seed_globals()
    path = tmp_path / "again.tar"
    save_checkpoint(path, reference, **options)
    now, before = _members(path), _members(golden)
    assert list(now) == list(before), REGENERATE
    for name in before:
        if name == "state.json":
            assert _ordered(now[name]) == _ordered(before[name]), f"state.json differs; {REGENERATE}"
        elif name != "MANIFEST":
            assert now[name] == before[name], f"{name} differs; {REGENERATE}"
    manifest_now, manifest_before = json.loads(now["MANIFEST"]), json.loads(before["MANIFEST"])
    assert list(manifest_now["members"]) == list(manifest_before["members"])
    assert {k: v for k, v in manifest_now.items() if k != "members"} == \
           {k: v for k, v in manifest_before.items() if k != "members"}
