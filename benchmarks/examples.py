"""The MNIST MLP recipe through MainLoop vs the same recipe in plain PyTorch: epoch time ratio (target <= 1.05).

Blocks' MNIST example (MLP 784-100-10 Tanh/Softmax, categorical cross-entropy
plus 5e-5 times the squared norm of each weight matrix, SGD 0.1, batch 50) on
generated MNIST-shaped data (60 000 x 784 float32 in [0, 1], 10 classes). The
Blocks side is what ``examples/mnist.py`` runs: ``GradientDescent(Scale(0.1))``
on a ``MainLoop`` over ``DataStream(IndexableDataset, ShuffledScheme)`` with
``Timing``, ``TrainingDataMonitoring`` of the cost and error rate every epoch,
``Printing`` every epoch (to /dev/null) and ``FinishAfter``. The plain side is
a hand-written loop over the same shuffled indices of the same arrays: the
same forward and penalty, ``backward``, ``p -= 0.1 * grad`` (multi-tensor), and
the per-epoch mean cost and error rate accumulated on the device and printed.

Each repeat runs one epoch (1 200 batches) per side, the sides alternating
which goes first; the figure is Blocks' time / plain time per paired repeat
(median and range of >= 15 repeats). ``--recipes`` instead runs the examples'
full-size recipes on the real ``digits`` (and generated MNIST-shaped data)
next to plain-PyTorch counterparts, printing error, epochs and wall time.

``--alexnet`` instead times AlexNet training steps (examples/alexnet.py's graph)
against the same network in plain PyTorch on generated 224x224 images.

``--device cuda`` runs every mode on a GPU: Blocks through its CUDA backend
(pinned, overlapped host-to-device copies in the MainLoop), plain PyTorch the
way its documentation teaches (batches from pinned memory, ``non_blocking``
copies); each timed window ends with a device synchronization.

Usage: ``python benchmarks/examples.py [--quick] [--repeats N] [--threads N] [--recipes] [--alexnet]
[--device cuda]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy
import torch

from blocks.extensions import TrainingExtension

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import _common  # noqa: E402

DIMS = [784, 100, 10]
L2 = 5e-5
LEARNING_RATE = 0.1
BATCH = 50
SEED = 1
DEVICE = torch.device("cpu")
"""Where both sides compute (``--device``)."""


def sync() -> None:
    """Wait for the device's queued work, so that a timer read after it measures the work itself."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def to_device(array: numpy.ndarray | torch.Tensor) -> torch.Tensor:
    """Plain PyTorch's idiomatic batch transfer: from pinned host memory, asynchronous on a GPU."""
    tensor = torch.from_numpy(array) if isinstance(array, numpy.ndarray) else array
    if DEVICE.type != "cuda":
        return tensor
    return tensor.pin_memory().to(DEVICE, non_blocking=True)


