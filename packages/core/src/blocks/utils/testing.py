"""Blocks' test helpers (``blocks.utils.testing``): a mock algorithm and main loop, skips, silenced printing.

Examples
--------
>>> from blocks.extensions import FinishAfter
>>> loop = MockMainLoop(extensions=[FinishAfter(after_n_epochs=1)])
>>> loop.run()
>>> loop.status["iterations_done"], loop.algorithm.batch
(10, {'data': 9})
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import os
import sys
import time
from typing import Any, Callable, Iterable
from unittest import SkipTest

from blocks.algorithms.base import TrainingAlgorithm
from blocks.config import config
from blocks.main_loop import MainLoop

__all__ = ["MockAlgorithm", "MockMainLoop", "silence_printing", "skip_if_configuration_set", "skip_if_not_available"]


def silence_printing(test: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``test`` with ``sys.stdout`` discarded and the ``blocks`` logger at ERROR level.

    Examples
    --------
    >>> @silence_printing
    ... def noisy():
    ...     print("not shown")
    >>> noisy()
    """

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stdout, logger = sys.stdout, logging.getLogger("blocks")
        level = logger.level
        sys.stdout = io.StringIO()
        logger.setLevel(logging.ERROR)
        try:
            return test(*args, **kwargs)
        finally:
            sys.stdout = stdout
            logger.setLevel(level)

    return wrapper


def skip_if_not_available(
    modules: Iterable[str] | None = None,
    datasets: Iterable[str] | None = None,
    configurations: Iterable[str] | None = None,
) -> None:
    """Raise :class:`unittest.SkipTest` unless the modules import, the datasets exist and the options are set.

    Parameters
    ----------
    modules : list of str
        Importable module names.
    datasets : list of str
        Files or directories searched in Fuel's data path.
    configurations : list of str
        Blocks configuration options that must have a value.

    Examples
    --------
    >>> skip_if_not_available(modules=["json"])
    >>> skip_if_not_available(modules=["no_such_module_here"])
    Traceback (most recent call last):
    ...
    unittest.case.SkipTest: module no_such_module_here is not available
    """
    for module in modules or ():
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - any failure to import means unavailable
            raise SkipTest(f"module {module} is not available") from None
    datasets = list(datasets or ())
    if datasets:
        import fuel

        try:
            paths = list(fuel.config.data_path or [])
        except Exception:  # noqa: BLE001 - an unset or invalid data path means no dataset is available
            raise SkipTest("Fuel's data path is not configured (FUEL_DATA_PATH)") from None
        for dataset in datasets:
            if not any(os.path.exists(os.path.join(path, dataset)) for path in paths):
                raise SkipTest(f"dataset {dataset} is not in the data path {paths}")
    for option in configurations or ():
        try:
            value = getattr(config, option)
        except (AttributeError, KeyError, ValueError):
            value = None
        if value is None:
            raise SkipTest(f"configuration option {option} is not set")


def skip_if_configuration_set(configuration: str, value: Any, message: str | None = None) -> None:
    """Raise :class:`unittest.SkipTest` when the option ``configuration`` equals ``value``.

    Examples
    --------
    >>> skip_if_configuration_set("log_backend", "no-such-backend")
    """
    if getattr(config, configuration) == value:
        raise SkipTest(message or f"configuration {configuration} is {value!r}")


class MockAlgorithm(TrainingAlgorithm):
    """An algorithm that remembers the last batch (and can sleep); initializing it twice is an error.

    Parameters
    ----------
    delay_time : float
        Seconds to sleep per batch.

    Examples
    --------
    >>> algorithm = MockAlgorithm()
    >>> algorithm.initialize()
    >>> algorithm.process_batch({"x": 1})
    >>> algorithm.batch
    {'x': 1}
    """

    def __init__(self, delay_time: float = 0) -> None:
        self._initialized = False
        self.delay_time = delay_time
        self.batch: Any = None

    def initialize(self) -> None:
        if self._initialized:
            raise AssertionError("MockAlgorithm.initialize was called twice")
        self._initialized = True

    def process_batch(self, batch: Any) -> None:
        self.batch = batch
        if self.delay_time:
            time.sleep(self.delay_time)


class MockMainLoop(MainLoop):
    """A main loop with a :class:`MockAlgorithm` and a stream of the examples 0..9 by default.

    Parameters
    ----------
    delay_time : float
        The mock algorithm's sleep per batch.
    **kwargs
        :class:`~blocks.main_loop.MainLoop` arguments.
    """

    def __init__(self, delay_time: float = 0, **kwargs: Any) -> None:
        if "data_stream" not in kwargs:
            from fuel.datasets import IterableDataset

            kwargs["data_stream"] = IterableDataset(range(10)).get_example_stream()
        kwargs.setdefault("algorithm", MockAlgorithm(delay_time))
        super().__init__(**kwargs)
