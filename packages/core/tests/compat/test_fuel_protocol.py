"""Transformers and streams written for Fuel (``get_data``, ``child_epoch_iterator``, ``get_epoch_iterator``).

Fuel's idiom was to override ``get_data`` and read ``next(self.child_epoch_iterator)``; such a subclass used to be
silently ignored (its data came out untransformed). These tests pin that it runs, resumes exactly (by replaying its
epoch), works in a background worker and through the data server, and that a stale epoch iterator fails loudly.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from fuel.datasets import IndexableDataset, IterableDataset
from fuel.schemes import ConstantScheme, SequentialScheme, ShuffledScheme
from fuel.streams import AbstractDataStream, DataStream
from fuel.transformers import Batch, Mapping, MultiProcessing, Padding, Transformer, Unpack


class Doubler(Transformer):
    """Fuel's idiom: override get_data, read the wrapped stream through child_epoch_iterator."""

    def get_data(self, request=None):
        return tuple(2 * d for d in next(self.child_epoch_iterator))


class RunningPairs(Transformer):
    """Sums pairs of examples plus a per-epoch counter reset in get_epoch_iterator (state in the transformer)."""

    def get_epoch_iterator(self, **kwargs):
        self.count = 0
        return super().get_epoch_iterator(**kwargs)

    def get_data(self, request=None):
        (a,), (b,) = next(self.child_epoch_iterator), next(self.child_epoch_iterator)
        self.count += 1
        return (int(a) + int(b) + 1000 * self.count,)


class EvenOnly(Transformer):
    """Fuel's own Filter: get_epoch_iterator returns a plain iterator over child_epoch_iterator."""

    def get_epoch_iterator(self, **kwargs):
        super().get_epoch_iterator(**kwargs)
        return filter(lambda d: d[0] % 2 == 0, self.child_epoch_iterator)


class TenfoldBatch(Batch):
    """A subclass of a built-in transformer that post-processes super().get_data(request)."""

    def get_data(self, request=None):
        (x,) = super().get_data(request)
        return (x * 10,)


def _examples(n=12, shuffled=False):
    scheme = ShuffledScheme(n, 1, rng=3) if shuffled else None
    stream = DataStream(IndexableDataset({"x": np.arange(n)}), iteration_scheme=scheme)
    return Unpack(stream) if shuffled else stream


BUILDERS = {
    "doubler": lambda: Doubler(_examples()),
    "pairs": lambda: RunningPairs(_examples(shuffled=True)),
    "even": lambda: EvenOnly(_examples()),
    "tenfold-batch": lambda: TenfoldBatch(_examples(), ConstantScheme(5)),
    "batch-of-pairs": lambda: Batch(RunningPairs(_examples()), ConstantScheme(2)),
    "mapping-of-even": lambda: Mapping(EvenOnly(_examples()), lambda d: (d[0] + 1,)),
}


def _plain(epoch):
    return [tuple(np.asarray(v).tolist() for v in data) for data in epoch]


def test_overridden_get_data_is_used_not_skipped():
    assert _plain(Doubler(_examples(4)).get_epoch_iterator()) == [(0,), (2,), (4,), (6,)]
    assert _plain(EvenOnly(_examples(6)).get_epoch_iterator()) == [(0,), (2,), (4,)]
    assert _plain(TenfoldBatch(_examples(5), ConstantScheme(2)).get_epoch_iterator()) == [([0, 10],), ([20, 30],),
                                                                                          ([40],)]
    pairs = RunningPairs(_examples(4))
    assert _plain(pairs.get_epoch_iterator()) == [(1001,), (2005,)]
    assert _plain(pairs.get_epoch_iterator()) == [(1001,), (2005,)]  # the epoch-start code ran again
    assert pairs.sequential and Batch(pairs, ConstantScheme(2)).sequential
    assert not Batch(_examples(), ConstantScheme(2)).sequential


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_resume_mid_epoch_replays_exactly(name, caplog):
    build = BUILDERS[name]
    reference = build()
    epochs = [_plain(reference.get_epoch_iterator(as_dict=False)) for _ in range(3)]
    stream = build()
    list(stream.get_epoch_iterator())
    iterator = stream.get_epoch_iterator(as_dict=True)
    next(iterator), next(iterator)
    saved = json.loads(json.dumps({"stream": stream.state_dict(), "iterator": iterator.state_dict()}))
    resumed = build()
    resumed.load_state_dict(saved["stream"])
    again = resumed.get_epoch_iterator(as_dict=True)
    with caplog.at_level(logging.WARNING, logger="fuel.streams"):
        again.load_state_dict(saved["iterator"])
    assert "replays epoch 1" in caplog.text  # the O(position) resume is said, not hidden
    rest = [tuple(np.asarray(d[s]).tolist() for s in resumed.sources) for d in again]
    assert rest == epochs[1][2:]
    assert _plain(resumed.get_epoch_iterator()) == epochs[2]  # and epoch 2 follows


