"""fuel-download / fuel-convert / fuel-info: one subcommand per registered dataset, built lazily."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types

import h5py
import numpy
import pytest

from blocks import hookimpl
from blocks.cli import fuel_convert, fuel_download, fuel_info

CALLS: list[dict] = []


def fill_download(subparser):
    subparser.add_argument("size", type=int, choices=(16, 28))

    def download(**kwargs):
        CALLS.append(kwargs)
        return [os.path.join(kwargs["directory"], f"toy{kwargs['size']}.bin")]

    return download


def fill_convert(subparser):
    subparser.add_argument("--scale", type=float, default=1.0)

    def convert(directory, output_directory, output_filename="toy.hdf5", scale=1.0):
        from fuel.converters import fill_hdf5_file, output_hdf5

        path = os.path.join(output_directory, output_filename)
        with output_hdf5(path) as h5file:
            fill_hdf5_file(h5file, [("train", "x", numpy.arange(4.0)[:, None] * scale)])
        return (path,)

    return convert


def toy_plugin(download=fill_download, convert=fill_convert):
    module = types.ModuleType("toy_datasets")

    @hookimpl
    def register_datasets(register):
        register("toy", "fractions:Fraction", download=download, convert=convert, description="a toy dataset")
        register("lazy_only", "no_such_module.anywhere:Dataset", download="no_such_module.anywhere:fill",
                 convert="no_such_module.anywhere:fill", description="never imported by --help")

    module.register_datasets = register_datasets
    return module


def test_nothing_registered_says_how_to_get_datasets(plugin_host, capsys):
    assert fuel_download.main([]) == 1
    err = capsys.readouterr().err
    assert "No datasets are installed" in err and "pip install packages/fuel-datasets" in err
    with pytest.raises(SystemExit) as exit_info:
        fuel_convert.main(["--help"])
    assert exit_info.value.code == 0
    assert "pip install packages/fuel-datasets" in capsys.readouterr().out


@pytest.mark.parametrize("main", [fuel_download.main, fuel_convert.main])
def test_a_dataset_named_with_no_plugin_installed_says_datasets_come_from_plugins(plugin_host, capsys, main):
    """Before: argparse's ``invalid choice: 'digits' (choose from )``."""
    assert main(["digits", "-d", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'digits': datasets come from plugins, and none is installed" in err
    assert "pip install packages/fuel-datasets" in err and "choose from" not in err


def test_an_unknown_dataset_lists_the_installed_ones_and_a_close_match(register_plugin, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    assert fuel_download.main(["-d", "somewhere", "toys"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'toys' (did you mean 'toy'?); installed: lazy_only, toy" in err
    assert "Datasets come from plugins" in err and "no_such_module" not in sys.modules


def test_help_lists_registered_datasets_without_importing_them(register_plugin, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    with pytest.raises(SystemExit):
        fuel_download.main(["--help"])
    out = capsys.readouterr().out
    assert "toy" in out and "a toy dataset" in out and "never imported by --help" in out
    assert "no_such_module" not in sys.modules


def test_dataset_arguments_and_common_options_reach_the_function(register_plugin, tmp_path, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    CALLS.clear()
    assert fuel_download.main(["-d", str(tmp_path), "toy", "28", "--mirror", "http://m1/", "--no-verify",
                               "--mirror", "/srv/m2", "--timeout", "5"]) == 0
    (call,) = CALLS
    assert call == {"directory": str(tmp_path), "clear": False, "mirrors": ["http://m1/", "/srv/m2"],
                    "verify": False, "timeout": 5.0, "retries": 3, "progress": True, "size": 28}
    assert "next: fuel-convert toy" in capsys.readouterr().out
    CALLS.clear()
    assert fuel_download.main(["toy", "16", "-d", str(tmp_path), "--clear"]) == 0  # options after the name too
    assert CALLS[0]["clear"] is True and CALLS[0]["size"] == 16


def test_dataset_help_shows_its_own_arguments(register_plugin, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    with pytest.raises(SystemExit):
        fuel_download.main(["toy", "--help"])
    assert "{16,28}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        fuel_download.main(["toy", "17"])
    assert exit_info.value.code == 2
    assert fuel_download.main(["nonexistent"]) == 2
    assert "unknown dataset 'nonexistent'; installed: lazy_only, toy" in capsys.readouterr().err


def test_broken_plugin_reference_is_reported_with_the_plugin(register_plugin, capsys):
    register_plugin(toy_plugin(), "toy_datasets", distribution="toy-dist", version="9.9")
    assert fuel_download.main(["lazy_only"]) == 2
    err = capsys.readouterr().err
    assert "toy-dist 9.9" in err and "no_such_module.anywhere:fill" in err


def test_fill_subparser_must_return_a_function(register_plugin, capsys):
    register_plugin(toy_plugin(download=lambda subparser: None), "toy_datasets")
    assert fuel_download.main(["toy"]) == 2
    assert "must return the function to call" in capsys.readouterr().err


def test_convert_records_the_command_and_fuel_info_prints_it(register_plugin, tmp_path, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    argv = ["toy", "-d", str(tmp_path), "-o", str(tmp_path), "-r", "scaled", "--scale", "2"]
    assert fuel_convert.main(argv) == 0
    path = tmp_path / "scaled.hdf5"
    with h5py.File(path, "r") as h5file:
        assert h5file.attrs["fuel_convert_command"] == "fuel-convert " + " ".join(argv)
        numpy.testing.assert_array_equal(h5file["x"][:, 0], [0, 2, 4, 6])
    capsys.readouterr()
    assert fuel_info.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "Interface version: 0.3" in out and "Converter version: 0.2" in out
    assert f"Command: fuel-convert toy -d {tmp_path}" in out and "train: x[4]" in out


def test_convert_needs_an_existing_output_directory(register_plugin, tmp_path, capsys):
    register_plugin(toy_plugin(), "toy_datasets")
    assert fuel_convert.main(["toy", "-o", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fuel_info_without_provenance_and_on_a_bad_file(tmp_path, capsys):
    plain = tmp_path / "plain.hdf5"
    with h5py.File(plain, "w") as h5file:
        h5file.create_dataset("x", data=[1])
    (tmp_path / "bad.hdf5").write_text("not hdf5")
    assert fuel_info.main([str(plain), str(tmp_path / "bad.hdf5")]) == 2
    captured = capsys.readouterr()
    assert "Interface version: N/A" in captured.out and "Command: N/A" in captured.out
    assert "bad.hdf5" in captured.err


def _seconds(argv: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0
    return elapsed, result


def test_help_is_fast_and_imports_neither_torch_nor_h5py():
    """The datasets of fuel-datasets are listed by a fresh `fuel-download --help` that imports neither torch nor h5py.

    Only core and fuel-datasets are loaded (BLOCKS_LOAD_PLUGINS): the cost of other plugins' hook modules is
    theirs. Timed against `python -c "import torch"` in the same run (1 s is about 0.57 of it here).
    """
    code = ("import sys; from blocks.cli import fuel_download\n"
            "try:\n    fuel_download.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "from blocks.plugins import get_registry\n"
            "print('NAMES', *[e.name for e in get_registry('datasets').entries() if e.metadata.get('download')])\n"
            "print('HEAVY', *sorted(m for m in ('torch', 'h5py', 'numpy', 'scipy') if m in sys.modules))")
    env = {**os.environ, "BLOCKS_LOAD_PLUGINS": "fuel-datasets"}
    runs = [_seconds([sys.executable, "-c", code], env) for _ in range(2)]
    help_time, result = min(t for t, _ in runs), runs[0][1]
    names = result.stdout.split("NAMES")[1].splitlines()[0].split()
    listing = result.stdout.split("NAMES")[0]
    assert all(f"    {name}" in listing for name in names)
    heavy = result.stdout.split("HEAVY")[1].split()
    assert "torch" not in heavy and "h5py" not in heavy
    torch_time = min(_seconds([sys.executable, "-c", "import torch"])[0] for _ in range(2))
    assert help_time < 0.6 * torch_time, (help_time, torch_time)  # best of two each, same run


def test_fuel_extra_downloaders_modules_add_subcommands(register_plugin, monkeypatch, capsys):
    import fuel

    extra = types.ModuleType("my_lab_downloaders")
    extra.all_downloaders = (("lab_data", fill_download),)
    monkeypatch.setitem(sys.modules, "my_lab_downloaders", extra)
    CALLS.clear()
    with fuel.config.override(extra_downloaders=["my_lab_downloaders"]):
        assert fuel_download.main(["lab_data", "16"]) == 0
        assert CALLS[0]["size"] == 16
        register_plugin(toy_plugin(), "toy_datasets")
        extra.all_downloaders = (("toy", fill_download),)
        assert fuel_download.main(["toy", "16"]) == 2
        assert "provided twice" in capsys.readouterr().err
    with fuel.config.override(extra_downloaders=["no_such_lab_module"]):
        assert fuel_download.main(["--help"]) == 2
        assert "all_downloaders" in capsys.readouterr().err


def test_fuel_extra_converters_modules_add_subcommands(plugin_host, monkeypatch, tmp_path):
    import fuel

    extra = types.ModuleType("my_lab_converters")
    extra.all_converters = (("lab_data", fill_convert),)
    monkeypatch.setitem(sys.modules, "my_lab_converters", extra)
    with fuel.config.override(extra_converters=["my_lab_converters"]):
        assert fuel_convert.main(["lab_data", "-d", str(tmp_path), "-o", str(tmp_path), "--scale", "2"]) == 0
    with h5py.File(tmp_path / "toy.hdf5", "r") as h5file:
        numpy.testing.assert_array_equal(h5file["x"][:, 0], [0.0, 2.0, 4.0, 6.0])
    with fuel.config.override(extra_converters=["no_such_lab_module"]):
        assert fuel_convert.main(["--help"]) == 2


def test_a_converter_that_lets_a_decompression_error_through_gets_the_download_record(register_plugin, tmp_path,
                                                                                      capsys):
    """Safety net for converters that do not use fuel.converters.inputs.reading_input: no raw traceback."""
    import gzip

    from fuel.downloaders import manifest

    def fill_bad_convert(subparser):
        def convert(directory, output_directory, output_filename="toy.hdf5"):
            with gzip.open(os.path.join(directory, "a.gz")) as handle:
                handle.read()

        return convert

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "a.gz").write_bytes(gzip.compress(b"x" * 5000)[:30])
    manifest.record(str(downloads), "a.gz", sha256="0" * 64, verified=False, reason="--no-verify")
    register_plugin(toy_plugin(convert=fill_bad_convert), "toy_datasets")
    assert fuel_convert.main(["toy", "-d", str(downloads), "-o", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert f"an input file in {downloads} is damaged or truncated (EOFError" in err and "Traceback" not in err
    assert "inputs not verified when downloaded: a.gz" in err


def _doc_example_download(subparser):
    """The dataset-plugin example the docs showed: an option the command already has, a narrow signature."""
    subparser.add_argument("--mirror", default="https://example.org/toy")
    return lambda directory, mirror: [f"{mirror}/toy.npz -> {directory}"]


def test_an_option_that_collides_with_the_commands_own_names_the_plugin(register_plugin, capsys):
    """Before: argparse.ArgumentError (conflicting option string: --mirror) escaped as an internal error."""
    register_plugin(toy_plugin(download=_doc_example_download), "toy_datasets", distribution="fuel-toy",
                    version="0.3")
    assert fuel_download.main(["toy"]) == 2
    err = capsys.readouterr().err
    assert "fuel-download: error: plugin fuel-toy 0.3: the download fill_subparser of dataset 'toy'" in err
    assert "conflicting option string: --mirror" in err and "Traceback" not in err
    assert "directory, clear, mirrors, verify, timeout, retries, progress" in err


def _narrow_download(subparser):
    subparser.add_argument("--flavour", default="plain")

    def download(directory, flavour):
        raise AssertionError("must not be called")

    return download


def test_a_function_that_cannot_take_the_keyword_arguments_names_the_plugin(register_plugin, capsys):
    """Before: TypeError: unexpected keyword argument 'clear', printed as an internal error with a traceback."""
    register_plugin(toy_plugin(download=_narrow_download), "toy_datasets", distribution="fuel-toy", version="0.3")
    assert fuel_download.main(["toy", "-d", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert "plugin fuel-toy 0.3: the download function of dataset 'toy'" in err
    assert "unexpected keyword argument 'clear'" in err and "its own options: flavour" in err
    assert "Traceback" not in err


def test_a_type_error_inside_a_correct_function_is_still_a_bug_with_its_traceback(register_plugin, capsys):
    def fill(subparser):
        def download(**kwargs):
            return len(None)

        return download

    register_plugin(toy_plugin(download=fill), "toy_datasets")
    assert fuel_download.main(["toy", "-d", "somewhere"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_bad_add_argument_call_names_the_plugin(register_plugin, tmp_path, capsys):
    def fill(subparser):
        subparser.add_argument("--scale", type="float")  # a string where argparse wants a callable
        return lambda **kwargs: ()

    register_plugin(toy_plugin(convert=fill), "toy_datasets", distribution="fuel-toy", version="0.3")
    assert fuel_convert.main(["toy", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "plugin fuel-toy 0.3: the convert fill_subparser of dataset 'toy'" in err and "Traceback" not in err


@pytest.mark.parametrize("module, kind", [(fuel_download, "DOWNLOAD_KEYWORDS"), (fuel_convert, "CONVERT_KEYWORDS")])
def test_the_documented_keywords_are_what_the_command_passes(module, kind):
    import argparse

    from fuel.downloaders import commands

    parser = argparse.ArgumentParser()
    module._add_common(parser, True)
    dests = {action.dest for action in parser._actions} - {"help", "checksum"}  # --checksum: fuel-convert's own
    assert dests == set(getattr(commands, kind))
