"""Overhead of MainLoop + GradientDescent + extensions vs a hand-written PyTorch loop.

MLP 784-512-512-10 (ReLU, cross-entropy) on 60 000 in-memory examples, batch
sizes 128 and 16. The Blocks side is ``MainLoop(GradientDescent(cost,
step_rule=Scale(lr)), DataStream(IndexableDataset, ShuffledScheme))`` with
Printing per epoch, Timing, TrainingDataMonitoring every 100 batches and
FinishAfter. The baseline is a plain loop that draws the same shuffled batches
(the same scheme's indices) by fancy indexing from the same arrays, runs the
same forward (``addmm``/ReLU/cross-entropy), backward and SGD update
(``p -= lr * grad``, multi-tensor).

Each repeat is a fixed number of batches per side. The Blocks loop runs once
(``run()``, steady state) and an extension interleaves the measurement: after
every window of Blocks batches it runs the same number of baseline steps, and
each Blocks window is paired with the mean of the baseline windows just before
and after it (drift of a shared machine's load cancels). Ignite/Lightning
alternate with the baseline in chunks. The figure is steps/s of Blocks divided by steps/s of the
baseline, per paired repeat: median and range are printed. Targets: >= 0.98 at
batch 128 and >= 0.95 at batch 16. Where ``ignite`` or ``lightning`` import,
their ratios to the same baseline are printed too.

Both sides run with the same number of intra-op threads (``--threads``, default 1).
The main loop's non-finite guard is on, as by default (``--no-guard`` measures
without it).

``--dashboard``: the Blocks side logs to an SQLite log, and ``blocks dashboard``
runs on it in another process while a third process polls it once a second as
the page does (``/api/runs``, then ``/api/series`` of four channels): the
figure then includes the SQLite log and a watched run (targets unchanged).

Usage: ``python benchmarks/loop_overhead.py [--quick] [--repeats N] [--steps N] [--threads N] [--device cpu|cuda]
[--no-guard] [--dashboard]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy
import torch
import torch.nn.functional as F

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Rectifier
from blocks.extensions import FinishAfter, TrainingExtension
from blocks.graph import lvector, matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.log import SQLiteLog, TrainingLog
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks_extensions import Printing, Timing, TrainingDataMonitoring
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream

DIMS = [784, 512, 512, 10]
LEARNING_RATE = 0.01
SEED = 1


def make_data(num_examples: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    rng = numpy.random.default_rng(SEED)
    features = rng.normal(size=(num_examples, DIMS[0])).astype("float32")
    targets = rng.integers(0, DIMS[-1], size=num_examples).astype("int64")
    return features, targets


class BlocksSide:
    """MainLoop + GradientDescent(Scale) + Printing, Timing, TrainingDataMonitoring, FinishAfter."""

    def __init__(self, features, targets, batch_size, device, guard=True, log=None):
        mlp = MLP([Rectifier(), Rectifier(), None], DIMS, weights_init=IsotropicGaussian(0.01), biases_init=Constant(0))
        mlp.initialize()
        x, y = matrix("features"), lvector("targets")
        cost = F.cross_entropy(mlp.apply(x), y)
        cost.name = "cost"
        self.model = Model(cost)
        self.parameters = list(self.model.get_parameter_dict().values())
        if device.type != "cuda":
            batches = features, targets
        else:  # the data live on the device for both sides; indexing happens there
            with torch.no_grad():
                for parameter in self.parameters:
                    parameter.data = parameter.data.to(device)
            batches = torch.as_tensor(features, device=device), torch.as_tensor(targets, device=device)
        stream = DataStream(
            IndexableDataset({"features": batches[0], "targets": batches[1]}),
            iteration_scheme=ShuffledScheme(len(features), batch_size, rng=SEED),
        )
        self.finish = FinishAfter(after_n_batches=1)
        self.printing_output = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        self.loop = MainLoop(
            GradientDescent(cost, step_rule=Scale(LEARNING_RATE)),
            stream,
            model=self.model,
            log=log if log is not None else TrainingLog(),
            stop_on_nonfinite=guard,
            extensions=[
                Printing(file=self.printing_output, before_first_epoch=False, on_resumption=False),
                Timing(),
                TrainingDataMonitoring([cost], prefix="train", every_n_batches=100),
                self.finish,
            ],
        )

    def initial_values(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.parameters]

    def steps(self, count: int) -> None:
        self.finish.set_conditions(after_n_batches=self.loop.status["iterations_done"] + count)
        self.loop.run()

    def close(self) -> None:
        self.printing_output.close()


class Baseline:
    """A hand-written loop: same batches by fancy indexing, same forward/backward/SGD."""

    def __init__(self, features, targets, batch_size, initial, device):
        if device.type == "cuda":
            features, targets = torch.as_tensor(features, device=device), torch.as_tensor(targets, device=device)
        self.features, self.targets = features, targets
        self.device = device
        self.parameters = [value.clone().requires_grad_(True) for value in initial]
        self.scheme = ShuffledScheme(len(features), batch_size, rng=SEED)
        self.epoch = 0
        self.requests = self.scheme.get_request_iterator(epoch=0, native=True)

    def _next_indices(self):
        try:
            return next(self.requests)
        except StopIteration:
            self.epoch += 1
            self.requests = self.scheme.get_request_iterator(epoch=self.epoch, native=True)
            return next(self.requests)

    def steps(self, count: int) -> None:
        w0, b0, w1, b1, w2, b2 = self.parameters
        parameters = self.parameters
        on_device = self.device.type == "cuda"
        for _ in range(count):
            indices = self._next_indices()
            if on_device:
                index = torch.as_tensor(indices, device=self.device)
                x, y = self.features[index], self.targets[index]
            else:
                x, y = torch.from_numpy(self.features[indices]), torch.from_numpy(self.targets[indices])
            hidden = torch.relu(torch.addmm(b0, x, w0))
            hidden = torch.relu(torch.addmm(b1, hidden, w1))
            loss = F.cross_entropy(torch.addmm(b2, hidden, w2), y)
            loss.backward()
            with torch.no_grad():
                gradients = [p.grad for p in parameters]
                torch._foreach_add_(parameters, gradients, alpha=-LEARNING_RATE)
            for p in parameters:
                p.grad = None


class IgniteSide:
    """The same training step run by an ``ignite.engine.Engine``."""

    def __init__(self, baseline: Baseline):
        from ignite.engine import Engine, Events

        self.baseline = baseline
        self.engine = Engine(lambda engine, indices: self._step(indices))
        self.count = 0
        self.engine.add_event_handler(Events.ITERATION_COMPLETED, self._stop)

    def _stop(self, engine):
        self.count -= 1
        if self.count == 0:
            engine.terminate()

    def _step(self, _):
        self.baseline.steps(1)

    def steps(self, count: int) -> None:
        self.count = count
        self.engine.run(range(count), max_epochs=1)


class LightningSide:
    """The same training step run by a ``lightning.Trainer`` (manual optimization, no logging)."""

    def __init__(self, baseline: Baseline):
        import lightning

        outer = baseline

        class Module(lightning.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_index):
                outer.steps(1)

            def configure_optimizers(self):
                return None

        self.module = Module()
        self.lightning = lightning

    def steps(self, count: int) -> None:
        trainer = self.lightning.Trainer(
            max_steps=count,
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
        )
        loader = torch.utils.data.DataLoader(range(count), batch_size=None)
        trainer.fit(self.module, loader)


def timed(side, count: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    side.steps(count)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


class Interleave(TrainingExtension):
    """Runs inside the Blocks loop: every ``steps`` batches, times that window and then the baseline's.

    One ``MainLoop.run()`` covers the whole measurement (steady state, no per-``run`` costs); windows
    alternate Blocks, baseline, Blocks, ... and each Blocks window is paired with the mean of the
    baseline windows just before and after it, which cancels slow drifts of the machine's load.
    """

    def __init__(self, baseline: Baseline, steps: int, repeats: int, device: torch.device) -> None:
        super().__init__()
        self.baseline, self.steps, self.repeats, self.device = baseline, steps, repeats, device
        self.count = 0
        self.mark: float | None = None
        self.blocks_times: list[float] = []
        self.base_times: list[float] = []

    def after_batch(self, batch) -> None:
        self.count += 1
        if self.count % self.steps:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        if self.mark is not None:
            self.blocks_times.append(now - self.mark)
        self.base_times.append(timed(self.baseline, self.steps, self.device))
        if len(self.blocks_times) == self.repeats:
            self.main_loop.log.current_row["training_finish_requested"] = True
        self.mark = time.perf_counter()

    def ratios(self) -> list[float]:
        return [
            (self.base_times[i] + self.base_times[i + 1]) / 2 / blocks  # (Blocks steps/s) / (baseline steps/s)
            for i, blocks in enumerate(self.blocks_times)
        ]


POLLER = r"""
import json, sys, time, urllib.request
url, count_file = sys.argv[1], sys.argv[2]
def get(path):
    with urllib.request.urlopen(url + path, timeout=60) as response:
        return json.load(response)
