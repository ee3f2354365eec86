"""One subprocess that receives SIGINT, then SIGTERM, while training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, signal, sys, time
    import numpy
    from blocks.algorithms import TrainingAlgorithm
    from blocks.extensions import TrainingExtension
    from blocks.log import TrainingLog
    from blocks.main_loop import MainLoop
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    class Slow(TrainingAlgorithm):
        def initialize(self):
            pass
        def process_batch(self, batch):
            time.sleep(0.02)

    class Report(TrainingExtension):
        interrupts = []
        def after_batch(self, batch):
            print("batch", self.main_loop.status["iterations_done"], flush=True)
        def on_interrupt(self):
            self.interrupts.append(self.main_loop.status["iterations_done"])

    stream = DataStream(IndexableDataset({"x": numpy.zeros(1000)}), iteration_scheme=SequentialScheme(1000, 1))
    loop = MainLoop(Slow(), stream, log=TrainingLog(), extensions=[Report()])
    # what run() must put back: the handlers in force before it (SIG_IGN for SIGINT when this process was started
    # in the background by a non-interactive shell, Python's default_int_handler otherwise)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    loop.run()
    status = loop.status
    print("RESULT", json.dumps({
        "iterations_done": status["iterations_done"], "epochs_done": status["epochs_done"],
        "epoch_interrupt": status["epoch_interrupt_received"], "batch_interrupt": status["batch_interrupt_received"],
        "interrupts": Report.interrupts, "finished": loop.log.current_row.get("training_finished", False),
        "sigint_restored": signal.getsignal(signal.SIGINT) == before[0],
        "sigterm_restored": signal.getsignal(signal.SIGTERM) == before[1],
    }), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_finishes_the_epoch_then_sigterm_finishes_the_batch():
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        sent_int = sent_term = None
        result = None
        for line in process.stdout:
            if line.startswith("batch"):
                done = int(line.split()[1])
                if sent_int is None and done >= 3:
                    process.send_signal(signal.SIGINT)
                    sent_int = done
                elif sent_int is not None and sent_term is None and done >= sent_int + 3:
                    process.send_signal(signal.SIGTERM)
                    sent_term = done
            elif line.startswith("RESULT"):
                result = json.loads(line[len("RESULT") :])
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, process.stderr.read()
    assert result is not None
    assert result["epoch_interrupt"] and result["batch_interrupt"] and result["finished"]
    assert result["epochs_done"] == 0  # SIGINT alone would have let the 1000-batch epoch finish
    assert sent_term <= result["iterations_done"] <= sent_term + 2  # stops after the batch in progress
    assert len(result["interrupts"]) == 2 and result["interrupts"][0] >= sent_int
    assert result["sigint_restored"] and result["sigterm_restored"]