def make_data(num_examples: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    features, targets = _common.generated_images(num_examples, (1, 28, 28), seed=SEED)
    return features.reshape(num_examples, -1), targets


class BlocksSide:
    """The recipe of examples/mnist.py on a MainLoop with the usual extensions."""

    def __init__(self, features: numpy.ndarray, targets: numpy.ndarray, batch_size: int, extra: list | None = None):
        from blocks.algorithms import GradientDescent, Scale
        from blocks.bricks import MLP, Softmax, Tanh
        from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
        from blocks.extensions import FinishAfter
        from blocks.filter import VariableFilter
        from blocks.graph import ComputationGraph, lvector, matrix
        from blocks.initialization import Constant, IsotropicGaussian
        from blocks.main_loop import MainLoop
        from blocks.model import Model
        from blocks.roles import WEIGHT
        from blocks_extensions import Printing, Timing, TrainingDataMonitoring

        x, y = matrix("features"), lvector("targets")
        mlp = MLP([Tanh(), Softmax()], DIMS, weights_init=IsotropicGaussian(0.01), biases_init=Constant(0), seed=SEED)
        mlp.initialize()
        probs = mlp.apply(x)
        cost = CategoricalCrossEntropy().apply(y, probs)
        error_rate = MisclassificationRate().apply(y, probs)
        cg = ComputationGraph([cost])
        W1, W2 = VariableFilter(roles=[WEIGHT])(cg.variables)
        cost = cost + L2 * (W1**2).sum() + L2 * (W2**2).sum()
        cost.name = "final_cost"
        error_rate.name = "error_rate"
        self.parameters = list(cg.parameters)  # W0, b0, W1, b1
        self.finish = FinishAfter(after_n_batches=1)
        self.devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        self.loop = MainLoop(
            GradientDescent(cost=cost, parameters=cg.parameters, step_rule=Scale(LEARNING_RATE), backend=str(DEVICE)),
            _common.stream_of({"features": features, "targets": targets}, batch_size, shuffle_seed=SEED),
            model=Model(cost),
            extensions=[
                Timing(),
                TrainingDataMonitoring([cost, error_rate], prefix="train", after_epoch=True),
                self.finish,
                Printing(file=self.devnull, every_n_epochs=1, before_first_epoch=False, on_resumption=False),
                *(extra or []),
            ],
        )

    def initial_values(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.parameters]

    def steps(self, count: int) -> None:
        self.finish.set_conditions(after_n_batches=self.loop.status["iterations_done"] + count)
        self.loop.run()

    def close(self) -> None:
        self.devnull.close()


class PlainSide:
    """The same recipe by hand: same batches, forward, penalty, SGD; per-epoch mean cost/error printed."""

    def __init__(self, features, targets, batch_size, initial):
        from fuel.schemes import ShuffledScheme

        self.features, self.targets = features, targets
        self.parameters = [value.to(DEVICE, copy=True).requires_grad_(True) for value in initial]
        self.scheme = ShuffledScheme(len(features), batch_size, rng=SEED)
        self.epoch = 0
        self.requests = self.scheme.get_request_iterator(epoch=0, native=True)
        self.sums: list[torch.Tensor] = []
        self.batches = 0
        self.devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in close()

    def _end_epoch(self) -> None:
        cost, error = (value.item() / max(self.batches, 1) for value in self.sums)
        print(f"epoch {self.epoch}: train_final_cost {cost:.4f} train_error_rate {error:.4f}", file=self.devnull)
        self.sums, self.batches = [], 0
        self.epoch += 1
        self.requests = self.scheme.get_request_iterator(epoch=self.epoch, native=True)

    def steps(self, count: int) -> None:
        W0, b0, W1, b1 = self.parameters
        parameters = self.parameters
        for _ in range(count):
            indices = next(self.requests, None)
            if indices is None:
                self._end_epoch()
                indices = next(self.requests)
            x, y = to_device(self.features[indices]), to_device(self.targets[indices])
            probs = torch.softmax(torch.addmm(b1, torch.tanh(torch.addmm(b0, x, W0)), W1), dim=-1)
            cost = -torch.log(probs).gather(-1, y.reshape(-1, 1)).mean() + L2 * (W0**2).sum() + L2 * (W1**2).sum()
            cost.backward()
            with torch.no_grad():
                error = (probs.argmax(dim=-1) != y).to(probs.dtype).mean()
                if self.sums:
                    self.sums[0] += cost.detach()
                    self.sums[1] += error
                else:
                    self.sums = [cost.detach().clone(), error]
                self.batches += 1
                torch._foreach_add_(parameters, [p.grad for p in parameters], alpha=-LEARNING_RATE)
            for p in parameters:
                p.grad = None

    def close(self) -> None:
        self.devnull.close()


def timed(side, count: int) -> float:
    start = time.perf_counter()
    side.steps(count)
    sync()
    return time.perf_counter() - start


class Interleave(TrainingExtension):
    """Runs inside one ``MainLoop.run()``: after every ``steps`` batches, the plain side runs ``steps`` batches.

    A Blocks window is the time from the end of the previous plain window to the end of its own last batch,
    so it includes everything a real run pays per batch and per epoch (reading, the epoch's end and start,
    monitoring, printing). One run covers the whole measurement: ``run()`` is never restarted (a restarted
    Blocks loop resumes, which a real run does once, not every epoch).
    """

    def __init__(self, plain: "PlainSide", steps: int, windows: int) -> None:
        super().__init__(name="interleave")
        self.plain, self.steps, self.windows = plain, steps, windows
        self.blocks_times: list[float] = []
        self.plain_times: list[float] = []
        self._count = 0
        self._start = 0.0

    def before_training(self) -> None:
        self._start = time.perf_counter()

    def after_batch(self, batch) -> None:
        self._count += 1
        if self._count < self.steps:
            return
        sync()
        self.blocks_times.append(time.perf_counter() - self._start)
        self.plain_times.append(timed(self.plain, self.steps))
        self._count = 0
        if len(self.blocks_times) == self.windows:
            self.main_loop.log.current_row["training_finish_requested"] = True
        self._start = time.perf_counter()


def overhead(num_examples: int, repeats: int, steps: int) -> float:
    torch.manual_seed(SEED)
    features, targets = make_data(num_examples)
    probe = BlocksSide(features, targets, BATCH)
    plain = PlainSide(features, targets, BATCH, probe.initial_values())
    probe.steps(2)  # both sides compute the same updates
    plain.steps(2)
    tolerance = {"rtol": 1e-4, "atol": 1e-6} if DEVICE.type == "cpu" else {"rtol": 1e-2, "atol": 1e-4}  # TF32
    for ours, theirs in zip(probe.parameters, plain.parameters):
        torch.testing.assert_close(ours.detach(), theirs.detach(), **tolerance)
    probe.close()
    plain.close()
    # the measurement: one run, windows alternating Blocks, plain, Blocks, ...; window 0 is a warm-up;
    # each Blocks window is paired with the mean of the plain windows just before and after it (drift cancels)
    torch.manual_seed(SEED)
    plain = PlainSide(features, targets, BATCH, BlocksSide(features, targets, BATCH).initial_values())
    interleave = Interleave(plain, steps, repeats + 2)
    blocks_side = BlocksSide(features, targets, BATCH, extra=[interleave])
    blocks_side.finish.set_conditions(after_n_batches=steps * (repeats + 3))  # a bound; Interleave stops first
    blocks_side.loop.run()
    ours, theirs = interleave.blocks_times, interleave.plain_times
    ratios = [ours[i] / ((theirs[i - 1] + theirs[i]) / 2) for i in range(1, len(ours))][:repeats]
    blocks_side.close()
    plain.close()
    median = statistics.median(ratios)
    print(
        f"MNIST MLP recipe, MainLoop/plain epoch time: median {median:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, "
        f"{len(ratios)} paired repeats of {steps} batches of {BATCH}, interleaved in one run; "
        f"plain {statistics.median(theirs) / steps * 1e3:.3f} ms/batch, {DEVICE})",
        flush=True,
    )
    return median


# -- full-size recipes next to plain PyTorch --------------------------------------------------------------------


def plain_train(model: torch.nn.Module, data, *, epochs, batch_size, learning_rate, penalty=None, seed=SEED):
    """Idiomatic plain PyTorch: nn.Module, optim.SGD, the same shuffled batches; returns (test error, seconds)."""
    from fuel.schemes import ShuffledScheme

    (train_x, train_y), (test_x, test_y) = data
    train_x, train_y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    scheme = ShuffledScheme(len(train_x), batch_size, rng=seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        total = torch.zeros(())
        for indices in scheme.get_request_iterator(epoch=epoch, native=True):
            index = torch.as_tensor(indices)
            log_probs = torch.log_softmax(model(train_x[index]), dim=-1)
            loss = torch.nn.functional.nll_loss(log_probs, train_y[index])
            if penalty is not None:
                loss = loss + penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        with torch.no_grad():
            error = (model(torch.from_numpy(test_x)).argmax(-1) != torch.from_numpy(test_y)).float().mean().item()
    return error, time.perf_counter() - start


def glorot(layer: torch.nn.Module, fan_in: float, fan_out: float, zero: bool = False) -> torch.nn.Module:
    with torch.no_grad():
        width = math.sqrt(6.0 / (fan_in + fan_out))
        layer.weight.zero_() if zero else layer.weight.uniform_(-width, width)
        layer.bias.zero_()
    return layer


def recipes(data_dir: str) -> None:
    def example(name: str, *argv: str) -> dict:
        import importlib

        module = importlib.import_module(name)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = module.main([*argv, "--quiet", "--data-dir", data_dir])
        print("  blocks: " + out.getvalue().strip().splitlines()[-1], flush=True)
        return result

    def report(label, error, seconds, epochs):
        print(f"  plain : {label}: test error {100 * error:.2f}% after {epochs} epochs in {seconds:.1f} s", flush=True)

    digits = _common.load_images("digits", data_dir)[:2]
    flat = tuple((x.reshape(len(x), -1), y) for x, y in digits)

    print("MNIST MLP recipe (Tanh 100, L2 5e-5, SGD 0.1, batch 50) on digits, 100 epochs:")
    example("mnist", "--epochs", "100")
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.Tanh(), torch.nn.Linear(100, 10))
    for layer in (model[0], model[2]):
        torch.nn.init.normal_(layer.weight, std=0.01)
        torch.nn.init.zeros_(layer.bias)
    error, seconds = plain_train(
        model,
        flat,
        epochs=100,
        batch_size=50,
        learning_rate=0.1,
        penalty=lambda m: L2 * (m[0].weight ** 2).sum() + L2 * (m[2].weight ** 2).sum(),
    )
    report("MLP 64-100-10", error, seconds, 100)

    print("Theano logistic regression (zero init, SGD 0.13, batch 100) on digits, 200 epochs:")
    example("logistic_regression", "--epochs", "200", "--patience", "1000")
    model = torch.nn.Linear(64, 10)
    glorot(model, 1, 1, zero=True)
    error, seconds = plain_train(model, flat, epochs=200, batch_size=100, learning_rate=0.13)
    report("logistic regression", error, seconds, 200)

    print("Theano LeNet (20/50 filters 5x5 same, 2x2 pool, tanh, 500 hidden, SGD 0.1, batch 50) on digits, 30 epochs:")
    example("lenet", "--epochs", "30", "--filters", "20", "50", "--hidden", "500")
    torch.manual_seed(SEED)
    conv1, conv2 = torch.nn.Conv2d(1, 20, 5, padding=2), torch.nn.Conv2d(20, 50, 5, padding=2)
    hidden, out = torch.nn.Linear(200, 500), torch.nn.Linear(500, 10)
    glorot(conv1, 25, 20 * 25 / 4), glorot(conv2, 20 * 25, 50 * 25 / 4), glorot(hidden, 200, 500)
    glorot(out, 500, 10, zero=True)
    pool, tanh = torch.nn.MaxPool2d(2), torch.nn.Tanh()
    model = torch.nn.Sequential(conv1, pool, tanh, conv2, pool, tanh, torch.nn.Flatten(), hidden, tanh, out)
    error, seconds = plain_train(model, digits, epochs=30, batch_size=50, learning_rate=0.1)
    report("LeNet 20/50, 500 hidden", error, seconds, 30)

    print("MNIST MLP recipe on GENERATED MNIST-shaped data (60000 x 784), 5 epochs:")
    with contextlib.redirect_stdout(io.StringIO()):
        mnist = _common.load_images("mnist", data_dir)[:2]
    example("mnist", "--dataset", "mnist", "--epochs", "5")
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.Tanh(), torch.nn.Linear(100, 10))
    for layer in (model[0], model[2]):
        torch.nn.init.normal_(layer.weight, std=0.01)
        torch.nn.init.zeros_(layer.bias)
    error, seconds = plain_train(
        model,
        tuple((x.reshape(len(x), -1), y) for x, y in mnist),
        epochs=5,
        batch_size=50,
        learning_rate=0.1,
        penalty=lambda m: L2 * (m[0].weight ** 2).sum() + L2 * (m[2].weight ** 2).sum(),
    )
    report("MLP 784-100-10 (generated)", error, seconds, 5)