polls, next_poll = 0, time.monotonic()
while True:
    runs = get("api/runs")["runs"]
    for run in runs:
        channels = "&".join("channel=" + name for name in run["channels"][:4])
        if channels:
            get("api/series?run=" + run["id"] + "&" + channels + "&points=4000")
    polls += 1
    with open(count_file, "w") as file:
        file.write(str(polls))
    next_poll += 1.0
    time.sleep(max(next_poll - time.monotonic(), 0.0))
"""


class WatchingDashboard:
    """``blocks dashboard`` on a log, in its own process, and a poller at 1 Hz in another (as a browser)."""

    def __init__(self, path: str) -> None:
        self.count_file = path + ".polls"
        self.server = subprocess.Popen(
            [sys.executable, "-m", "blocks.cli.main", "dashboard", path, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        url = None
        for line in self.server.stdout:
            if line.startswith("Dashboard: "):
                url = line.split()[1]
                break
        if url is None:
            self.server.kill()
            raise RuntimeError("blocks dashboard did not start (is blocks-extensions[dashboard] installed?)")
        self.poller = subprocess.Popen([sys.executable, "-c", POLLER, url, self.count_file])
        deadline = time.monotonic() + 60
        while not os.path.exists(self.count_file):  # measure only once the page's first view was served
            if time.monotonic() > deadline or self.poller.poll() is not None:
                self.close()
                raise RuntimeError("the dashboard did not answer its first poll")
            time.sleep(0.05)

    def close(self) -> int:
        """Stop both; the number of polls answered."""
        self.poller.terminate()
        self.poller.wait()
        self.server.terminate()  # ends it like Ctrl-C
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        try:
            with open(self.count_file) as file:
                return int(file.read() or 0)
        except (OSError, ValueError):
            return 0


def run(
    batch_size: int, num_examples: int, repeats: int, steps: int, device: torch.device, guard: bool = True,
    dashboard: bool = False,
) -> dict[str, float]:
    torch.manual_seed(SEED)
    features, targets = make_data(num_examples)
    directory = tempfile.mkdtemp(prefix="loop-overhead-") if dashboard else None
    log = SQLiteLog(os.path.join(directory, "log.sqlite")) if directory else None
    blocks_side = BlocksSide(features, targets, batch_size, device, guard, log=log)
    baseline = Baseline(features, targets, batch_size, blocks_side.initial_values(), device)
    # a check that both sides compute the same updates on the same batches
    blocks_side.steps(2)
    baseline.steps(2)
    watching = WatchingDashboard(log.database) if log is not None else None
    for ours, theirs in zip(blocks_side.parameters, baseline.parameters):
        torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-4, atol=1e-5)
    interleave = Interleave(baseline, steps, repeats, device)
    blocks_side.loop.extensions.append(interleave)
    blocks_side.finish.set_conditions()  # the interleaving extension decides when to stop
    blocks_side.loop.run()
    if watching is not None:
        polls = watching.close()
        print(f"batch {batch_size:4d}: blocks dashboard answered {polls} polls during the measurement", flush=True)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
    ratios: dict[str, list[float]] = {"blocks": interleave.ratios()}
    base_times = interleave.base_times
    peers = {"ignite": IgniteSide, "lightning": LightningSide}
    for name, cls in peers.items():
        if importlib.util.find_spec(name) is None:
            continue
        side = cls(Baseline(features, targets, batch_size, blocks_side.initial_values(), device))
        side.steps(2)
        ratios[name] = []
        for repeat in range(repeats):
            first, second = (side, baseline) if repeat % 2 == 0 else (baseline, side)
            times = {id(first): timed(first, steps, device), id(second): timed(second, steps, device)}
            ratios[name].append(times[id(baseline)] / times[id(side)])
    blocks_side.close()
    per_step = statistics.median(base_times) / steps * 1e3
    for name, values in ratios.items():
        print(
            f"batch {batch_size:4d} {name:9s}/torch loop: median {statistics.median(values):.3f} "
            f"(range {min(values):.3f}-{max(values):.3f}, {repeats} paired repeats of {steps} steps; "
            f"torch loop {per_step:.2f} ms/step)",
            flush=True,
        )
    return {name: statistics.median(values) for name, values in ratios.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--repeats", type=int, default=41, help="paired repeats per batch size (>= 15 for figures)")
    parser.add_argument("--steps", type=int, default=None, help="batches per repeat (default 20 @128, 100 @16)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (default 1: stable timings on shared machines)"
    )
    parser.add_argument("--no-guard", action="store_true", help="turn the main loop's non-finite guard off")
    parser.add_argument(
        "--dashboard", action="store_true",
        help="log to SQLite and run `blocks dashboard` on it, polled at 1 Hz by another process",
    )  # fmt: skip
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:  # a smaller hidden layer keeps the smoke run to seconds
        DIMS[1:3] = [64, 64]
        plan = [(128, 1024, 2, 5), (16, 1024, 2, 10)]
    else:
        plan = [(128, 60000, args.repeats, args.steps or 20), (16, 60000, args.repeats, args.steps or 100)]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
        f"non-finite guard {'off' if args.no_guard else 'on'}"
        + (", SQLite log watched by blocks dashboard (polled at 1 Hz)" if args.dashboard else "")
    )
    targets = {128: 0.98, 16: 0.95}
    for batch_size, num_examples, repeats, steps in plan:
        medians = run(batch_size, num_examples, repeats, steps, device, guard=not args.no_guard,
                      dashboard=args.dashboard)
        if not args.quick:
            verdict = "meets" if medians["blocks"] >= targets[batch_size] else "MISSES"
            print(f"batch {batch_size:4d}: {verdict} the target {targets[batch_size]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
