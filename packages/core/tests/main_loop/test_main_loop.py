"""MainLoop: run sequence, ordering, finishing, errors, interrupts, state and resume."""

from __future__ import annotations

import signal
import sys
import types

import pytest

from blocks.extensions import CompositeExtension, FinishAfter, SimpleExtension, TrainingExtension
from blocks.log import SQLiteLog, TrainingLog
from blocks.main_loop import MainLoop, TrainingFinish


def test_run_sequence_matches_blocks(doubles):
    events = []
    loop = MainLoop(
        doubles["RecordingAlgorithm"](events=events),
        doubles["make_stream"](num_examples=4, batch_size=2),
        log=TrainingLog(),
        extensions=[doubles["Recorder"](events), FinishAfter(after_n_epochs=2)],
    )
    loop.run()
    calls = [(e[1], e[2], e[3]) if isinstance(e, tuple) else e for e in events]
    epoch = lambda it, ep: [  # noqa: E731
        ("before_epoch", it, ep),
        ("before_batch", it, ep),
        "process_batch",
        ("after_batch", it + 1, ep),
        ("before_batch", it + 1, ep),
        "process_batch",
        ("after_batch", it + 2, ep),
        ("after_epoch", it + 2, ep + 1),
    ]
    assert calls == [("before_training", 0, 0), "initialize", *epoch(0, 0), *epoch(2, 1), ("after_training", 4, 2)]
    assert loop.status["_epoch_ends"] == [2, 4]
    assert loop.log.current_row["training_finished"] is True
    assert loop.status["training_started"] and not loop.status["epoch_started"]


def test_extensions_run_in_list_order_composite_children_at_its_position(doubles):
    events = []
    Recorder = doubles["Recorder"]

    class Own(SimpleExtension):
        def do(self, which_callback, *args):
            events.append((self.name, str(which_callback), 0, 0))

    after = CompositeExtension([Recorder(events, "c1"), Recorder(events, "c2")], name="after", after_epoch=True)
    after.do = lambda which, *args: events.append(("after-self", str(which), 0, 0))
    before = CompositeExtension([Recorder(events, "d1")], run_before_children=False, name="before", after_epoch=True)
    before.do = lambda which, *args: events.append(("before-self", str(which), 0, 0))
    loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](num_examples=2, batch_size=2),
        log=TrainingLog(),
        extensions=[Recorder(events, "a"), after, before, Recorder(events, "z"), FinishAfter(after_n_epochs=1)],
    )
    loop.run()
    after_epoch = [e[0] for e in events if e[1] == "after_epoch"]
    assert after_epoch == ["a", "after-self", "c1", "c2", "d1", "before-self", "z"]
    assert loop.find_extension("c2").name == "c2"
    with pytest.raises(ValueError, match="no extension named 'nope'"):
        loop.find_extension("nope")


def test_only_responding_extensions_are_called_and_conditions_refresh(doubles):
    calls = []

    class Late(SimpleExtension):
        def do(self, which_callback, *args):
            calls.append((str(which_callback), self.main_loop.status["iterations_done"]))
            if which_callback == "before_training":
                self.set_conditions(every_n_batches=2)

    class Silent(TrainingExtension):
        def dispatch(self, callback_invoked, *args):  # would record any callback it were given
            calls.append(("silent", callback_invoked))

    loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](num_examples=6, batch_size=2),
        log=TrainingLog(),
        extensions=[Late(before_training=True), Silent(), FinishAfter(after_n_batches=5)],
    )
    loop.run()
    assert calls == [("before_training", 0), ("after_batch", 2), ("after_batch", 4)]
    assert loop.status["iterations_done"] == 5  # stopped mid-epoch exactly at the requested batch


def test_duplicate_names_bad_log_and_missing_model_raise(doubles):
    stream = doubles["make_stream"]()
    twins = MainLoop(doubles["RecordingAlgorithm"](), stream, log=TrainingLog(),
                     extensions=[FinishAfter(), FinishAfter()])
    assert list(twins.state_dict()["extensions"]) == ["FinishAfter", "FinishAfter#2"]  # Blocks allowed twins
    with pytest.raises(ValueError, match="TrainingLogBase"):
        MainLoop(doubles["RecordingAlgorithm"](), stream, log=object())
    loop = MainLoop(doubles["RecordingAlgorithm"](), stream, log=TrainingLog())
    with pytest.raises(ValueError, match="no model"):
        loop.model