def _estimator_split(features: numpy.ndarray, targets: numpy.ndarray):
    """``(train, held_out)`` as the estimator draws them (10% held out for its table, with the same seed)."""
    order = numpy.random.default_rng(SEED).permutation(len(features))
    n_valid = int(round(len(features) * 0.1))
    valid, keep = numpy.sort(order[:n_valid]), numpy.sort(order[n_valid:])
    return (torch.from_numpy(features[keep]), torch.from_numpy(targets[keep])), (features[valid], targets[valid])


def _plain_nesterov(model, train_x, train_y, test_x, test_y, *, epochs, batch_size, learning_rate, momentum=0.9):
    """Idiomatic plain PyTorch doing what the estimator's fit does: the same 90/10 split, Nesterov SGD over
    ShuffledScheme batches, and the held-out loss and accuracy after every epoch (one forward pass, as the
    estimator's table). Timed from the same numpy arrays as ``fit``; returns (test accuracy, seconds)."""
    from fuel.schemes import ShuffledScheme

    def evaluate(features, targets):
        losses, hits = [], []
        with torch.no_grad():
            for i in range(0, len(features), 4096):
                scores = model(to_device(features[i : i + 4096]))
                labels = to_device(targets[i : i + 4096])
                losses.append(torch.nn.functional.cross_entropy(scores, labels, reduction="none"))
                hits.append(scores.argmax(-1) == labels)
        return torch.cat(losses).mean().item(), torch.cat(hits).float().mean().item()

    start = time.perf_counter()
    model.to(DEVICE)
    (x, y), held_out = _estimator_split(train_x, train_y)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum, nesterov=True)
    scheme = ShuffledScheme(len(x), batch_size, rng=SEED)
    for epoch in range(epochs):
        for indices in scheme.get_request_iterator(epoch=epoch, native=True):
            index = torch.as_tensor(indices)
            loss = torch.nn.functional.cross_entropy(model(to_device(x[index])), to_device(y[index]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        evaluate(*held_out)
    seconds = time.perf_counter() - start
    return evaluate(test_x, test_y)[1], seconds


def _run_example(name: str, argv: list[str]) -> None:
    import importlib

    module = importlib.import_module(name)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        module.main(argv)
    print("  blocks: " + out.getvalue().strip().splitlines()[-1], flush=True)


def _generated_cifar(data_dir: str):
    with contextlib.redirect_stdout(io.StringIO()):
        return _common.load_images("cifar10", data_dir, generated=[50000, 10000], seed=SEED)


def cifar_recipe(data_dir: str, epochs: int) -> None:
    """The blog post's grayscale CIFAR-10 MLP with the estimator vs plain PyTorch (Nesterov SGD), same arrays."""
    print(f"CIFAR-10 grayscale MLP 1024-100-10 (Nesterov 0.01/0.9, batch 128), estimator, {epochs} epochs:")
    _run_example(
        "cifar10_mlp",
        [
            "--epochs",
            str(epochs),
            "--generated",
            "50000",
            "10000",
            "--quiet",
            "--device",
            str(DEVICE),
            "--data-dir",
            data_dir,
        ],
    )
    (train_x, train_y), (test_x, test_y), _ = _generated_cifar(data_dir)
    train_x = train_x.mean(axis=1).reshape(len(train_x), -1)
    test_x = test_x.mean(axis=1).reshape(len(test_x), -1)
    torch.manual_seed(SEED)
    first, second = torch.nn.Linear(1024, 100), torch.nn.Linear(100, 10)
    glorot(first, 1024, 100), glorot(second, 100, 10)
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    accuracy, seconds = _plain_nesterov(
        model, train_x, train_y, test_x, test_y, epochs=epochs, batch_size=128, learning_rate=0.01
    )
    print(f"  plain : test accuracy {100 * accuracy:.2f}% after {epochs} epochs in {seconds:.1f} s", flush=True)


def convnet_recipe(data_dir: str, epochs: int) -> None:
    """The blog post's CIFAR-10 convnet (3 x conv 3x3 + 2x2 pool, 16/32/64 filters, 200 hidden) vs plain PyTorch."""
    print(f"CIFAR-10 convnet 16/32/64, 200 hidden (Nesterov 0.015/0.9, batch 128), estimator, {epochs} epochs:")
    _run_example(
        "cifar10_convnet",
        [
            "--epochs",
            str(epochs),
            "--batch-size",
            "128",
            "--generated",
            "50000",
            "10000",
            "--device",
            str(DEVICE),
            "--threads",
            str(torch.get_num_threads()),
            "--quiet",
            "--data-dir",
            data_dir,
        ],
    )
    (train_x, train_y), (test_x, test_y), _ = _generated_cifar(data_dir)
    torch.manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    channels = 3
    for filters in (16, 32, 64):
        conv = torch.nn.Conv2d(channels, filters, 3, padding=1)
        glorot(conv, channels * 9, filters * 9)
        layers += [conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = filters
    hidden, out = torch.nn.Linear(64 * 4 * 4, 200), torch.nn.Linear(200, 10)
    glorot(hidden, 1024, 200), glorot(out, 200, 10)
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(), hidden, torch.nn.ReLU(), out)
    accuracy, seconds = _plain_nesterov(
        model, train_x, train_y, test_x, test_y, epochs=epochs, batch_size=128, learning_rate=0.015
    )
    print(f"  plain : test accuracy {100 * accuracy:.2f}% after {epochs} epochs in {seconds:.1f} s", flush=True)


def alexnet_throughput(repeats: int, steps: int, batch_size: int, image_size: int, width: float, classes: int):
    """AlexNet training steps (examples/alexnet.py's graph: dropout, weight decay, momentum) vs the same network
    in plain PyTorch, on generated images of the real shape; interleaved, images/s and the step-time ratio."""
    import alexnet as example

    from blocks.algorithms import GradientDescent
    from blocks.plugins import resolve

    torch.manual_seed(SEED)
    convnet, mlp = example.build_alexnet(image_size, width, classes, False, SEED)
    _, _, train_cost, cg, train_monitored = example.training_graph(convnet, mlp, 0.5, 5e-4, SEED)
    algorithm = GradientDescent(
        cost=train_cost,
        parameters=cg.parameters,
        step_rule=resolve("step_rules", "momentum")(learning_rate=0.01, momentum=0.9),
        backend=str(DEVICE),
    )
    algorithm.add_monitored(train_monitored)  # what the example's training monitor asks for
    algorithm.initialize()

    def scaled(n: int) -> int:
        return max(1, int(round(n * width)))

    def conv(inputs: int, filters: int, size: int, step: int = 1) -> torch.nn.Conv2d:
        return torch.nn.Conv2d(inputs, scaled(filters), size, step, padding=size // 2)

    relu, pool = torch.nn.ReLU, lambda: torch.nn.MaxPool2d(3, 2)
    features = torch.nn.Sequential(
        conv(3, 96, 11, 4),
        relu(),
        pool(),
        conv(scaled(96), 256, 5),
        relu(),
        pool(),
        conv(scaled(256), 384, 3),
        relu(),
        conv(scaled(384), 384, 3),
        relu(),
        conv(scaled(384), 256, 3),
        relu(),
        pool(),
        torch.nn.Flatten(),
    )
    size = features(torch.zeros(1, 3, image_size, image_size)).shape[1]
    if size != math.prod(convnet.get_dim("output")):
        raise RuntimeError(f"the plain network has {size} features, the bricks {convnet.get_dim('output')}")
    model = torch.nn.Sequential(
        features,
        torch.nn.Linear(size, scaled(4096)),
        relu(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(scaled(4096), scaled(4096)),
        relu(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(scaled(4096), classes),
    )
    model.to(DEVICE)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = _common.generated_images(batch_size * steps, (3, image_size, image_size), classes, seed=SEED)
    batches = [
        {"features": images[i : i + batch_size], "targets": labels[i : i + batch_size]}
        for i in range(0, len(images), batch_size)
    ]

    def blocks_steps() -> None:
        for batch in batches:
            algorithm.process_batch(batch)

    def plain_steps() -> None:
        for batch in batches:
            scores = model(to_device(batch["features"]))
            loss = torch.nn.functional.cross_entropy(scores, to_device(batch["targets"]))
            loss = loss + 5e-4 * sum((w**2).sum() for w in weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    blocks_steps(), plain_steps()  # warm-up
    sync()
    times: dict[str, list[float]] = {"blocks": [], "plain": []}
    for repeat in range(repeats):
        order = [("blocks", blocks_steps), ("plain", plain_steps)]
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - start)
    ratios = [b / p for b, p in zip(times["blocks"], times["plain"])]
    per_second = {name: batch_size * steps / statistics.median(values) for name, values in times.items()}
    print(
        f"AlexNet {image_size}x{image_size}, width x{width:g}, {classes} classes, batch {batch_size}, "
        f"{DEVICE}, {torch.get_num_threads()} thread(s): Blocks {per_second['blocks']:.1f} images/s, plain PyTorch "
        f"{per_second['plain']:.1f} images/s; step time ratio median {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f}-{max(ratios):.3f}, {len(ratios)} paired repeats of {steps} batches)",
        flush=True,
    )
    return statistics.median(ratios)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=15, help="paired repeats (>= 15 for figures)")
    parser.add_argument("--steps", type=int, default=None, help="batches per repeat (default: one epoch, 1200)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--recipes", action="store_true", help="full-size recipes vs plain PyTorch instead")
    parser.add_argument("--data-dir", default=os.path.join("runs", "data"), help="where digits.hdf5 is made")
    parser.add_argument("--cifar-epochs", type=int, default=0, help="with --recipes: also the CIFAR MLP recipe")
    parser.add_argument("--convnet-epochs", type=int, default=0, help="with --recipes: also the CIFAR convnet recipe")
    parser.add_argument("--skip-digits", action="store_true", help="with --recipes: only the CIFAR recipes asked for")
    parser.add_argument("--alexnet", action="store_true", help="AlexNet training throughput vs plain PyTorch instead")
    parser.add_argument("--image-size", type=int, default=224, help="with --alexnet: image size (default 224)")
    parser.add_argument("--width", type=float, default=1.0, help="with --alexnet: layer width scale (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="with --alexnet: batch size (default 32)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...: where both sides compute")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {DEVICE}")
    if args.recipes:
        if not args.skip_digits:
            recipes(args.data_dir)
        if args.cifar_epochs:
            cifar_recipe(args.data_dir, args.cifar_epochs)
        if args.convnet_epochs:
            convnet_recipe(args.data_dir, args.convnet_epochs)
        return 0
    if args.alexnet:
        alexnet_throughput(args.repeats, args.steps or 2, args.batch_size, args.image_size, args.width, 1000)
        return 0
    if args.quick:
        overhead(2000, 2, 50)
        alexnet_throughput(2, 1, 4, 64, 1 / 16, 10)
        return 0
    median = overhead(60000, args.repeats, args.steps or 60000 // BATCH)
    print(f"{'meets' if median <= 1.05 else 'MISSES'} the target <= 1.05")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