@pytest.mark.parametrize("name", ["pairs", "even", "tenfold-batch"])
def test_background_worker_runs_the_fuel_transformer_in_order(name):
    build = BUILDERS[name]
    reference = build()
    expected = [_plain(reference.get_epoch_iterator()) for _ in range(3)]
    background = MultiProcessing(build(), max_store=2)
    assert background.sequential  # one worker runs the whole chain in order; a pool must not split it
    try:
        assert [_plain(background.get_epoch_iterator()) for _ in range(2)] == expected[:2]
        iterator = background.get_epoch_iterator()
        next(iterator)
        state = iterator.state_dict()
        resumed = MultiProcessing(build(), max_store=2)
        try:
            again = resumed.get_epoch_iterator()
            again.load_state_dict(state)
            assert _plain(again) == expected[2][1:]
        finally:
            resumed.close()
    finally:
        background.close()


def test_an_older_epoch_iterator_of_a_sequential_stream_fails_loudly():
    stream = RunningPairs(_examples(8))
    first = stream.get_epoch_iterator()
    next(first)
    second = stream.get_epoch_iterator()
    assert _plain([next(second)]) == [(1001,)]
    with pytest.raises(RuntimeError, match="superseded"):
        next(first)  # never a silent read of the newer iterator's data
    assert _plain(second) == [(2005,), (3009,), (4013,)]


def test_data_server_serves_a_fuel_transformer_to_one_client_at_a_time():
    from fuel.server import DataServer, ServerDataStream

    batched = Batch(Doubler(_examples(40)), ConstantScheme(4))
    server = DataServer(batched, port=0, host="127.0.0.1")
    server.start_thread()
    try:
        def client():
            return ServerDataStream(("x",), produces_examples=False, host="127.0.0.1", port=server.port, hwm=1,
                                    timeout=2.0)

        assert _plain(client().get_epoch_iterator())[:2] == [([0, 2, 4, 6],), ([8, 10, 12, 14],)]
        one, two = client().get_epoch_iterator(), client().get_epoch_iterator()
        next(one)
        next(two)  # the newer session supersedes the older one on the server
        with pytest.raises(Exception, match="superseded"):
            list(one)
    finally:
        server.stop()


def test_custom_abstract_stream_with_get_data_only():
    class Countdown(AbstractDataStream):
        def get_epoch_iterator(self, **kwargs):
            self.left = 3
            return super().get_epoch_iterator(**kwargs)

        def get_data(self, request=None):
            if request is not None:
                raise ValueError("no requests")
            if not self.left:
                raise StopIteration
            self.left -= 1
            return (self.left,)

    stream = Countdown(produces_examples=True)
    stream.sources = ("n",)
    assert _plain(stream.get_epoch_iterator()) == [(2,), (1,), (0,)]
    assert [d["n"] for d in stream.get_epoch_iterator(as_dict=True)] == [2, 1, 0]
    assert _plain(Batch(stream, ConstantScheme(2)).get_epoch_iterator()) == [([2, 1],), ([0],)]


