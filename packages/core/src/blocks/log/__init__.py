"""Training logs: what extensions write and read while a main loop runs.

A log holds one row (a ``dict``) per iteration number and a ``status``
dictionary (the main loop's ``status``). Backends are chosen by registry name
(``register_log_backends``): core ships ``python`` (:class:`TrainingLog`, in
memory) and ``sqlite`` (:class:`SQLiteLog`, readable by other processes while a
run is going on).

Examples
--------
>>> from blocks.log import TrainingLog
>>> log = TrainingLog()
>>> log.current_row["cost"] = 1.5
>>> log[0]["cost"]
1.5
"""

from __future__ import annotations

from blocks.log.base import TrainingLogBase, default_status
from blocks.log.log import TrainingLog
from blocks.log.sqlite import SQLiteLog

__all__ = ["SQLiteLog", "TrainingLog", "TrainingLogBase", "default_status", "get_log"]


def get_log(backend: str | None = None, **kwargs) -> TrainingLogBase:
    """Build a log by backend name (default: ``config.log_backend``).

    Parameters
    ----------
    backend : str, optional
        A name registered through ``register_log_backends`` (``python``,
        ``sqlite``, or a plugin's).
    **kwargs
        Passed to the backend's constructor.

    Examples
    --------
    >>> type(get_log("python")).__name__
    'TrainingLog'
    """
    from blocks.config import config
    from blocks.plugins import resolve

    cls = resolve("log_backends", backend or config.log_backend)
    return cls(**kwargs)