def test_default_log_comes_from_the_registry(doubles, plugin_host):
    loop = MainLoop(doubles["RecordingAlgorithm"](), doubles["make_stream"]())
    assert type(loop.log).__name__ == "TrainingLog"
    loop = MainLoop(doubles["RecordingAlgorithm"](), doubles["make_stream"](), log="sqlite")
    assert isinstance(loop.log, SQLiteLog)


def test_epoch_with_zero_batches_is_a_value_error(doubles):
    class Empty:
        def get_epoch_iterator(self, as_dict=False):
            return iter([])

    loop = MainLoop(doubles["RecordingAlgorithm"](), Empty(), log=TrainingLog())
    with pytest.raises(ValueError, match="zero batches"):
        loop.run()


def test_exhausted_stream_finishes_training(doubles):
    events = []

    class TwoEpochs:
        def __init__(self):
            self.epochs = 0

        def get_epoch_iterator(self, as_dict=False):
            if self.epochs == 2:
                raise StopIteration
            self.epochs += 1
            import numpy

            return iter([{"x": numpy.zeros(1)}])

    loop = MainLoop(
        doubles["RecordingAlgorithm"](), TwoEpochs(), log=TrainingLog(), extensions=[doubles["Recorder"](events)]
    )
    loop.run()
    assert loop.status["epochs_done"] == 2
    assert events[-1][1] == "after_training"


def test_training_finish_raised_by_an_extension(doubles):
    events = []

    class Stop(TrainingExtension):
        def after_batch(self, batch):
            raise TrainingFinish

    loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[Stop(), doubles["Recorder"](events)],
    )
    loop.run()
    assert loop.status["iterations_done"] == 1
    assert [e[1] for e in events][-1] == "after_training"


def test_on_error_runs_extensions_then_reraises_the_original_error(doubles, caplog):
    events = []
    seen = []

    class Broken(TrainingExtension):
        def on_error(self, exception):
            raise KeyError("inside on_error")

    class Keep(TrainingExtension):
        def on_error(self, exception):
            seen.append(exception)

    before = signal.getsignal(signal.SIGINT)
    loop = MainLoop(
        doubles["RecordingAlgorithm"](fail_at=3),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[doubles["Recorder"](events), Broken(), Keep()],
    )
    with pytest.raises(RuntimeError, match="boom") as info:
        loop.run()
    assert seen == [info.value]  # the same object, after a failing on_error extension
    assert "inside on_error" in caplog.text
    assert [e[1] for e in events][-1] == "on_error"
    assert "after_training" not in [e[1] for e in events]
    assert "RuntimeError: boom" in loop.log.current_row["got_exception"]
    assert signal.getsignal(signal.SIGINT) is before


def test_interrupts_in_process(doubles):
    """First SIGINT: finish the epoch; second: finish the batch; on_interrupt dispatched at boundaries."""
    interrupts = []

    class Interrupter(TrainingExtension):
        def __init__(self, at, signals):
            super().__init__()
            self.at, self.signals = at, signals

        def after_batch(self, batch):
            if self.main_loop.status["iterations_done"] in self.at:
                for signum in self.signals:
                    self.main_loop._handle_signal(signum, None)

        def on_interrupt(self):
            interrupts.append(self.main_loop.status["iterations_done"])

    handler = signal.getsignal(signal.SIGINT)
    epoch_loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](num_examples=8, batch_size=2),
        log=TrainingLog(),
        extensions=[Interrupter({2}, [signal.SIGINT])],
    )
    epoch_loop.run()
    assert epoch_loop.status["iterations_done"] == 4 and epoch_loop.status["epochs_done"] == 1
    assert epoch_loop.status["epoch_interrupt_received"] and not epoch_loop.status["batch_interrupt_received"]
    assert interrupts == [2]
    assert signal.getsignal(signal.SIGINT) is handler

    interrupts.clear()
    batch_loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](num_examples=8, batch_size=2),
        log=TrainingLog(),
        extensions=[Interrupter({1, 2}, [signal.SIGINT])],
    )
    batch_loop.run()
    assert batch_loop.status["iterations_done"] == 2 and batch_loop.status["batch_interrupt_received"]
    assert interrupts == [1, 2]

    term_loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](num_examples=8, batch_size=2),
        log=TrainingLog(),
        extensions=[Interrupter({3}, [signal.SIGTERM])],
    )
    term_loop.run()
    assert term_loop.status["iterations_done"] == 3 and term_loop.log[3]["batch_interrupt_received"]


def _run_reference(doubles, epochs):
    algorithm = doubles["RecordingAlgorithm"]()
    loop = MainLoop(
        algorithm, doubles["make_stream"](), log=TrainingLog(), extensions=[FinishAfter(after_n_epochs=epochs)]
    )
    loop.run()
    return algorithm.batches