def test_custom_stream_with_a_scheme_gets_each_request():
    class Squares(AbstractDataStream):
        sources = ("sq",)

        def get_data(self, request=None):
            return (np.asarray(request) ** 2,)

    stream = Squares(iteration_scheme=SequentialScheme(5, 2))
    assert _plain(stream.get_epoch_iterator()) == [([0, 1],), ([4, 9],), ([16],)]
    assert not stream.produces_examples


def test_fuel_get_data_on_builtin_transformers_checks_the_request():
    examples = DataStream(IterableDataset([1, 2, 3]))
    for transformer in (Mapping(examples, lambda d: d), Unpack(Batch(examples, ConstantScheme(2))),
                        MultiProcessing(examples), Padding(Batch(examples, ConstantScheme(2)))):
        with pytest.raises(ValueError, match="takes no request"):
            transformer.get_data([0, 1])
    batch = Batch(examples, ConstantScheme(2))
    with pytest.raises(ValueError, match="request"):
        batch.get_data(None)
    with pytest.raises(ValueError, match="no epoch is open"):
        Mapping(examples, lambda d: d).get_data()
    mapping = Mapping(DataStream(IterableDataset([5, 6])), lambda d: (d[0] + 1,))
    mapping.get_epoch_iterator()  # Fuel kept the newest epoch: get_data reads it even if the iterator is dropped
    assert mapping.get_data() == (6,) and mapping.get_data() == (7,)
    batch.get_epoch_iterator()
    assert batch.get_data(3)[0].tolist() == [1, 2, 3]  # the given request, not the scheme's


def test_abstract_stream_without_any_protocol_says_what_to_implement():
    class Nothing(AbstractDataStream):
        sources = ("x",)

    with pytest.raises(NotImplementedError, match="open_cursor nor Fuel's get_data"):
        next(Nothing(produces_examples=True).get_epoch_iterator())
    with pytest.raises(AttributeError, match="has no sources"):
        AbstractDataStream(produces_examples=True).sources


def test_server_stream_keeps_fuels_stream_api():
    from fuel.server import ServerDataStream

    stream = ServerDataStream(("f", "t"), produces_examples=False, port=5599)
    with pytest.raises(ValueError, match="takes no request"):
        stream.get_data([0, 1])
    stream.close(), stream.next_epoch(), stream.reset()
    assert stream.epoch == 0


def test_an_own_resumable_epoch_iterator_is_returned_as_it_is():
    class Own:
        def __iter__(self):
            return iter([(1,)])

        def state_dict(self):
            return {"mine": True}

    class Custom(AbstractDataStream):
        sources = ("x",)

        def get_epoch_iterator(self, **kwargs):
            return Own()

    assert Custom(produces_examples=True).get_epoch_iterator().state_dict() == {"mine": True}


def test_dataloader_workers_refuse_a_sequential_stream(monkeypatch):
    torch = pytest.importorskip("torch")
    from fuel.interop import StreamDataset

    class Info:
        num_workers, id = 2, 0

    class EveryOther(IndexableDataset):  # a dataset whose epochs come from its state
        def next_epoch(self, state):
            return state

    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: Info())
    stream = DataStream(EveryOther({"x": np.arange(4)}), iteration_scheme=SequentialScheme(4, 2))
    with pytest.raises(ValueError, match="keep no state"):
        list(StreamDataset(stream))


def test_main_loop_resumes_a_fuel_transformer_mid_epoch_exactly():
    from blocks.algorithms import TrainingAlgorithm
    from blocks.extensions import FinishAfter
    from blocks.main_loop import MainLoop

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

    def run(stop, state=None):
        loop = MainLoop(Record(), Batch(RunningPairs(_examples(16, shuffled=True)), ConstantScheme(3)),
                        extensions=[FinishAfter(**stop)])
        if state is not None:
            loop.load_state_dict(json.loads(json.dumps(state)))
        loop.run()
        return loop

    reference = run({"after_n_epochs": 2}).algorithm.seen
    first = run({"after_n_batches": 4})
    second = run({"after_n_epochs": 2}, first.state_dict())
    assert len(reference) == 6 and all(v >= 1000 for batch in reference for v in batch)  # transformed
    assert first.algorithm.seen + second.algorithm.seen == reference
