"""Every example's small default, run in-process through its ``main(argv)`` (CI runs them all).

Each example prints its figures and returns them; the assertions check that
the training did what the example says (errors fall below chance, costs fall,
the Markov chain's transitions are learned), not wall times. The examples
share one prepared ``digits.hdf5`` (made offline by ``fuel-download`` /
``fuel-convert``) through ``--data-dir``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.timeout(300)


def load(name: str):
    """Import ``examples/<name>.py`` (examples import their sibling ``_common``)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("data")
    load("_common").prepare_digits(str(path))
    return str(path)


def run(name: str, *argv: str) -> tuple[dict, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = load(name).main(list(argv))
    return result, out.getvalue()


ALL = [
    "logistic_regression",
    "mlp",
    "lenet",
    "denoising_autoencoder",
    "rbm",
    "mnist",
    "mnist_lenet",
    "sqrt",
    "markov_chain",
    "cifar10_mlp",
    "cifar10_convnet",
    "alexnet",
    "char_lm",
]


@pytest.mark.parametrize("name", ALL)
def test_help(name):
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(io.StringIO()) as out:
        load(name).main(["--help"])
    assert exit_info.value.code == 0
    assert "--epochs" in out.getvalue() and "python examples/" in out.getvalue()


def test_logistic_regression(data_dir):
    result, printed = run("logistic_regression", "--quiet", "--data-dir", data_dir)
    assert result["test_error_rate"] < 0.2  # chance is 0.9
    assert "logistic regression test error" in printed


def test_mlp(data_dir):
    result, _ = run("mlp", "--quiet", "--data-dir", data_dir)
    assert result["test_error_rate"] < 0.6 and result["epochs"] == 4


def test_lenet(data_dir):
    result, _ = run("lenet", "--quiet", "--data-dir", data_dir)
    assert result["test_error_rate"] < 0.2


def test_mnist_digits(data_dir):
    result, printed = run("mnist", "--quiet", "--data-dir", data_dir)
    assert result["real_data"] and result["test_error_rate"] < 0.5
    assert "MLP 64-100-10" in printed


@pytest.mark.parametrize("name", ["mnist", "mlp", "lenet", "cifar10_mlp"])
def test_a_missing_real_dataset_is_an_error_that_says_how_to_get_it(data_dir, name, tmp_path, monkeypatch):
    """Before: a mistyped --data-dir silently trained on generated data and reported its test error (exit 0)."""
    monkeypatch.setenv("FUEL_DATA_PATH", str(tmp_path))
    argv = ["--quiet", "--data-dir", str(tmp_path / "typo"), "--epochs", "1"]
    if not name.startswith("cifar10"):
        argv += ["--dataset", "mnist"]
    dataset = "cifar10" if name.startswith("cifar10") else "mnist"
    with pytest.raises(SystemExit) as exit_info:
        run(name, *argv)
    message = str(exit_info.value.code)
    assert f"{dataset}.hdf5 is not in --data-dir" in message
    assert f"fuel-download {dataset} -d DIR && fuel-convert {dataset}" in message and "--generated" in message
    if name == "mnist":  # as a script: a message and exit status 1, no traceback
        script = [sys.executable, str(EXAMPLES / f"{name}.py"), *argv]
        result = subprocess.run(script, capture_output=True, text=True)
        assert result.returncode == 1 and "Traceback" not in result.stderr and "--generated" in result.stderr


def test_mnist_generated_only_when_asked(data_dir):
    result, printed = run(
        "mnist", "--quiet", "--data-dir", data_dir, "--dataset", "mnist", "--epochs", "1", "--generated", "6000", "1000"
    )
    assert not result["real_data"] and "GENERATED" in printed and "MLP 784-100-10" in printed
    assert "6000 train / 1000 test" in printed
    assert result["test_error_rate"] < 0.5
    with pytest.raises(SystemExit, match="two positive sizes"):
        run("mnist", "--quiet", "--data-dir", data_dir, "--generated", "5")


def test_mnist_lenet(data_dir, tmp_path):
    result, _ = run("mnist_lenet", "--quiet", "--data-dir", data_dir, "--output-dir", str(tmp_path))
    assert result["test_error_rate"] < 0.6
    assert (tmp_path / "checkpoint.tar").is_file()


def test_denoising_autoencoder(data_dir):
    result, _ = run("denoising_autoencoder", "--quiet", "--data-dir", data_dir)
    assert result["test_reconstruction_cost"] < 0.7 * 64 * math.log(2)  # well below the initial ~64 ln 2


def test_denoising_autoencoder_corrupts_only_the_encoder_input():
    import torch

    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, apply_dropout, matrix
    from blocks.initialization import Constant
    from blocks.roles import INPUT

    module = load("denoising_autoencoder")
    ae = module.TiedAutoencoder(4, 3, weights_init=Constant(0.1), biases_init=Constant(0))
    ae.initialize()
    x = matrix("features")
    reconstruction = ae.decode(ae.encode(x))
    clean = ComputationGraph([reconstruction, x * 1])
    inputs = VariableFilter(roles=[INPUT], applications=[ae.encode])(clean.variables)
    corrupted = apply_dropout(clean, inputs, 0.999, seed=1, custom_divisor=1.0)
    batch = {"features": torch.ones(2, 4)}
    dropped, target = corrupted.compile()(batch)
    torch.testing.assert_close(target, batch["features"])  # the target is untouched
    # everything dropped: the code is sigmoid(b) = 0.5, the reconstruction sigmoid(0.5 * 3 * 0.1)
    torch.testing.assert_close(dropped, torch.full((2, 4), torch.sigmoid(torch.tensor(0.15)).item()))


def test_rbm(data_dir, tmp_path):
    result, printed = run("rbm", "--quiet", "--data-dir", data_dir, "--output-dir", str(tmp_path))
    assert result["test_reconstruction_cost"] < 0.8 * 64 * math.log(2)
    assert result["updates"] == 5 * math.ceil(1437 / 20)
    assert "CD-1" in printed


def test_rbm_algorithm_state_round_trip():
    import torch

    from blocks.initialization import Constant, IsotropicGaussian

    module = load("rbm")

    def fresh():
        rbm = module.RBM(6, 4, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=3)
        rbm.initialize()
        return rbm, module.ContrastiveDivergence(rbm, k=2, persistent=True, seed=5)

    batches = [{"features": torch.rand(5, 6, generator=torch.Generator().manual_seed(i))} for i in range(4)]
    rbm, algorithm = fresh()
    algorithm.initialize()
    for batch in batches[:2]:
        algorithm.process_batch(batch)
    state = algorithm.state_dict()
    parameters = {k: v.detach().clone() for k, v in rbm.named_parameters()}
    for batch in batches[2:]:
        algorithm.process_batch(batch)

    other_rbm, other = fresh()
    other.initialize()
    with torch.no_grad():
        for name, value in other_rbm.named_parameters():
            value.copy_(parameters[name])
    other.load_state_dict(state)
    for batch in batches[2:]:
        other.process_batch(batch)
    for (name, ours), theirs in zip(rbm.named_parameters(), other_rbm.parameters()):
        torch.testing.assert_close(ours, theirs, msg=name)
    with pytest.raises(ValueError, match="unknown"):
        other.load_state_dict({**state, "bogus": 1})


def test_sqrt_and_resume(tmp_path):
    result, _ = run("sqrt", "--quiet", "--output-dir", str(tmp_path))
    assert result["max_abs_error"] < 0.15 and result["epochs"] == 20
    resumed, _ = run("sqrt", "--quiet", "--output-dir", str(tmp_path), "--resume", "--epochs", "22")
    assert resumed["epochs"] == 22  # continued from the checkpoint's 20 epochs


def test_markov_chain():
    result, printed = run("markov_chain", "--quiet")
    assert result["valid_cost_per_step"] < result["entropy_rate"] + 0.1
    assert result["max_transition_error"] < 0.15
    assert "true transitions" in printed


def test_char_lm_with_variational_dropout():
    result, printed = run("char_lm", "--quiet")
    assert result["dropout"] == 0.25 and result["epochs"] == 4
    assert result["valid_perplexity"] < 22  # the unigram model of Python source is about 28
    assert 0 < result["mean_forget_gate"] < 1  # a value inside the LSTM's step, monitored on validation data
    assert "standard library" in printed and "dropout 0.25 on the hidden states" in printed


def test_char_lm_compare_and_full_settings():
    module = load("char_lm")
    args = module.parse_args(["--full", "--epochs", "2"])
    assert (args.dim, args.chars, args.epochs) == (512, 200_000, 2)  # --full, except what is given
    result, printed = run("char_lm", "--quiet", "--compare", "--chars", "2000", "--valid-chars", "800", "--epochs",
                          "1", "--dim", "8", "--embed", "4", "--seq-length", "20")
    assert "baseline_valid_perplexity" in result and "dropout 0.00" in printed
    with pytest.raises(SystemExit):
        module.parse_args(["--dropout", "1"])


def test_cifar10_mlp(data_dir):
    result, printed = run("cifar10_mlp", "--quiet", "--data-dir", data_dir, "--generated")
    assert not result["real_data"] and "GENERATED" in printed and "2000 train / 500 test" in printed
    assert result["test_accuracy"] > 0.3 and result["epochs"] == 3


def test_cifar10_convnet(data_dir):
    module = load("cifar10_convnet")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = module.main(["--data-dir", data_dir, "--generated"])  # verbose: the estimator's per-epoch table
    table = out.getvalue()
    assert "train_loss" in table and "valid_accuracy" in table
    losses = [float(line.split()[1]) for line in table.splitlines() if line.strip()[:1].isdigit()]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result["epochs"] == 3


def test_alexnet_generated():
    result, printed = run("alexnet", "--quiet", "--lrn", "--generated")
    assert result["batches"] == 2 * 4 and math.isfinite(result["train_cost"])
    assert "1 process(es)" in printed
    for argv, message in (([], "no data: give --data-file FILE"), (["--generated", "--data-file", "x.h5"], "not both")):
        with pytest.raises(SystemExit, match=message):
            run("alexnet", "--quiet", *argv)


def test_smoke_runs_pass_the_examples_their_offline_arguments():
    sys.path.insert(0, str(EXAMPLES.parent / "scripts"))
    try:
        import run_smoke
    finally:
        sys.path.pop(0)
    commands = {Path(command[0]).stem: command[1:] for command in run_smoke.scripts()}
    for name in ("alexnet", "cifar10_mlp", "cifar10_convnet"):
        assert commands[name] == ["--generated"]
    assert commands["quickstart"] == [] and commands["mnist"] == []


@pytest.mark.parametrize("layout", ["features", "encoded_images"])
def test_alexnet_h5_file(tmp_path, layout):
    import h5py
    import numpy

    from fuel.converters.base import fill_hdf5_file

    rng = numpy.random.default_rng(0)

    def images(count):
        if layout == "features":  # fixed-size uint8 images, smaller than the crop (upscaled first)
            return rng.integers(0, 256, (count, 3, 40, 48), dtype=numpy.uint8)
        from PIL import Image

        out = numpy.empty(count, dtype=h5py.special_dtype(vlen=numpy.dtype("uint8")))
        for i in range(count):  # JPEG bytes of varying sizes, as fuel-convert ilsvrc2012 stores them
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (30 + i, 50, 3), dtype=numpy.uint8)).save(buffer, format="JPEG")
            out[i] = numpy.frombuffer(buffer.getvalue(), dtype="uint8")
        return out

    path = tmp_path / "images.hdf5"
    with h5py.File(path, "w") as f:
        fill_hdf5_file(
            f,
            [
                ("train", layout, images(12)),
                ("train", "targets", rng.integers(0, 10, (12, 1)).astype("int16")),
                ("valid", layout, images(4)),
                ("valid", "targets", rng.integers(0, 10, (4, 1)).astype("int16")),
            ],
        )
    argv = ["--quiet", "--data-file", str(path), "--epochs", "1", "--batch-size", "4"]
    argv += ["--workers", "2" if layout == "encoded_images" else "0"]  # decoding in a pool of two processes
    result, printed = run("alexnet", *argv)
    assert result["batches"] == 3 and str(path) in printed and math.isfinite(result["train_cost"])


