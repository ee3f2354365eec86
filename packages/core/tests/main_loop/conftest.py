"""Small doubles for main-loop tests: an algorithm that records batches, a recording extension."""

from __future__ import annotations

import numpy
import pytest

from blocks.algorithms import TrainingAlgorithm
from blocks.extensions import CALLBACK_NAMES, TrainingExtension
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream


class RecordingAlgorithm(TrainingAlgorithm):
    """Records every batch; optionally fails at a given batch number (1-based)."""

    def __init__(self, fail_at=None, events=None):
        self.fail_at = fail_at
        self.events = events if events is not None else []
        self.batches = []
        self.initialized = 0
        self.loaded = None

    def initialize(self):
        self.initialized += 1
        self.events.append("initialize")

    def process_batch(self, batch):
        if self.fail_at is not None and len(self.batches) + 1 == self.fail_at:
            raise RuntimeError("boom")
        self.batches.append(batch["x"].tolist())
        self.events.append("process_batch")

    def state_dict(self):
        return {"batches_seen": len(self.batches)}

    def load_state_dict(self, state):
        self.events.append("load_algorithm_state")
        self.loaded = dict(state)


class Recorder(TrainingExtension):
    """Records (name, callback, iterations_done, epochs_done) for every callback."""

    def __init__(self, events, name=None):
        super().__init__(name=name)
        self.events = events

    def _record(self, callback):
        status = self.main_loop.status
        self.events.append((self.name, callback, status["iterations_done"], status["epochs_done"]))


def _make_callback(callback):
    if callback in ("before_batch", "after_batch", "on_error"):

        def method(self, arg):
            self._record(callback)

    else:

        def method(self):
            self._record(callback)

    method.__name__ = callback
    return method


for _callback in CALLBACK_NAMES:
    setattr(Recorder, _callback, _make_callback(_callback))


def make_stream(num_examples=8, batch_size=3, seed=1):
    dataset = IndexableDataset({"x": numpy.arange(float(num_examples))})
    return DataStream(dataset, iteration_scheme=ShuffledScheme(num_examples, batch_size, rng=seed))


@pytest.fixture
def doubles():
    return {"RecordingAlgorithm": RecordingAlgorithm, "Recorder": Recorder, "make_stream": make_stream}
