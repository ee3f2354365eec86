"""Triggers, conditions, predicates, CallbackName, CompositeExtension, FinishAfter, lazy Checkpoint."""

from __future__ import annotations

import sys
import types

import numpy
import pytest

import blocks.extensions as extensions_module
from blocks.algorithms import TrainingAlgorithm
from blocks.extensions import (
    CallbackName,
    CompositeExtension,
    FinishAfter,
    OnLogRecord,
    SimpleExtension,
    TrainingExtension,
    UnknownCallbackError,
)
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream


class Nothing(TrainingAlgorithm):
    def initialize(self):
        pass

    def process_batch(self, batch):
        pass


class Fires(SimpleExtension):
    def __init__(self, calls, **kwargs):
        super().__init__(**kwargs)
        self.calls = calls

    def do(self, which_callback, *args):
        status = self.main_loop.status
        self.calls.append((str(which_callback), status["iterations_done"], status["epochs_done"], args))


def run(extensions, batches_per_epoch=3, epochs=3, error=False):
    class Algorithm(Nothing):
        def process_batch(self, batch):
            if error:
                raise RuntimeError("fail")

    stream = DataStream(
        IndexableDataset({"x": numpy.zeros(batches_per_epoch)}), iteration_scheme=SequentialScheme(batches_per_epoch, 1)
    )
    loop = MainLoop(
        Algorithm(), stream, log=TrainingLog(), extensions=[*extensions, FinishAfter(after_n_epochs=epochs)]
    )
    if error:
        with pytest.raises(RuntimeError):
            loop.run()
    else:
        loop.run()
    return loop


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("before_training", [("before_training", 0, 0)]),
        ("before_first_epoch", [("before_epoch", 0, 0)]),
        ("before_epoch", [("before_epoch", 0, 0), ("before_epoch", 2, 1)]),
        ("after_epoch", [("after_epoch", 2, 1), ("after_epoch", 4, 2)]),
        ("after_training", [("after_training", 4, 2)]),
        ("before_batch", [("before_batch", i, i // 2) for i in range(4)]),
        ("after_batch", [("after_batch", i + 1, i // 2) for i in range(4)]),
    ],
)
def test_boolean_triggers(trigger, expected):
    calls = []
    run([Fires(calls, **{trigger: True})], batches_per_epoch=2, epochs=2)
    assert [c[:3] for c in calls] == expected


def test_batch_callbacks_receive_the_batch():
    calls = []
    run([Fires(calls, after_batch=True)], batches_per_epoch=1, epochs=1)
    (batch,) = calls[0][3]
    assert set(batch) == {"x"} and batch["x"].shape == (1,)


@pytest.mark.parametrize(
    ("trigger", "value", "expected"),
    [
        ("after_n_epochs", 2, [("after_epoch", 6, 2)]),
        ("every_n_epochs", 2, [("after_epoch", 6, 2), ("after_epoch", 12, 4)]),
        ("after_n_batches", 4, [("after_batch", 4, 1)]),
        ("every_n_batches", 5, [("after_batch", 5, 1), ("after_batch", 10, 3)]),
    ],
)
def test_counting_triggers(trigger, value, expected):
    calls = []
    run([Fires(calls, **{trigger: value})], epochs=4)
    assert [c[:3] for c in calls] == expected


def test_every_n_seconds(monkeypatch):
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr("blocks.extensions.base._clock", lambda: next(clock))
    calls = []
    run([Fires(calls, every_n_seconds=2)], batches_per_epoch=7, epochs=1)
    # first batch starts the clock at 0; then 1, 2 (fire), 3, 4 (fire), 5, 6 (fire)
    assert [c[1] for c in calls] == [3, 5, 7]


def test_on_error_and_on_resumption_triggers():
    calls = []
    loop = run([Fires(calls, on_error=True)], error=True)
    assert [c[0] for c in calls] == ["on_error"] and isinstance(calls[0][3][0], RuntimeError)
    calls = []
    first = run([Fires(calls, on_resumption=True)], epochs=1)
    second = MainLoop(
        Nothing(),
        first.data_stream,
        log=TrainingLog(),
        extensions=[Fires(calls, on_resumption=True), FinishAfter(after_n_epochs=2)],
    )
    second.load_state_dict(first.state_dict())
    second.run()
    assert [c[:3] for c in calls] == [("on_resumption", 3, 1)]
    assert loop.status["iterations_done"] == 0


def test_on_interrupt_trigger():
    calls = []

    class Interrupt(TrainingExtension):
        def after_batch(self, batch):
            if self.main_loop.status["iterations_done"] == 2:
                import signal

                self.main_loop._handle_signal(signal.SIGINT, None)

    loop = run([Interrupt(), Fires(calls, on_interrupt=True)], epochs=5)
    assert [c[:3] for c in calls] == [("on_interrupt", 2, 0)]
    assert loop.status["epochs_done"] == 1


def test_set_conditions_replaces_and_add_condition_with_predicate_and_arguments():
    calls = []
    ext = Fires(calls, after_batch=True).set_conditions(after_epoch=True)

    class Mark(SimpleExtension):
        def do(self, which_callback, *args):
            if self.main_loop.status["epochs_done"] == 2:
                self.main_loop.log.current_row["best"] = True

    ext.add_condition(["after_epoch"], OnLogRecord("best"), arguments=("saved",))
    run([Mark(after_epoch=True), ext], epochs=3)
    assert [(c[0], c[2], c[3]) for c in calls] == [
        ("after_epoch", 1, ()),
        ("after_epoch", 2, ()),
        ("after_epoch", 2, ("saved",)),
        ("after_epoch", 3, ()),
    ]
    assert SimpleExtension.parse_args("after_batch", ({"x": 1}, "saved")) == (({"x": 1},), ("saved",))
    assert SimpleExtension.parse_args("after_epoch", ("saved",)) == ((), ("saved",))
    assert ext.state_dict() == {"fired": {"after_epoch": 4}}
    fresh = Fires([], after_epoch=True)
    fresh.load_state_dict(ext.state_dict())
    assert fresh.fired == {"after_epoch": 4}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"after_bach": True}, "unknown trigger"),
        ({"every_n_batches": -2}, "positive integer"),
        ({"every_n_epochs": 1.5}, "positive integer"),
        ({"every_n_seconds": -1}, "positive number"),
    ],
)
def test_bad_triggers_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Fires([], **kwargs)


