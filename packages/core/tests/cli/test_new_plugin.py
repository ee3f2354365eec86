"""``blocks new-plugin NAME [-o DIR]`` renders a working plugin package."""

from __future__ import annotations

import sys
import tomllib

import pytest

from blocks.cli.main import build_parser, main
from blocks.cli.new_plugin import render_plugin, template_variables


def test_renders_complete_package(tmp_path, capsys, make_plugin_host):
    make_plugin_host()
    target = tmp_path / "out" / "blocks-demo"
    assert main(["new-plugin", "blocks-demo", "-o", str(target)]) == 0
    assert f"created {target} (command)" in capsys.readouterr().out
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/blocks_demo/__init__.py",
        "src/blocks_demo/commands.py",
        "src/blocks_demo/plugin.py",
        "src/blocks_demo/py.typed",
        "tests/test_command.py",
    ]
    meta = tomllib.loads((target / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "blocks-demo"
    assert meta["project"]["entry-points"]["blocks"] == {"blocks-demo": "blocks_demo.plugin"}
    assert meta["project"]["requires-python"] == ">=3.11"
    assert meta["project"]["dependencies"] == ["blocks-core>=0.1,<0.2"]
    for path in target.rglob("*.py"):
        text = path.read_text()
        compile(text, str(path), "exec")
        assert "${" not in text and "__module__" not in str(path)
    assert not list(tmp_path.joinpath("out").glob(".blocks-demo.*"))  # staging directory is gone


def test_rendered_plugin_registers_its_command(tmp_path, monkeypatch, register_plugin, plugin_host, capsys):
    target = render_plugin("blocks-demo", tmp_path / "blocks-demo")
    monkeypatch.syspath_prepend(str(target / "src"))
    monkeypatch.delitem(sys.modules, "blocks_demo", raising=False)
    from blocks_demo import plugin

    register_plugin(plugin, distribution="blocks-demo")
    args = build_parser(plugin_host).parse_args(["demo", "--name", "test"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == "Hello, test! (from blocks-demo)\n"
    info = {p.name: p for p in plugin_host.plugins()}["blocks-demo"]
    assert info.hooks == ["register_commands"]
    for name in [m for m in sys.modules if m.startswith("blocks_demo")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("name", ["Blocks-Demo", "blocks_demo", "-demo", "demo-", "1demo", ""])
def test_invalid_names_are_rejected(name):
    with pytest.raises(ValueError, match="not a valid distribution name.*blocks-hello"):
        template_variables(name)


@pytest.mark.parametrize("description", ['say "hi"', "two\nlines", "back\\slash", "  "])
def test_description_that_would_break_the_files_is_rejected(description):
    with pytest.raises(ValueError, match="one non-empty line without double quotes or backslashes"):
        template_variables("blocks-demo", description)


def test_reserved_name_is_rejected():
    with pytest.raises(ValueError, match="taken by blocks-core"):
        template_variables("blocks-core")


def test_existing_non_empty_directory_is_refused(tmp_path, make_plugin_host, capsys):
    make_plugin_host()
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["new-plugin", "blocks-demo", "-o", str(tmp_path)]) == 2
    assert "already exists and is not an empty directory" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_empty_directory_is_filled(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    render_plugin("blocks-demo", target)
    assert (target / "src" / "blocks_demo" / "plugin.py").is_file()


def test_variables():
    variables = template_variables("my-plugin", "does things")
    assert variables["module"] == "my_plugin"
    assert variables["command"] == "my-plugin"
    assert (variables["short"], variables["camel"]) == ("my_plugin", "MyPlugin")
    assert variables["description"] == "does things"


def test_default_output_is_name_in_current_directory(tmp_path, monkeypatch, make_plugin_host, capsys):
    make_plugin_host()
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "blocks-here", "--description", "made here"]) == 0
    assert "created blocks-here" in capsys.readouterr().out
    meta = tomllib.loads((tmp_path / "blocks-here" / "pyproject.toml").read_text())
    assert meta["project"]["description"] == "made here"


ALL_KINDS = ["step-rule", "dataset", "extension", "brick", "backend", "command"]


def test_every_kind_renders_into_one_package_that_registers_each(tmp_path, monkeypatch, register_plugin, plugin_host):
    from blocks.cli.new_plugin import KINDS
    from blocks.registry import KINDS as REGISTRIES

    assert sorted(KINDS) == sorted(ALL_KINDS)
    target = render_plugin("blocks-every", tmp_path / "blocks-every", kinds=ALL_KINDS)
    for path in target.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".md", ".toml"}:
            text = path.read_text()
            assert "${" not in text and "$$" not in text, path
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    monkeypatch.syspath_prepend(str(target / "src"))
    for name in [m for m in sys.modules if m.startswith("blocks_every")]:
        monkeypatch.delitem(sys.modules, name)
    import blocks_every
    from blocks_every import plugin

    register_plugin(plugin, distribution="blocks-every")
    info = {p.name: p for p in plugin_host.plugins()}["blocks-every"]
    # every registry a kind contributes to holds the plugin's name, and the hooks are those of plugin.py
    assert {kind: names for kind, names in info.registered.items()} == {
        kind: ["every"] for kind in ("bricks", "step_rules", "extensions", "datasets", "backends")
    }
    assert set(info.registered) < set(REGISTRIES)
    assert sorted(info.hooks) == sorted(plugin.__all__)
    assert "blocks_every.rules" not in sys.modules and "EveryRule" in blocks_every.__all__  # registered lazily
    assert build_parser(plugin_host).parse_args(["every"]).func is not None
    for name in [m for m in sys.modules if m.startswith("blocks_every")]:
        monkeypatch.delitem(sys.modules, name)


def test_rendered_code_is_ruff_clean(tmp_path):
    ruff = pytest.importorskip("ruff")
    import subprocess

    target = render_plugin("blocks-every", tmp_path / "blocks-every", kinds=ALL_KINDS)
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=target,
                            capture_output=True, text=True)
    assert ruff and result.returncode == 0, result.stdout + result.stderr


def test_kinds_from_the_command_line(tmp_path, capsys, make_plugin_host):
    make_plugin_host()
    target = tmp_path / "blocks-two"
    assert main(["new-plugin", "blocks-two", "-o", str(target), "--kind", "dataset", "--kind", "step-rule"]) == 0
    assert f"created {target} (dataset, step-rule)" in capsys.readouterr().out
    assert sorted(p.name for p in (target / "tests").iterdir()) == ["test_dataset.py", "test_step_rule.py"]
    with pytest.raises(SystemExit):
        main(["new-plugin", "blocks-three", "-o", str(tmp_path / "three"), "--kind", "optimizer"])
    assert "invalid choice: 'optimizer'" in capsys.readouterr().err
    assert not (tmp_path / "three").exists()


def test_unknown_kind_is_refused_by_the_function(tmp_path):
    with pytest.raises(ValueError, match="unknown plugin kind.*optimizer.*kinds: command, step-rule"):
        render_plugin("blocks-demo", tmp_path / "x", kinds=["optimizer"])
    assert not (tmp_path / "x").exists()


def test_name_whose_registry_part_starts_with_a_digit_is_refused():
    with pytest.raises(ValueError, match="must start with a letter"):
        template_variables("blocks-2d")
