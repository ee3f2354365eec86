"""Hook implementations of fuel-datasets (entry point ``fuel-datasets`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings, and ``fuel-download --help`` lists the datasets
from the descriptions here without importing any dataset module.
"""

from __future__ import annotations

from typing import Any, Callable

from blocks import hookimpl
from fuel_datasets import DATASETS

__all__ = ["DATASETS", "register_datasets"]



@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register every dataset with its download and convert commands (lazy references)."""
    for name, cls, description in DATASETS:
        module = f"fuel_datasets.{name}"
        register(name, f"{module}:{cls}", download=f"{module}:fill_download_subparser",
                 convert=f"{module}:fill_convert_subparser", description=description)
