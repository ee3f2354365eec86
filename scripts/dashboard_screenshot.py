"""The screenshot of the dashboard guide (docs/guides/dashboard.png), taken from real training runs.

Two runs of a small MLP regression write SQLite logs into a temporary
directory: ``baseline`` (learning rate 0.05, stopped after 6 epochs and
resumed to 12: one curve) and ``higher-lr`` (0.2), which is still training
(slowed down a little) while headless Chromium opens ``blocks dashboard`` on
the directory, waits for the charts and takes the picture.

Needs Chromium (``apt-get install chromium``) and the ``dashboard`` extra
(plotly). Usage: ``python scripts/dashboard_screenshot.py [--output PATH]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Identity, Tanh
from blocks.bricks.cost import SquaredError
from blocks.extensions import Checkpoint, FinishAfter, TrainingExtension
from blocks.graph import matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.log import SQLiteLog
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks_extensions import DataStreamMonitoring, TrainingDataMonitoring
from blocks_extensions.dashboard import Dashboard
from blocks_extensions.dashboard.browser import HeadlessChromium
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme, ShuffledScheme
from fuel.streams import DataStream

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Slow(TrainingExtension):
    """Sleeps after each batch so that a run is still going when the picture is taken."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def after_batch(self, batch) -> None:
        time.sleep(self.seconds)


def build(directory: str, name: str, learning_rate: float, epochs: int, *extra) -> tuple[MainLoop, FinishAfter]:
    rng = numpy.random.default_rng(0)
    features = rng.normal(size=(400, 8)).astype("float32")
    targets = numpy.sin(features[:, :2].sum(axis=1, keepdims=True)).astype("float32")
    valid = rng.normal(size=(100, 8)).astype("float32")
    valid_targets = numpy.sin(valid[:, :2].sum(axis=1, keepdims=True)).astype("float32")
    x, y = matrix("features"), matrix("targets")
    mlp = MLP([Tanh(), Identity()], [8, 32, 1], weights_init=IsotropicGaussian(0.3), biases_init=Constant(0), seed=1)
    mlp.initialize()
    cost = SquaredError().apply(y, mlp.apply(x))
    cost.name = "cost"
    train = DataStream(IndexableDataset({"features": features, "targets": targets}),
                       iteration_scheme=ShuffledScheme(400, 20, rng=2))
    held_out = DataStream(IndexableDataset({"features": valid, "targets": valid_targets}),
                          iteration_scheme=SequentialScheme(100, 50))
    finish = FinishAfter(after_n_epochs=epochs)
    loop = MainLoop(
        GradientDescent(cost, step_rule=Scale(learning_rate)), train, model=Model(cost),
        log=SQLiteLog(os.path.join(directory, name, "log.sqlite")),
        extensions=[TrainingDataMonitoring([cost], prefix="train", after_batch=True),
                    DataStreamMonitoring([cost], held_out, prefix="valid"),
                    finish, Checkpoint(os.path.join(directory, name, "checkpoint.tar"), every_n_epochs=4), *extra],
    )  # fmt: skip
    return loop, finish


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "guides", "dashboard.png"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        for name in ("baseline", "higher-lr"):
            os.makedirs(os.path.join(directory, name))
        baseline, finish = build(directory, "baseline", 0.05, 6)
        baseline.run()
        finish.set_conditions(after_n_epochs=12)  # continued: a resumed run, drawn as one curve
        baseline.run()
        live, _ = build(directory, "higher-lr", 0.2, 40, Slow(0.05))
        thread = threading.Thread(target=live.run)
        thread.start()
        time.sleep(8)  # a few epochs in
        dashboard = Dashboard([directory], port=0, poll=1.0)
        dashboard.start()
        try:
            with HeadlessChromium(width=1400, height=860) as browser:
                browser.open(dashboard.url)
                browser.wait_for("document.body.dataset.ready === '1' && Number(document.body.dataset.drawn) > 0", 60)
                time.sleep(3)  # a live update or two
                png = browser.screenshot()
        finally:
            dashboard.close()
            live.log.current_row["training_finish_requested"] = True
            thread.join()
    with open(args.output, "wb") as file:
        file.write(png)
    print(f"wrote {args.output} ({len(png)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
