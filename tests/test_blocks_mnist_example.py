"""Blocks' MNIST example runs with only the edit Theano forces (``docs/migration.md``).

``main`` below is the example of mila-iqia/blocks-examples (``mnist/__init__.py``) rewritten here: the same calls
in the same order, with Blocks' own imports, except ``from theano import tensor``, which becomes
``from blocks import graph as tensor``. The test feeds it a small generated MNIST (IDX files converted by
``fuel-datasets``' own converter) found through ``FUEL_DATA_PATH``, as a user's downloaded MNIST would be.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy
import pytest

pytest.importorskip("blocks_extensions")
pytest.importorskip("fuel_datasets")


def main(save_to, num_epochs):
    """The example's training script (see the module docstring)."""
    from blocks import graph as tensor  # the one edit: Blocks had `from theano import tensor`
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Softmax, Tanh
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.extensions import FinishAfter, Printing, Timing
    from blocks.extensions.monitoring import DataStreamMonitoring, TrainingDataMonitoring
    from blocks.extensions.saveload import Checkpoint
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from blocks.monitoring import aggregation
    from blocks.roles import WEIGHT
    from fuel.datasets import MNIST
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream
    from fuel.transformers import Flatten

    try:
        from blocks_extras.extensions.plot import Plot  # noqa: F401
        plot_available = True
    except ImportError:
        plot_available = False

    mlp = MLP([Tanh(), Softmax()], [784, 100, 10], weights_init=IsotropicGaussian(0.01), biases_init=Constant(0))
    mlp.initialize()
    x = tensor.matrix("features")
    y = tensor.lmatrix("targets")
    probs = mlp.apply(x)
    cost = CategoricalCrossEntropy().apply(y.flatten(), probs)
    error_rate = MisclassificationRate().apply(y.flatten(), probs)

    cg = ComputationGraph([cost])
    W1, W2 = VariableFilter(roles=[WEIGHT])(cg.variables)
    cost = cost + .00005 * (W1 ** 2).sum() + .00005 * (W2 ** 2).sum()
    cost.name = "final_cost"

    mnist_train = MNIST(("train",))
    mnist_test = MNIST(("test",))

    algorithm = GradientDescent(cost=cost, parameters=cg.parameters, step_rule=Scale(learning_rate=0.1))
    extensions = [Timing(),
                  FinishAfter(after_n_epochs=num_epochs),
                  DataStreamMonitoring(
                      [cost, error_rate],
                      Flatten(DataStream.default_stream(
                          mnist_test, iteration_scheme=SequentialScheme(mnist_test.num_examples, 500)),
                          which_sources=("features",)),
                      prefix="test"),
                  TrainingDataMonitoring([cost, error_rate, aggregation.mean(algorithm.total_gradient_norm)],
                                         prefix="train", after_epoch=True),
                  Checkpoint(save_to),
                  Printing()]
    assert not plot_available  # blocks_extras is Blocks' package; its Plot is blocks_extensions.Plot here

    main_loop = MainLoop(
        algorithm,
        Flatten(DataStream.default_stream(
            mnist_train, iteration_scheme=SequentialScheme(mnist_train.num_examples, 50)),
            which_sources=("features",)),
        model=Model(cost),
        extensions=extensions)
    main_loop.run()
    return main_loop


def _idx(array: numpy.ndarray, magic: int) -> bytes:
    return gzip.compress(struct.pack(f">{1 + array.ndim}i", magic, *array.shape) + array.astype(">u1").tobytes())


@pytest.fixture
def generated_mnist(tmp_path, monkeypatch):
    """``mnist.hdf5`` of 600 training and 200 test images, each digit a distinct pattern plus noise."""
    from fuel_datasets.mnist import convert_mnist

    rng = numpy.random.default_rng(0)
    patterns = rng.integers(0, 256, size=(10, 28, 28))
    raw = tmp_path / "raw"
    raw.mkdir()
    for split, count in (("train", 600), ("t10k", 200)):
        labels = rng.integers(0, 10, size=count)
        noise = rng.integers(-40, 40, size=(count, 28, 28))
        images = numpy.clip(patterns[labels] + noise, 0, 255).astype(numpy.uint8)
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(_idx(images, 2051))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(_idx(labels.astype(numpy.uint8), 2049))
    data = tmp_path / "data"
    data.mkdir()
    convert_mnist(str(raw), str(data))
    monkeypatch.setenv("FUEL_DATA_PATH", str(data))
    import fuel

    monkeypatch.setattr(fuel.config, "data_path", [str(data)], raising=False)
    return data


def test_blocks_mnist_example_trains_with_the_one_edit(generated_mnist, tmp_path, capsys):
    save_to = str(tmp_path / "mnist.pkl")
    main_loop = main(save_to, num_epochs=2)
    log = main_loop.log
    assert main_loop.status["epochs_done"] == 2 and main_loop.status["iterations_done"] == 24
    first, last = log[0], log.current_row
    assert last["test_error_rate"] < first["test_error_rate"] and last["test_final_cost"] < first["test_final_cost"]
    assert last["test_error_rate"] < 0.2  # the generated digits are easy
    assert "train_total_gradient_norm" in last and last["train_total_gradient_norm"] > 0
    assert "time_train_total" in last and os.path.exists(save_to)
    assert "TRAINING HAS BEEN FINISHED" in capsys.readouterr().out
