"""Configuration: code > environment > YAML file > default, for blocks and fuel."""

from __future__ import annotations

import os

import pytest

import fuel
from blocks.config import config as blocks_config
from blocks.stability import REWRITES
from fuel.config_parser import Configuration, ConfigurationError, path_list


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home directory and no configuration variables from the caller."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in list(os.environ):
        if var.startswith(("BLOCKS_", "FUEL_")):
            monkeypatch.delenv(var)
    blocks_config.reset()
    fuel.config.reset()
    yield tmp_path
    blocks_config.reset()
    fuel.config.reset()


def _demo() -> Configuration:
    cfg = Configuration("demo", "DEMO_CONFIG", "~/.demorc")
    cfg.add_option("default_seed", type=int, default=1, env_var="DEMO_DEFAULT_SEED")
    cfg.add_option("profile", type=bool, default=False, env_var="DEMO_PROFILE")
    cfg.add_option("data_path", type=path_list, env_var="DEMO_DATA_PATH")
    return cfg


def test_precedence_code_env_file_default(home, monkeypatch):
    cfg = _demo()
    assert (cfg.default_seed, cfg.source("default_seed")) == (1, "default")
    (home / ".demorc").write_text("default_seed: 2\n")
    cfg.reset()
    assert (cfg.default_seed, cfg.source("default_seed")) == (2, "file")
    monkeypatch.setenv("DEMO_DEFAULT_SEED", "3")
    assert (cfg.default_seed, cfg.source("default_seed")) == (3, "env")
    cfg.default_seed = "4"
    assert (cfg.default_seed, cfg.source("default_seed")) == (4, "code")
    del cfg.default_seed
    assert cfg.default_seed == 3


def test_file_from_environment_variable_wins_over_default_file(home, monkeypatch):
    (home / ".demorc").write_text("default_seed: 2\n")
    other = home / "other.yaml"
    other.write_text("default_seed: 7\nprofile: yes\n")
    monkeypatch.setenv("DEMO_CONFIG", str(other))
    cfg = _demo()
    assert cfg.config_file() == str(other)
    assert (cfg.default_seed, cfg.profile) == (7, True)


def test_config_file_variable_naming_missing_file_is_an_error(home, monkeypatch):
    monkeypatch.setenv("DEMO_CONFIG", str(home / "missing.yaml"))
    with pytest.raises(ConfigurationError, match="DEMO_CONFIG=.*missing.yaml.*does not name a file"):
        _demo().default_seed


