"""Dataset classes that other packages provide to ``fuel.datasets`` (Fuel's ``from fuel.datasets import MNIST``).

Fuel's named datasets (MNIST, CIFAR-10, ...) live in the ``fuel-datasets``
package. A package that provides datasets lists their classes in its
``__all__`` and declares itself under the entry-point group ``fuel.datasets``
(``fuel-datasets = "fuel_datasets"``); ``fuel.datasets.<Name>`` then finds the
class there, so Fuel never imports a dataset package by name. When Fuel's own
name is asked for and no installed package provides it, the error says which
package to install.

Examples
--------
>>> "MNIST" in FUEL_DATASETS
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

__all__ = ["FUEL_DATASETS", "GROUP", "ProvidedDatasetError", "provided_dataset"]

GROUP = "fuel.datasets"
"""Entry-point group of the packages that provide dataset classes (the value is the package)."""

FUEL_DATASETS = frozenset(
    {"Adult", "BinarizedMNIST", "CIFAR10", "CIFAR100", "CalTech101Silhouettes", "CelebA", "DogsVsCats", "Iris",
     "MNIST", "OneBillionWord", "SVHN"}
)
"""Fuel's dataset classes that the ``fuel-datasets`` package provides now."""


class ProvidedDatasetError(ImportError):
    """A dataset class that no installed package provides (or that two provide).

    Examples
    --------
    >>> issubclass(ProvidedDatasetError, ImportError)
    True
    """


def _entry_points() -> Iterable[Any]:
    return metadata.entry_points(group=GROUP)


def provided_dataset(name: str, entry_points: Callable[[], Iterable[Any]] | None = None) -> Any:
    """The dataset class ``name`` from the packages declared under :data:`GROUP`.

    Parameters
    ----------
    name : str
        The class name (``"MNIST"``).
    entry_points : callable, optional
        Returns the entry points to look at (default: the installed ones).

    Raises
    ------
    AttributeError
        When ``name`` is not provided and is not one of Fuel's dataset names.
    ProvidedDatasetError
        When it is one of Fuel's names and no package provides it (the message
        says what to install, or why the providing package failed to import),
        or when two packages provide it.

    Examples
    --------
    >>> provided_dataset("NoSuchDataset", entry_points=list)
    Traceback (most recent call last):
    ...
    AttributeError: module 'fuel.datasets' has no attribute 'NoSuchDataset'
    """
    found, failures = [], []
    for entry_point in (entry_points or _entry_points)():
        try:
            package = entry_point.load()
        except Exception as err:  # noqa: BLE001 - one broken package must not hide the others
            failures.append(f"{entry_point.name} ({entry_point.value}) failed to import: {err!r}")
            continue
        if name in getattr(package, "__all__", ()):
            value = getattr(package, name)
            if isinstance(value, type):  # a dataset class, not the package's other public names
                found.append((entry_point, value))
    if len(found) > 1:
        owners = ", ".join(f"{ep.name} ({ep.value})" for ep, _ in found)
        raise ProvidedDatasetError(f"fuel.datasets.{name} is provided by several packages: {owners}; uninstall one",
                                   name="fuel.datasets")
    if found:
        return found[0][1]
    if name not in FUEL_DATASETS:
        raise AttributeError(f"module 'fuel.datasets' has no attribute {name!r}")
    why = f"; installed dataset packages: {'; '.join(failures)}" if failures else ""
    raise ProvidedDatasetError(
        f"fuel.datasets.{name} is in the fuel-datasets package now (fuel_datasets.{name}); install it "
        f"(pip install fuel-datasets){why}", name="fuel.datasets")