@pytest.mark.parametrize("log_factory", ["python", "sqlite"])
def test_state_dict_resumes_mid_epoch_exactly(doubles, tmp_path, log_factory):
    make_log = (lambda: TrainingLog()) if log_factory == "python" else (lambda: SQLiteLog(str(tmp_path / "log.db")))
    reference = _run_reference(doubles, 3)  # 3 batches per epoch
    first_events = []
    first = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=make_log(),
        extensions=[FinishAfter(after_n_batches=4), doubles["Recorder"](first_events)],
    )
    first.log.current_row["marker"] = "first run"
    first.run()
    state = first.state_dict()
    assert set(state) == {"status", "log", "extensions", "algorithm", "data"}
    assert state["data"]["iterator"] is not None and state["status"]["epoch_started"] is True
    assert state["algorithm"] == {"batches_seen": 4}
    assert set(state["extensions"]) == {"FinishAfter", "Recorder"}

    events = []
    algorithm = doubles["RecordingAlgorithm"](events=events)
    second = MainLoop(
        algorithm,
        doubles["make_stream"](),
        log=make_log(),
        extensions=[FinishAfter(after_n_epochs=3), doubles["Recorder"](events)],
    )
    second.load_state_dict(state)
    second.run()
    assert first.algorithm.batches + algorithm.batches == reference
    kinds = [e[1] if isinstance(e, tuple) else e for e in events]
    assert kinds[:3] == ["on_resumption", "initialize", "load_algorithm_state"]
    assert "before_training" not in kinds and kinds[3] == "before_batch"  # continues mid-epoch
    assert algorithm.loaded == {"batches_seen": 4}
    assert second.status["iterations_done"] == 9 and second.status["_epoch_ends"] == [3, 6, 9]
    assert second.status["resumed_from"] == first.log.uuid
    assert second.log[0]["marker"] == "first run"  # one log across the resumption
    assert second.log[4]["training_finish_requested"] is True


def test_state_at_an_epoch_boundary_starts_the_next_epoch(doubles):
    reference = _run_reference(doubles, 2)
    first = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_epochs=1)],
    )
    first.run()
    state = first.state_dict()
    assert state["data"]["iterator"] is None
    second = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_epochs=2)],
    )
    second.load_state_dict(state)
    second.run()
    assert first.algorithm.batches + second.algorithm.batches == reference


def test_load_state_dict_rejects_incomplete_state(doubles):
    loop = MainLoop(doubles["RecordingAlgorithm"](), doubles["make_stream"](), log=TrainingLog())
    with pytest.raises(ValueError, match="lacks"):
        loop.load_state_dict({"status": {}})


def test_resume_and_environment_variable(doubles, monkeypatch):
    first = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_batches=2)],
    )
    first.run()
    saved = {"ckpt.tar": first.state_dict()}
    calls = []

    def load_main_loop_state(main_loop, path, **options):
        calls.append(path)
        main_loop.load_state_dict(saved[path])

    fake = types.ModuleType("blocks.serialization")
    fake.load_main_loop_state = load_main_loop_state
    monkeypatch.setitem(sys.modules, "blocks.serialization", fake)
    monkeypatch.setenv("BLOCKS_RESUME_FROM", "ckpt.tar")
    events = []
    second = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_batches=4), doubles["Recorder"](events)],
    )
    second.run()
    assert calls == ["ckpt.tar"] and second.resumed_from_path == "ckpt.tar"
    assert events[0][1] == "on_resumption" and second.status["iterations_done"] == 4
    # explicit resume() takes precedence; the variable is not applied twice
    third = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_batches=3)],
    )
    third.resume("ckpt.tar")
    third.run()
    assert calls == ["ckpt.tar", "ckpt.tar"] and third.status["iterations_done"] == 3


def test_times_are_recorded(doubles):
    loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_epochs=1)],
    )
    loop.run()
    assert set(loop.times) == {"initialization", "read_data", "train"}
    assert all(value >= 0 for value in loop.times.values())


def test_the_loop_creates_no_empty_rows(doubles):
    loop = MainLoop(
        doubles["RecordingAlgorithm"](),
        doubles["make_stream"](),
        log=TrainingLog(),
        extensions=[FinishAfter(after_n_epochs=4)],
    )
    loop.run()
    assert loop.status["iterations_done"] == 12
    assert [t for t, _ in loop.log.rows()] == [12] and len(loop.log) == 1