def test_unknown_key_in_file_names_valid_options(home):
    (home / ".demorc").write_text("default_seed: 2\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigurationError) as info:
        _demo().default_seed
    message = str(info.value)
    assert "'learning_rate'" in message
    assert "valid options: data_path, default_seed, profile" in message
    assert ".demorc" in message


def test_unknown_attribute_names_valid_options(home):
    cfg = _demo()
    with pytest.raises(ConfigurationError, match="unknown demo configuration option 'seed'; valid options: data_path"):
        cfg.seed
    with pytest.raises(ConfigurationError, match="'seed'"):
        cfg.seed = 3
    assert isinstance(ConfigurationError("x"), ValueError)


@pytest.mark.parametrize(
    ("text", "match"),
    [("- a\n- b\n", "expected a mapping"), ("default_seed: [\n", "not valid YAML")],
)
def test_malformed_file_is_an_error(home, text, match):
    (home / ".demorc").write_text(text)
    with pytest.raises(ConfigurationError, match=match):
        _demo().default_seed


def test_bad_values_name_option_and_source(home, monkeypatch):
    monkeypatch.setenv("DEMO_DEFAULT_SEED", "seven")
    cfg = _demo()
    with pytest.raises(ConfigurationError, match="'default_seed' from env: invalid value"):
        cfg.default_seed
    monkeypatch.setenv("DEMO_PROFILE", "maybe")
    with pytest.raises(ConfigurationError, match="expected a boolean"):
        cfg.profile
    with pytest.raises(ConfigurationError, match="'default_seed': invalid value 'x'"):
        cfg.default_seed = "x"


def test_required_option_without_value_says_how_to_set_it(home):
    with pytest.raises(ConfigurationError, match="'data_path' is not set.*DEMO_DATA_PATH"):
        _demo().data_path


def test_override_restores_previous_values(home):
    cfg = _demo()
    cfg.default_seed = 5
    with cfg.override(default_seed=6, profile=True):
        assert (cfg.default_seed, cfg.profile) == (6, True)
    assert (cfg.default_seed, cfg.profile) == (5, False)
    with pytest.raises(RuntimeError):
        with cfg.override(default_seed=9):
            raise RuntimeError
    assert cfg.default_seed == 5


def test_path_list(home):
    assert path_list(os.pathsep.join(["/a", "~/b"])) == ["/a", str(home / "b")]
    assert path_list(["/x"]) == ["/x"]
    assert path_list(None) == []
    with pytest.raises(ConfigurationError, match="path list"):
        path_list(3)


def test_blocks_options_and_defaults(home):
    expected = {"default_seed", "profile", "stop_on_nonfinite", "log_backend", "sqlite_database", "temp_dir", "floatX",
                "device", "stability_rewrites", "step_rule"}
    assert set(blocks_config.options) == expected
    assert blocks_config.as_dict() == {
        "default_seed": 1,
        "device": "auto",
        "floatX": "float32",
        "log_backend": "python",
        "profile": False,
        "sqlite_database": str(home / "blocks_log.sqlite"),
        "stability_rewrites": tuple(REWRITES),
        "stop_on_nonfinite": True,
        "step_rule": "scale",
        "temp_dir": None,
    }


def test_blocks_config_file_and_env(home, monkeypatch):
    rc = home / "blocks.yaml"
    rc.write_text("floatX: float64\ndevice: cpu\ndefault_seed: 11\n")
    monkeypatch.setenv("BLOCKS_CONFIG", str(rc))
    monkeypatch.setenv("BLOCKS_DEFAULT_SEED", "12")
    assert blocks_config.floatX == "float64"
    assert blocks_config.device == "cpu"
    assert blocks_config.default_seed == 12
    with blocks_config.override(default_seed=13):
        assert blocks_config.default_seed == 13
    monkeypatch.setenv("BLOCKS_FLOATX", "float8")
    with pytest.raises(ConfigurationError, match="floatX must be one of float16, bfloat16, float32, float64"):
        blocks_config.floatX


def test_blocks_default_file_is_blocksrc(home):
    (home / ".blocksrc").write_text("log_backend: sqlite\nsqlite_database: ~/runs.sqlite\n")
    assert blocks_config.log_backend == "sqlite"
    assert blocks_config.sqlite_database == str(home / "runs.sqlite")


def test_fuel_config_file_and_env(home, monkeypatch):
    rc = home / "fuel.yaml"
    rc.write_text(f"data_path: [{home / 'd1'}, {home / 'd2'}]\nmirrors: http://a http://b\n")
    monkeypatch.setenv("FUEL_CONFIG", str(rc))
    assert fuel.config.data_path == [str(home / "d1"), str(home / "d2")]
    assert fuel.config.mirrors == ["http://a", "http://b"]
    monkeypatch.setenv("FUEL_DATA_PATH", os.pathsep.join(["/data/a", "/data/b"]))
    assert fuel.config.data_path == ["/data/a", "/data/b"]
    assert fuel.config.source("data_path") == "env"
    assert fuel.config.local_data_path == ""
    assert (fuel.config.default_seed, fuel.config.floatX) == (1, "float32")
    assert fuel.config.extra_converters == fuel.config.extra_downloaders == []
    monkeypatch.setenv("FUEL_EXTRA_CONVERTERS", "my.converters other.converters")
    assert fuel.config.extra_converters == ["my.converters", "other.converters"]


def test_fuel_default_file_is_fuelrc_and_unknown_key_fails(home):
    (home / ".fuelrc").write_text("data_path: /srv/data\nfloatx: float32\n")
    with pytest.raises(ConfigurationError, match="'floatx'.*valid options: data_path, default_seed, extra_converters"):
        fuel.config.data_path
