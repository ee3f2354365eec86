"""MultiProcessing(workers=N): equal to the serial stream for any N, resumes with any N, fails and stops cleanly."""

from __future__ import annotations

import gc
import json
import os
import signal
import time

import numpy as np
import pytest

from fuel.datasets import IndexableDataset
from fuel.schemes import ConstantScheme, SequentialScheme, ShuffledScheme
from fuel.streams import DataStream
from fuel.transformers import Batch, Filter, Mapping, MultiProcessing, RandomFixedSizeCrop, Rename, Transformer
from fuel.transformers.background import RemoteTraceback, WorkerDiedError, check_pool_safe

SHM = "/dev/shm"


def _tags(data):
    images, labels = data
    return ([f"label {int(v)}" for v in labels.reshape(-1)],)


def _pipeline(n=41, batch=5):
    """Shuffled batches (the last one short), a random crop, a mapping that adds a non-array source, a rename."""
    images = np.arange(n * 2 * 6 * 6, dtype="float32").reshape(n, 2, 6, 6)
    ds = IndexableDataset({"x": images, "y": np.arange(n).reshape(n, 1)},
                          axis_labels={"x": ("batch", "channel", "height", "width"), "y": ("batch", "index")})
    stream = DataStream(ds, iteration_scheme=ShuffledScheme(n, batch, rng=2))
    stream = RandomFixedSizeCrop(stream, (3, 4), which_sources=("x",), rng=4)
    stream = Mapping(stream, _tags, add_sources=("tag",))
    return Rename(stream, {"y": "label"})


def _serial(epochs=2, **kwargs):
    """Every batch of ``epochs`` epochs, with the cursor state after it."""
    stream = _pipeline(**kwargs)
    out = []
    for _ in range(epochs):
        it = stream.get_epoch_iterator()
        out.append([(_plain(batch), it.state_dict()["cursor"]) for batch in it])
    return out


def _plain(batch):
    return tuple(b.tolist() if isinstance(b, np.ndarray) else b for b in batch)


def _segments(pool):
    prefix = pool.workers[0].prefix.rsplit("_", 2)[0]
    return sorted(name for name in os.listdir(SHM) if name.startswith(prefix))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_pool_output_and_states_equal_the_serial_stream(workers):
    reference = _serial()
    stream = MultiProcessing(_pipeline(), max_store=4, workers=workers)
    try:
        for epoch in reference:  # the second epoch is the one the workers computed speculatively
            it = stream.get_epoch_iterator()
            got = [(_plain(batch), it.state_dict()["cursor"]["child"]) for batch in it]
            assert got == epoch
    finally:
        stream.close()


def test_resume_at_random_positions_with_the_number_of_workers_changed():
    reference = [batch for batch, _ in _serial(epochs=1)[0]]
    rng = np.random.default_rng(7)
    for _ in range(5):
        position = int(rng.integers(0, len(reference) + 1))
        before, after = (int(w) for w in rng.integers(1, 4, size=2))
        first = MultiProcessing(_pipeline(), max_store=3, workers=before)
        it = first.get_epoch_iterator()
        head = [_plain(next(it)) for _ in range(position)]
        saved = json.loads(json.dumps({"stream": first.state_dict(), "iterator": it.state_dict()}))
        first.close()
        second = MultiProcessing(_pipeline(), max_store=3, workers=after)
        second.load_state_dict(saved["stream"])
        resumed = second.get_epoch_iterator()
        resumed.load_state_dict(saved["iterator"])
        try:
            assert head + [_plain(b) for b in resumed] == reference, (position, before, after)
        finally:
            second.close()


def _slow(data):
    time.sleep(0.02)
    return data


def test_a_killed_worker_is_a_clear_error_and_the_pool_cleans_up():
    stream = MultiProcessing(Mapping(_pipeline(n=200), _slow), max_store=4, workers=2)
    it = stream.get_epoch_iterator()
    next(it)
    pool = it.cursor.worker
    victim = pool.processes[1]
    os.kill(victim.pid, signal.SIGKILL)
    with pytest.raises(WorkerDiedError, match=r"worker 1 of 2 \(pid \d+\) died \(killed by signal SIGKILL\)"):
        for _ in it:
            pass
    assert pool.closed and not any(p.is_alive() for p in pool.processes)
    assert _segments(pool) == []  # the killed worker's segments were unlinked by the trainer
    stream.close()


