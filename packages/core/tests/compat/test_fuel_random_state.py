"""Shuffled schemes given a numpy RandomState draw from it as Fuel's did, and still resume exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from blocks.algorithms import TrainingAlgorithm
from blocks.extensions import FinishAfter
from blocks.main_loop import MainLoop
from blocks.serialization import load_main_loop_state, save_checkpoint
from fuel.datasets import IndexableDataset
from fuel.schemes import (
    BootstrapScheme,
    ConcatenatedScheme,
    SequentialExampleScheme,
    ShardedScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
)
from fuel.server import DataServer
from fuel.streams import DataStream
from fuel.transformers import MultiProcessing
from fuel.utils.random import epoch_rng
from fuel.utils.random_state import EpochPermutations, random_state_to_dict


def _shuffled(items, random_state):
    """What Fuel did each epoch: shuffle a list of the indices with the generator."""
    items = list(items)
    random_state.shuffle(items)
    return items


def _batches(order, size):
    return [order[i : i + size] for i in range(0, len(order), size)]


def _epoch(scheme, epoch):
    return list(scheme.get_request_iterator(epoch=epoch))


@pytest.mark.parametrize("sorted_indices", [False, True])
def test_each_epoch_is_the_next_shuffle_of_the_generator(sorted_indices):
    reference = np.random.RandomState(11)
    scheme = ShuffledScheme(10, 4, rng=np.random.RandomState(11), sorted_indices=sorted_indices)
    for epoch in range(3):
        expected = _batches(_shuffled(range(10), reference), 4)
        if sorted_indices:
            expected = [sorted(b) for b in expected]
        assert _epoch(scheme, epoch) == expected
    assert random_state_to_dict(scheme.rng)["key"].tolist() == random_state_to_dict(reference)["key"].tolist()


def test_given_indices_and_example_scheme_follow_the_generator():
    indices = [9, 4, 7, 1, 3]
    reference = np.random.RandomState(2)
    examples = ShuffledExampleScheme(indices, rng=np.random.RandomState(2))
    assert list(examples.get_request_iterator()) == _shuffled(indices, reference)
    assert list(examples.get_request_iterator()) == _shuffled(indices, reference)  # each call: the next epoch


def test_the_generator_object_given_is_shared_and_drawn_from():
    random_state = np.random.RandomState(3)
    first = ShuffledScheme(7, 3, rng=random_state)
    assert first.rng is random_state and first.seed is None
    one = list(first.get_request_iterator())
    two = list(ShuffledScheme(7, 3, rng=random_state).get_request_iterator())  # a new scheme, same generator
    assert one != two


def test_iterators_of_one_epoch_share_its_permutation():
    scheme = ShuffledScheme(12, 4, rng=np.random.RandomState(5))
    assert _epoch(scheme, 0) == _epoch(scheme, 0)
    halves = [ShardedScheme(scheme, 2, shard) for shard in range(2)]
    parts = [list(h.get_request_iterator(epoch=1)) for h in halves]
    assert [a + b for a, b in zip(*parts)] == _epoch(scheme, 1)
    assert _epoch(scheme, 1) != _epoch(scheme, 2)


def test_int_seeds_keep_the_seed_and_epoch_order():
    scheme = ShuffledScheme(9, 4, rng=8)
    for epoch in (0, 3):
        order = epoch_rng(8, epoch).permutation(9).tolist()
        assert _epoch(scheme, epoch) == _batches(order, 4)
    assert BootstrapScheme(5, 2, rng=np.random.RandomState(0)).seed is not None  # other schemes: a seed


def _record_algorithm():
    class Record(TrainingAlgorithm):
        def __init__(self):
            self.seen = []

        def initialize(self):
            pass

        def process_batch(self, batch):
            self.seen.append(np.asarray(batch["x"]).tolist())

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    return Record()


def _loop(rng, stop):
    stream = DataStream(IndexableDataset({"x": np.arange(10)}), iteration_scheme=ShuffledScheme(10, 3, rng=rng))
    return MainLoop(_record_algorithm(), stream, model=torch.nn.Linear(1, 1), extensions=[FinishAfter(**stop)])


@pytest.mark.parametrize("stop", [{"after_n_batches": 6}, {"after_n_epochs": 1}])
def test_a_checkpoint_resumes_the_generators_order_exactly(tmp_path, stop):
    reference = _loop(np.random.RandomState(4), {"after_n_epochs": 3})
    reference.run()
    first = _loop(np.random.RandomState(4), stop)
    first.run()
    path = tmp_path / "c.tar"
    save_checkpoint(path, first)
    other = np.random.RandomState(999)  # another generator: the checkpoint says where Fuel's one stood
    second = _loop(other, {"after_n_epochs": 3})
    load_main_loop_state(second, path)
    second.run()
    assert first.algorithm.seen + second.algorithm.seen == reference.algorithm.seen
    assert second.data_stream.iteration_scheme.rng is other


def test_a_seeded_checkpoint_loads_into_a_scheme_given_a_generator(tmp_path):
    first = _loop(7, {"after_n_batches": 2})
    first.run()
    saved = first.data_stream.state_dict()["scheme"]
    assert "random_state" not in saved and "version" not in saved  # the layout seeded schemes always had
    path = tmp_path / "c.tar"
    save_checkpoint(path, first)
    second = _loop(np.random.RandomState(1), {"after_n_epochs": 2})
    load_main_loop_state(second, path)
    second.run()
    reference = _loop(7, {"after_n_epochs": 2})
    reference.run()
    assert first.algorithm.seen + second.algorithm.seen == reference.algorithm.seen
    assert second.data_stream.iteration_scheme.seed == 7


def test_the_old_state_layout_and_a_generator_state_load_into_either_kind():
    seeded = ShuffledScheme(6, 2, rng=1)
    drawing = ShuffledScheme(6, 2, rng=np.random.RandomState(5))
    _epoch(drawing, 0)
    saved = json.loads(json.dumps(drawing.state_dict(), default=lambda a: a.tolist()))
    assert saved["version"] == 2
    seeded.load_state_dict(saved)
    assert seeded.seed is None and _epoch(seeded, 0) == _epoch(drawing, 0)
    assert _epoch(seeded, 1) == _epoch(drawing, 1)
    drawing.load_state_dict({"seed": 3, "epoch": 0})
    assert drawing.seed == 3 and _epoch(drawing, 2) == _epoch(ShuffledScheme(6, 2, rng=3), 2)


def test_a_malformed_or_newer_state_changes_nothing():
    random_state = np.random.RandomState(5)
    scheme = ShuffledScheme(6, 2, rng=random_state)
    _epoch(scheme, 0)
    good = scheme.state_dict()
    before = random_state_to_dict(random_state)["key"].copy()
    bad_key = {**good, "random_state": {"epoch": 0, "start": {**good["random_state"]["start"], "key": [1, 2]}}}
    bad_pos = {**good, "random_state": {"epoch": 0, "start": {**good["random_state"]["start"], "pos": 900}}}
    for state, match in ((bad_key, "624"), (bad_pos, "pos"), ({**good, "version": 3}, "version"),
                         ({**good, "random_state": {"epoch": -1, "start": {}}}, "epoch"),
                         ({**good, "epoch": "x"}, "epoch")):
        with pytest.raises(ValueError, match=match):
            scheme.load_state_dict(state)
        assert np.array_equal(random_state_to_dict(random_state)["key"], before)
    with pytest.raises(ValueError, match="RandomState"):
        BootstrapScheme(6, 2).load_state_dict(good)


def test_a_damaged_stream_state_is_refused_and_changes_nothing():
    first = _loop(np.random.RandomState(4), {"after_n_batches": 2})
    first.run()
    state = first.state_dict()
    state["data"]["stream"]["scheme"]["random_state"]["start"]["has_gauss"] = 7
    random_state = np.random.RandomState(4)
    second = _loop(random_state, {"after_n_epochs": 1})
    before = random_state_to_dict(random_state)["key"].copy()
    with pytest.raises(ValueError, match="has_gauss"):
        second.load_state_dict(state)
    assert np.array_equal(random_state_to_dict(random_state)["key"], before)
    after = second.data_stream.state_dict()
    assert after["epoch"] == 0 and after["scheme"]["random_state"]["epoch"] is None


def test_other_processes_refuse_a_scheme_drawing_from_a_generator(monkeypatch):
    def stream(rng):
        return DataStream(IndexableDataset({"x": np.arange(6)}), iteration_scheme=ShuffledScheme(6, 2, rng=rng))

    with pytest.raises(ValueError, match="int seed"):
        MultiProcessing(stream(np.random.RandomState(0)))
    nested = ConcatenatedScheme([SequentialExampleScheme(2), ShuffledExampleScheme(3, rng=np.random.RandomState(0))])
    with pytest.raises(ValueError, match="int seed"):
        MultiProcessing(DataStream(IndexableDataset({"x": np.arange(5)}), iteration_scheme=nested))
    with pytest.raises(ValueError, match="int seed"):
        DataServer(stream(np.random.RandomState(0)), port=0)
    server = DataServer(stream(3), port=0)
    server.stop()

    import torch.utils.data

    from fuel.interop import StreamDataset

    class Info:
        num_workers, id = 1, 0

    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: Info())
    with pytest.raises(ValueError, match="int seed"):
        list(StreamDataset(stream(np.random.RandomState(0))))
    assert len(list(StreamDataset(stream(3)))) == 3


def test_epoch_permutations_state_before_any_draw_is_the_generators_state_now():
    random_state = np.random.RandomState(8)
    random_state.rand(3)
    draws = EpochPermutations(random_state)
    saved = draws.state_dict()
    assert saved["epoch"] is None
    expected = np.random.RandomState(8)
    expected.rand(3)
    again = EpochPermutations(np.random.RandomState(0))
    again.load_state_dict(saved, 4)
    assert again.permutation(0, 4).tolist() == expected.permutation(4).tolist()
    with pytest.raises(ValueError, match="RandomState"):
        EpochPermutations(np.random.default_rng(0))
