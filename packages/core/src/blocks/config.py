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

from blocks.stability import parse_rewrites
from fuel.config_parser import Configuration, ConfigurationError, _floatx

__all__ = ["ConfigurationError", "config"]

config = Configuration("blocks", "BLOCKS_CONFIG", "~/.blocksrc")
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
    "floatX", type=_floatx, default="float32", env_var="BLOCKS_FLOATX", doc="default float dtype of parameters and data"
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
