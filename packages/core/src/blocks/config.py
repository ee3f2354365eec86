"""Blocks configuration: ``~/.blocksrc`` / ``BLOCKS_CONFIG`` (YAML), ``BLOCKS_*``.

Precedence is Blocks': a value set in code > environment variable > config
file > default. Unknown keys in the file are an error naming the valid ones.

Examples
--------
>>> from blocks.config import config
>>> config.default_seed
1
>>> with config.override(device="cpu"):
...     config.device
'cpu'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from blocks.stability import parse_rewrites
from fuel.config_parser import Configuration as _Configuration
from fuel.config_parser import ConfigurationError, float_dtype_name

__all__ = ["Configuration", "ConfigurationError", "config", "step_rule_entry"]


class Configuration(_Configuration):
    """Blocks' configuration class: its YAML file is ``$BLOCKS_CONFIG``, else ``~/.blocksrc``.

    Fuel's :class:`fuel.config_parser.Configuration` with Blocks' defaults, so
    ``Configuration()`` reads the file Blocks' did.

    Examples
    --------
    >>> cfg = Configuration()
    >>> cfg.add_config("batch_size", int, default="128")
    >>> cfg.batch_size
    128
    """

    def __init__(self, name: str = "blocks", file_env_var: str = "BLOCKS_CONFIG",
                 default_file: str = "~/.blocksrc") -> None:
        super().__init__(name, file_env_var, default_file)


def step_rule_entry(value: Any) -> str | dict[str, Any]:
    """The ``step_rule`` option: a registry name, or a mapping with ``name`` and the rule's arguments.

    The environment variable holds a name or a YAML mapping
    (``BLOCKS_STEP_RULE='{name: adam, learning_rate: 0.001}'``). The name is
    looked up when a rule is built (:func:`blocks.algorithms.make_step_rule`).

    Examples
    --------
    >>> step_rule_entry("adam")
    'adam'
    >>> step_rule_entry("{name: momentum, learning_rate: 0.01, momentum: 0.9}")
    {'name': 'momentum', 'learning_rate': 0.01, 'momentum': 0.9}
    """
    if isinstance(value, str) and value.strip().startswith("{"):
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ConfigurationError(f"step_rule {value!r} is not a YAML mapping: {err}") from None
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]*", value.strip()):
        return value.strip()
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value) and isinstance(value.get("name"), str) \
            and re.fullmatch(r"[a-z][a-z0-9_]*", value["name"]):
        return dict(value)
    raise ConfigurationError(
        f"step_rule must be a registry name (adam) or a mapping with a name and the rule's arguments "
        f"({{name: adam, learning_rate: 0.001}}), got {value!r}"
    )

config = Configuration()
config.add_option(
    "default_seed",
    type=int,
    default=1,
    env_var="BLOCKS_DEFAULT_SEED",
    doc="seed of initialization, dropout/noise and anything random",
)
config.add_option(
    "profile",
    type=bool,
    default=False,
    env_var="BLOCKS_PROFILE",
    doc="print a timing report of the main loop at the end",
)
config.add_option(
    "stop_on_nonfinite",
    type=bool,
    default=True,
    env_var="BLOCKS_STOP_ON_NONFINITE",
    doc="stop training when the cost, gradient norm or parameters become NaN/inf (off: train on, RemoveNotFinite)",
)
config.add_option(
    "log_backend",
    type=str,
    default="python",
    env_var="BLOCKS_LOG_BACKEND",
    doc="training log backend by registry name (python, sqlite, ...)",
)
config.add_option(
    "sqlite_database",
    type=lambda v: os.path.expanduser(str(v)),
    default="~/blocks_log.sqlite",
    env_var="BLOCKS_SQLITEDB",
    doc="database file of the sqlite log backend",
)
config.add_option(
    "temp_dir",
    type=lambda v: os.path.expanduser(str(v)) if v else None,
    default=None,
    env_var="BLOCKS_TEMPDIR",
    doc="directory for temporary files (checkpoints are written beside their target)",
)
config.add_option(
    "floatX",
    type=float_dtype_name,
    default="float32",
    env_var="BLOCKS_FLOATX",
    doc="default float dtype of parameters and data",
)
config.add_option(
    "step_rule",
    type=step_rule_entry,
    default="scale",
    env_var="BLOCKS_STEP_RULE",
    doc="GradientDescent's step rule when none is given: a registry name (adam) or {name: adam, learning_rate: 0.001}",
)
config.add_option(
    "device",
    type=str,
    default="auto",
    env_var="BLOCKS_DEVICE",
    doc="device to train on: auto, cpu, cuda, cuda:N (a backend plugin may add others)",
)
config.add_option(
    "stability_rewrites",
    type=parse_rewrites,
    default="all",
    env_var="BLOCKS_STABILITY_REWRITES",
    doc="numerically stable rewrites applied when a graph is compiled: all, none, names, or 'all -name'",
)