def test_shutdown_leaves_no_process_or_segment_and_arrays_outlive_it():
    stream = MultiProcessing(_pipeline(), max_store=4, workers=3)
    it = stream.get_epoch_iterator()
    kept = [next(it) for _ in range(3)]
    pool = it.cursor.worker
    assert _segments(pool)  # shared memory in use
    it.close()
    stream.close()
    assert not any(p.is_alive() for p in pool.processes) and all(p.exitcode == 0 for p in pool.processes)
    assert _segments(pool) == []
    expected = [_plain(b) for b, _ in _serial(epochs=1)[0][:3]]
    assert [_plain(b) for b in kept] == [b for b in expected]  # views of unlinked segments: still valid


def test_batches_kept_by_the_trainer_are_never_overwritten():
    reference = [batch for batch, _ in _serial(epochs=1)[0]]
    stream = MultiProcessing(_pipeline(), max_store=2, workers=2)
    try:
        batches = list(stream.get_epoch_iterator())  # every batch held at once: segments cannot be reused
        batches[0][0][...] = -1  # writable, and writing one batch changes no other
        assert [_plain(b) for b in batches[1:]] == reference[1:]
        del batches
        gc.collect()
        assert [_plain(b) for b in stream.get_epoch_iterator()] == [b for b, _ in _serial()[1]]
    finally:
        stream.close()


def test_read_ahead_is_bounded():
    stream = MultiProcessing(_pipeline(n=300), max_store=4, workers=2)
    try:
        it = stream.get_epoch_iterator()
        next(it)
        pool = it.cursor.worker
        time.sleep(0.5)  # let the workers fill their queues
        # per worker: 2 queued, 1 being handed over, 1 the trainer holds or just released
        assert len(_segments(pool)) <= 2 * 4
        assert all(w.ready._maxsize == 2 for w in pool.workers)
    finally:
        stream.close()


def _explode(data):
    if int(data[1].reshape(-1)[0]) >= 30:
        raise ValueError("bad example in a worker")
    return data


def test_a_worker_error_is_raised_at_its_position():
    base = DataStream(IndexableDataset({"x": np.arange(40), "y": np.arange(40)}),
                      iteration_scheme=SequentialScheme(40, 5))
    serial = Mapping(base, _explode)
    expected = []
    with pytest.raises(ValueError, match="bad example"):
        for batch in serial.get_epoch_iterator():
            expected.append(_plain(batch))
    stream = MultiProcessing(Mapping(base, _explode), max_store=4, workers=3)
    got = []
    try:
        with pytest.raises(ValueError, match="bad example in a worker") as info:
            for batch in stream.get_epoch_iterator():
                got.append(_plain(batch))
        assert got == expected and len(got) == 6
        assert isinstance(info.value.__cause__, RemoteTraceback) and "_explode" in info.value.__cause__.tb
    finally:
        stream.close()


class PairsAsInFuel(Transformer):
    """Fuel's protocol: state in the transformer, two child items per output."""

    def get_data(self, request=None):
        (a,), (b,) = next(self.child_epoch_iterator), next(self.child_epoch_iterator)
        return (a + b,)


def _keep(data):
    return True


def test_streams_a_pool_cannot_split_are_refused_when_built():
    examples = DataStream(IndexableDataset({"x": np.arange(8)}))
    batches = DataStream(IndexableDataset({"x": np.arange(8)}), iteration_scheme=SequentialScheme(8, 2))
    cases = {
        "Fuel's get_data protocol": PairsAsInFuel(examples),
        "Batch does not make each output": Batch(examples, ConstantScheme(2)),
        "Filter does not make each output": Filter(batches, _keep),
        "MultiProcessing cannot move": MultiProcessing(batches),
    }
    for message, stream in cases.items():
        with pytest.raises(ValueError, match=message):
            MultiProcessing(Rename(stream, {"x": "z"}), workers=2)
        MultiProcessing(stream, workers=1)  # one worker computes them in order, as the main process would
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(ValueError, match="workers must be a positive int"):
            MultiProcessing(batches, workers=bad)
    check_pool_safe(Rename(batches, {"x": "z"}), 3)