def test_add_condition_rejects_unknown_callbacks():
    with pytest.raises(ValueError, match="is not a callback"):
        Fires([]).add_condition(["after_epochs"])


def test_callback_name_refuses_unknown_names():
    assert CallbackName("after_batch") == "after_batch"
    assert CallbackName("after_batch") != "after_epoch"
    with pytest.raises(UnknownCallbackError):
        CallbackName("after_batch") == "afterbatch"  # noqa: B015
    assert issubclass(UnknownCallbackError, TypeError) and issubclass(UnknownCallbackError, ValueError)


def test_training_extension_responds_only_to_overridden_callbacks_and_needs_a_loop():
    class Epochs(TrainingExtension):
        def after_epoch(self):
            pass

    ext = Epochs(name="epochs")
    assert ext.name == "epochs"
    assert [ext.responds_to(c) for c in ("after_epoch", "after_batch")] == [True, False]
    assert not ext.is_attached
    with pytest.raises(ValueError, match="not attached"):
        ext.main_loop
    with pytest.raises(ValueError, match="must be a string"):
        TrainingExtension(name=3)


def test_is_attached_follows_the_main_loop_of_plain_and_composite_extensions():
    seen = []

    class Sees(SimpleExtension):
        def do(self, which_callback, *args):
            seen.append((self.is_attached, self.main_loop))

    child = Sees(name="child", after_epoch=True)
    composite = CompositeExtension([child], name="parent")
    plain = Sees(name="plain", after_training=True)
    assert not (child.is_attached or composite.is_attached or plain.is_attached)
    loop = run([composite, plain], epochs=1)
    assert child.is_attached and composite.is_attached and plain.is_attached
    assert seen == [(True, loop), (True, loop)] and child.main_loop is loop


def test_composite_extension_state_and_children():
    calls = []
    child = Fires(calls, name="child", after_epoch=True)
    composite = CompositeExtension([child], name="parent", every_n_epochs=1)
    twins = CompositeExtension([Fires([]), Fires([])])  # Blocks allowed children of one class and name
    assert list(twins.state_dict()["children"]) == ["Fires", "Fires#2"]
    with pytest.raises(ValueError, match="TrainingExtension"):
        CompositeExtension([object()])
    run([composite], epochs=2)
    assert [c[2] for c in calls] == [1, 2]
    state = composite.state_dict()
    assert state == {"self": {"fired": {"after_epoch": 2}}, "children": {"child": {"fired": {"after_epoch": 2}}}}
    other = CompositeExtension([Fires([], name="child")], name="parent")
    other.load_state_dict(state)
    assert other.sub_extensions[0].fired == {"after_epoch": 2} and other.fired == {"after_epoch": 2}


def test_finish_after_writes_the_request():
    loop = run([FinishAfter(name="stop", after_n_batches=2)], epochs=5)
    assert loop.log[2]["training_finish_requested"] is True
    assert loop.status["iterations_done"] == 2


def test_on_log_record_predicate():
    with pytest.raises(ValueError, match="non-empty"):
        OnLogRecord("")
    log = TrainingLog()
    assert OnLogRecord("x")(log) is False
    log.current_row["x"] = 0
    assert OnLogRecord("x")(log) is False
    log.current_row["x"] = 1
    assert OnLogRecord("x")(log) is True


def test_checkpoint_and_load_are_reexported_lazily(monkeypatch):
    fake = types.ModuleType("blocks.extensions.saveload")
    fake.Checkpoint = type("Checkpoint", (), {})
    fake.Load = type("Load", (), {})
    monkeypatch.setitem(sys.modules, "blocks.extensions.saveload", fake)
    monkeypatch.delitem(extensions_module.__dict__, "Checkpoint", raising=False)
    monkeypatch.delitem(extensions_module.__dict__, "Load", raising=False)
    from blocks.extensions import Checkpoint, Load

    assert Checkpoint is fake.Checkpoint and Load is fake.Load
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        extensions_module.Nope  # noqa: B018


def test_core_registers_finish_after(plugin_host):
    from blocks.plugins import resolve

    assert resolve("extensions", "finish_after") is FinishAfter
