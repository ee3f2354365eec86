"""MultiProcessing / BackgroundProcess: same data as serial, exact resume, errors, clean shutdown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import Mapping, MultiProcessing, RandomFixedSizeCrop
from fuel.transformers.background import RemoteTraceback


def _pipeline(n=24):
    images = np.arange(n * 1 * 6 * 6, dtype="float32").reshape(n, 1, 6, 6)
    ds = IndexableDataset({"x": images, "y": np.arange(n)})
    stream = DataStream(ds, iteration_scheme=ShuffledScheme(n, 5, rng=2))
    return RandomFixedSizeCrop(stream, (3, 3), which_sources=("x",), rng=4)


def _as_lists(batches):
    return [(b[0].tolist(), b[1].tolist()) for b in batches]


def test_background_equals_serial_and_resumes_exactly():
    serial = _as_lists(_pipeline().get_epoch_iterator())
    stream = MultiProcessing(_pipeline(), max_store=2)
    assert stream.num_requests == 5
    it = stream.get_epoch_iterator()
    head = [next(it) for _ in range(2)]
    state = json.loads(json.dumps({"stream": stream.state_dict(), "iterator": it.state_dict()}))
    rest = list(it)
    assert _as_lists(head + rest) == serial

    fresh = MultiProcessing(_pipeline(), max_store=2)
    fresh.load_state_dict(state["stream"])
    it2 = fresh.get_epoch_iterator()
    it2.load_state_dict(state["iterator"])
    assert _as_lists(head + list(it2)) == serial
    # the epoch after the resumed one matches the serial pipeline's second epoch
    ref = _pipeline()
    list(ref.get_epoch_iterator())
    assert _as_lists(fresh.get_epoch_iterator()) == _as_lists(ref.get_epoch_iterator())


def _explode(data):
    if int(data[0][0]) >= 4:
        raise ValueError("bad example in worker")
    return data


def test_worker_error_is_reraised_with_worker_traceback():
    base = DataStream(IndexableDataset({"x": np.arange(10)}), iteration_scheme=SequentialScheme(10, 2))
    it = MultiProcessing(Mapping(base, _explode), max_store=1).get_epoch_iterator()
    assert next(it)[0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="bad example in worker") as info:
        list(it)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "_explode" in info.value.__cause__.tb


def test_worker_is_reused_across_epochs_and_stops_on_close():
    reference = _pipeline(60)
    epochs = [_as_lists(reference.get_epoch_iterator()) for _ in range(3)]
    stream = MultiProcessing(_pipeline(60), max_store=2)
    it = stream.get_epoch_iterator()
    first = _as_lists([next(it)])
    process = it.cursor.worker.process
    it.close()  # early: the worker's read-ahead of epoch 0 is discarded
    assert first == epochs[0][:1] and process.is_alive()
    assert _as_lists(stream.get_epoch_iterator()) == epochs[1]
    assert _as_lists(stream.get_epoch_iterator()) == epochs[2]  # computed speculatively after epoch 1
    assert stream._idle.process is process
    stream.close()
    assert not process.is_alive()


def test_two_background_iterators_at_once():
    reference = _pipeline(30)
    epochs = [_as_lists(reference.get_epoch_iterator()) for _ in range(2)]
    stream = MultiProcessing(_pipeline(30), max_store=2)
    a, b = stream.get_epoch_iterator(), stream.get_epoch_iterator()
    got_a, got_b = [], []
    for x, y in zip(a, b):
        got_a.append(x)
        got_b.append(y)
    assert _as_lists(got_a) == epochs[0] and _as_lists(got_b) == epochs[1]
    stream.close()


def test_spawn_start_method_and_object_sources():
    ds = IndexableDataset({"x": np.arange(6), "tags": [f"t{i}" for i in range(6)]})
    stream = MultiProcessing(DataStream(ds, iteration_scheme=SequentialScheme(6, 3)), max_store=1,
                             start_method="spawn")
    batches = list(stream.get_epoch_iterator())
    assert [b[0].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    assert batches[1][1] == ["t3", "t4", "t5"]
    with pytest.raises(ValueError, match="start_method"):
        next(MultiProcessing(DataStream(ds), start_method="nonsense").get_epoch_iterator())
