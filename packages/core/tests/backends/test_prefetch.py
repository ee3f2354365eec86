"""Read-ahead prefetching keeps checkpoints exact: the state is the consumer's position."""

from __future__ import annotations

import numpy
import torch

from blocks.backends import CPUBackend, Prefetcher
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme, ShuffledScheme
from fuel.streams import DataStream


class ReadAheadBackend(CPUBackend):
    """The CPU backend made to prefetch like a GPU backend (one batch ahead)."""

    def prefetch(self, iterator):
        return iterator if isinstance(iterator, Prefetcher) else Prefetcher(iterator, self.place_batch)


def test_prefetcher_reports_the_consumer_position():
    stream = DataStream(IndexableDataset({"x": numpy.arange(10)}), iteration_scheme=SequentialScheme(10, 3))
    iterator = stream.get_epoch_iterator(as_dict=True)
    ahead = Prefetcher(iterator)
    first = next(ahead)
    assert first["x"].tolist() == [0, 1, 2]
    assert iterator.state_dict()["position"] == 2  # the wrapped iterator is one batch ahead...
    assert ahead.state_dict()["position"] == 1  # ...the prefetcher says where the consumer is
    resumed = stream.get_epoch_iterator(as_dict=True)
    resumed.load_state_dict(ahead.state_dict())
    assert [b["x"].tolist() for b in resumed] == [b["x"].tolist() for b in ahead] == [[3, 4, 5], [6, 7, 8], [9]]


def test_cpu_backend_does_not_wrap():
    iterator = iter([{"x": 1}])
    assert CPUBackend().prefetch(iterator) is iterator


def _loop(stop_after: int, record: list):
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Identity, Tanh
    from blocks.bricks.cost import SquaredError
    from blocks.extensions import FinishAfter, SimpleExtension
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model

    class Record(SimpleExtension):
        def __init__(self):
            super().__init__(after_batch=True)

        def do(self, which_callback, *args):
            record.append(args[0]["index"].reshape(-1).tolist())

    rng = numpy.random.default_rng(0)
    data = {
        "features": rng.normal(size=(20, 3)).astype("float32"),
        "targets": rng.normal(size=(20, 1)).astype("float32"),
        "index": numpy.arange(20)[:, None],
    }
    x, y = matrix("features"), matrix("targets")
    mlp = MLP([Tanh(), Identity()], [3, 4, 1], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0), seed=3)
    cost = SquaredError().apply(y, mlp.apply(x))
    algorithm = GradientDescent(cost, step_rule=Scale(0.1), on_unused_sources="ignore", backend=ReadAheadBackend())
    stream = DataStream(IndexableDataset(data), iteration_scheme=ShuffledScheme(20, 4, rng=5))
    loop = MainLoop(
        algorithm, stream, model=Model(cost), extensions=[Record(), FinishAfter(after_n_batches=stop_after)]
    )
    return loop


def test_main_loop_resume_is_exact_with_read_ahead(plugin_host):
    reference_seen: list = []
    reference = _loop(12, reference_seen)
    reference.run()

    first_seen: list = []
    first = _loop(7, first_seen)  # stops in the middle of the second epoch (5 batches an epoch)
    first.run()
    assert isinstance(first._epoch_iterator, Prefetcher)  # the loop trained through the read-ahead path
    state = first.state_dict()
    assert state["data"]["iterator"]["position"] == 2  # 7 = 5 + 2 batches: mid-epoch, not 3 (read ahead)
    resumed_seen: list = []
    resumed = _loop(12, resumed_seen)
    resumed.model.set_parameter_values(first.model.get_parameter_values())
    resumed.load_state_dict(state)
    resumed.run()
    assert first_seen + resumed_seen == reference_seen
    for name, value in reference.model.get_parameter_dict().items():
        assert torch.equal(resumed.model.get_parameter_dict()[name], value), name