def test_quickstart_output_fits_one_screen(data_dir, tmp_path):
    """Before: ~810 lines (a 20-line status block every epoch, twice on epochs 5/10/15, INFO lines in the bar)."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(EXAMPLES / "quickstart.py"),
        "--epochs",
        "6",
        "--data-dir",
        data_dir,
        "--output-dir",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 80
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(" | ")[0] for line in epochs] == [f"epoch {n}" for n in range(1, 7)]
    assert "INFO" not in result.stdout + result.stderr and "Traceback" not in result.stderr
    what_now = lines[lines.index("What now:") + 1 :]
    assert any(f"blocks log {out / 'log.sqlite'}" in line for line in what_now)
    assert any(line.strip().startswith("export FUEL_DATA_PATH=") for line in what_now)


def test_readme_shows_how_to_open_the_digits_from_your_own_code(data_dir):
    import re

    import fuel

    readme = (EXAMPLES.parent / "README.md").read_text()
    code = re.search(r"<!-- readme-digits -->\n```python\n(.*?)```", readme, re.S).group(1)
    with fuel.config.override(data_path=[data_dir]):  # what FUEL_DATA_PATH=... sets
        exec(compile(code, "README.md", "exec"), {})


def test_quickstart_short(data_dir, tmp_path):
    result, printed = run(
        "quickstart", "--epochs", "5", "--no-progress", "--data-dir", data_dir, "--output-dir", str(tmp_path)
    )
    assert result["epochs"] == 5 and result["valid_error_rate"] < 0.5
    assert (tmp_path / "checkpoint.tar").is_file() and (tmp_path / "log.sqlite").is_file()
    from blocks.log.sqlite import SQLiteLog

    log = SQLiteLog.read(str(tmp_path / "log.sqlite"))
    saves = [row["saved_to"] for _, row in log.rows() if "saved_to" in row]
    log.close()
    assert saves == [[str(tmp_path / "checkpoint.tar")]]  # epoch 5 is the last: one save, listed once


SIGTERM_AT_BATCH = """
import os, runpy, signal, sys
from blocks.algorithms import GradientDescent

