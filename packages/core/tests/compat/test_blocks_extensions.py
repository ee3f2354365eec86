"""Blocks' extension semantics: repeated extensions, conditions, instance callbacks, duck typing, model errors."""

from __future__ import annotations

from unittest.mock import MagicMock, Mock

import pytest

from blocks.extensions import CompositeExtension, FinishAfter, OnLogRecord, SimpleExtension, TrainingExtension
from blocks.extensions.base import state_keys
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop, NoModelError
from blocks.utils.testing import MockAlgorithm, MockMainLoop
from fuel.datasets import IterableDataset


class Counter(SimpleExtension):
    """A stateful extension: counts the batches it saw (its state keys its checkpoint entry)."""

    def __init__(self, **kwargs):
        super().__init__(**(kwargs or {"after_batch": True}))
        self.seen = 0

    def do(self, which_callback, *args):
        self.seen += 1

    def state_dict(self):
        return {**super().state_dict(), "seen": self.seen}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.seen = state["seen"]


def loop_with(extensions, examples=4):
    return MainLoop(MockAlgorithm(), IterableDataset(range(examples)).get_example_stream(), log=TrainingLog(),
                    extensions=extensions)


def test_two_extensions_of_one_class_run_and_keep_their_own_state_across_a_resume():
    every, every_second = Counter(), Counter(every_n_batches=2)
    loop = loop_with([every, every_second, FinishAfter(after_n_batches=3)])
    loop.run()
    assert (every.seen, every_second.seen) == (3, 1)
    state = loop.state_dict()
    assert list(state["extensions"]) == ["Counter", "Counter#2", "FinishAfter"]
    resumed_every, resumed_second = Counter(), Counter(every_n_batches=2)
    resumed = loop_with([resumed_every, resumed_second, FinishAfter(after_n_batches=6)])
    resumed.load_state_dict(state)
    assert (resumed_every.seen, resumed_second.seen) == (3, 1)  # each got its own, not the other's
    resumed.run()
    assert (resumed_every.seen, resumed_second.seen) == (6, 3)


def test_state_keys_are_by_position_and_clashes_with_them_are_refused():
    assert state_keys([FinishAfter(), FinishAfter(name="x"), FinishAfter()]) == ["FinishAfter", "x", "FinishAfter#2"]
    with pytest.raises(ValueError, match="rename"):
        state_keys([FinishAfter(), FinishAfter(), FinishAfter(name="FinishAfter#2")])
    loop = loop_with([FinishAfter(after_n_batches=1), FinishAfter(), FinishAfter(name="FinishAfter#2")])
    with pytest.raises(ValueError, match="rename"):
        loop.run()


def test_composite_children_of_one_class_keep_their_own_state():
    first, second = Counter(), Counter()
    composite = CompositeExtension([first, second])
    first.seen, second.seen = 1, 2
    other = CompositeExtension([Counter(), Counter()])
    other.load_state_dict(composite.state_dict())
    assert [c.seen for c in other.sub_extensions] == [1, 2]


def test_add_condition_takes_lists_or_tuples_and_before_first_epoch():
    fired = []

    class Note(SimpleExtension):
        def do(self, which_callback, *args):
            fired.append((str(which_callback), self.main_loop.status["epochs_done"], args))

    note = Note().add_condition(["before_first_epoch", "after_epoch"], arguments=("path",))
    note.add_condition(("before_first_epoch",), predicate=lambda log: False)  # both must hold
    loop = loop_with([note, FinishAfter(after_n_epochs=2)], examples=2)
    loop.run()
    assert fired == [("before_epoch", 0, ("path",)), ("after_epoch", 1, ("path",)), ("after_epoch", 2, ("path",))]
    with pytest.raises(ValueError, match="list or tuple"):
        Note().add_condition("after_epoch")
    with pytest.raises(ValueError, match="not a callback"):
        Note().add_condition(["afer_epoch"])


def test_callbacks_assigned_on_an_instance_are_dispatched():
    ext = TrainingExtension()
    ext.after_batch = MagicMock()
    ext.before_training = MagicMock()
    loop = loop_with([ext, FinishAfter(after_n_batches=2)])
    loop.run()
    assert ext.after_batch.call_count == 2 and ext.before_training.call_count == 1
    assert ext.responds_to("after_batch") and not TrainingExtension().responds_to("after_batch")


def test_errors_in_instance_callbacks_reach_on_error():
    ext = TrainingExtension()
    ext.after_batch = MagicMock(side_effect=KeyError("boom"))
    ext.on_error = MagicMock()
    loop = MockMainLoop(extensions=[ext, FinishAfter(after_epoch=True)])
    with pytest.raises(KeyError):
        loop.run()
    ext.on_error.assert_called_once()
    assert "got_exception" in loop.log.current_row


def test_duck_typed_extensions_in_composites_and_main_loops():
    duck, other = Mock(spec=["dispatch", "main_loop"]), Mock()
    composite = CompositeExtension([duck, other])
    sentinel = object()
    composite.main_loop = sentinel
    assert duck.main_loop is sentinel and other.main_loop is sentinel
    composite.dispatch("after_batch", {"x": 1})
    duck.dispatch.assert_called_once_with("after_batch", {"x": 1})  # no responds_to: every callback
    plain = Mock(spec=["dispatch", "main_loop"])
    loop = loop_with([plain, FinishAfter(after_n_batches=1)])
    loop.run()
    assert [c.args[0] for c in plain.dispatch.call_args_list][:2] == ["before_training", "before_epoch"]
    assert "Mock" not in str(loop.state_dict()["extensions"])  # no state for what has no state_dict


def test_non_extensions_are_refused_when_training_starts():
    loop = loop_with([FinishAfter(after_n_batches=1), None])  # Blocks built such loops and never ran them
    with pytest.raises(ValueError, match="got None"):
        loop.run()
    with pytest.raises(ValueError, match="dispatch method"):
        CompositeExtension([object()])
    with pytest.raises(ValueError, match="list of extensions"):
        loop_with(FinishAfter())


def test_model_of_a_loop_without_one_is_an_attribute_error():
    loop = loop_with([])
    assert not hasattr(loop, "model")
    with pytest.raises(NoModelError, match="no model") as caught:
        loop.model
    assert isinstance(caught.value, ValueError)


def test_on_log_record_compares_by_record_name():
    assert OnLogRecord("a") == OnLogRecord("a") and OnLogRecord("a") != OnLogRecord("b")
    assert len({OnLogRecord("a"), OnLogRecord("a")}) == 1


def test_two_finish_after_record_their_own_limits():
    loop = loop_with([FinishAfter(after_n_batches=3), FinishAfter(after_n_epochs=5)])
    loop.run()
    assert loop.status["_finish_after"] == {"FinishAfter": {"after_n_batches": 3},
                                            "FinishAfter#2": {"after_n_epochs": 5}}


def test_checkpoint_takes_blocks_options(tmp_path):
    from blocks.extensions import Checkpoint

    assert not Checkpoint(tmp_path / "a.tar", save_separately=["model", "log"], use_cpickle=True).parameters_only
    assert Checkpoint(tmp_path / "b.tar", save_main_loop=False).parameters_only
    with pytest.raises(ValueError, match="holds the log and the model"):
        Checkpoint(tmp_path / "c.tar", save_separately=["algorithm"])