original, count = GradientDescent.process_batch, [0]


def process_batch(self, batch):  # a scheduler's SIGTERM, delivered during batch {batch}
    count[0] += 1
    if count[0] == {batch}:
        os.kill(os.getpid(), signal.SIGTERM)
    return original(self, batch)


GradientDescent.process_batch = process_batch
sys.argv = [{script!r}, *{argv!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_quickstart_stopped_by_sigterm_mid_epoch_finishes_its_script(data_dir, tmp_path):
    """Before: ``KeyError: 'valid_error_rate'`` (the script read the monitoring records from the last row)."""
    from blocks.serialization import checkpoint_info

    argv = ["--epochs", "5", "--no-progress", "--data-dir", data_dir, "--output-dir", str(tmp_path)]
    # 45 batches of 32 per epoch: batch 60 is in epoch 2
    code = SIGTERM_AT_BATCH.format(batch=60, script=str(EXAMPLES / "quickstart.py"), argv=argv)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "digits test error" in result.stdout and "after 1 epochs" in result.stdout
    saved = checkpoint_info(tmp_path / "checkpoint.tar")["status"]  # written on the interrupt, mid-epoch
    assert (saved["epochs_done"], saved["iterations_done"]) == (1, 60)


@pytest.mark.timeout(120)
def test_quickstart_resumed_at_its_last_epoch_stops(data_dir, tmp_path, monkeypatch):
    """Before: FinishAfter's == N never fired again after a resume at N, and the run trained on forever."""
    argv = ["--epochs", "1", "--no-progress", "--data-dir", data_dir, "--output-dir", str(tmp_path)]
    first, _ = run("quickstart", *argv)
    monkeypatch.setenv("BLOCKS_RESUME_FROM", str(tmp_path / "checkpoint.tar"))
    resumed, _ = run("quickstart", *argv)
    assert first["epochs"] == resumed["epochs"] == 1
    assert resumed["valid_error_rate"] == first["valid_error_rate"]  # nothing trained after the resume


def test_alexnet_workers_default_to_the_cores_minus_one(monkeypatch):
    alexnet = load("alexnet")
    monkeypatch.setattr(alexnet.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert alexnet.parse_args([]).workers == 15
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun: four processes share the machine's cores
    assert alexnet.default_workers() == 3
    monkeypatch.setattr(alexnet.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert alexnet.default_workers() == 0  # one core: the trainer reads its own batches
    assert alexnet.parse_args(["--workers", "2"]).workers == 2
    with pytest.raises(SystemExit):
        alexnet.parse_args(["--workers", "-1"])
