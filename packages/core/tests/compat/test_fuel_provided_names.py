"""``from fuel.datasets import MNIST``: Fuel's names found in the packages that provide them (entry points)."""

from __future__ import annotations

import types

import pytest

import fuel.datasets
from fuel.datasets import Dataset, IndexableDataset
from fuel.datasets.provided import FUEL_DATASETS, ProvidedDatasetError, provided_dataset


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self.target = name, f"{name}_module", target

    def load(self):
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


class MNIST(IndexableDataset):
    pass


def package(**names):
    module = types.SimpleNamespace(**names)
    module.__all__ = list(names)
    return module


def test_a_provided_class_is_found():
    points = [FakeEntryPoint("fuel-datasets", package(MNIST=MNIST, TABLE=(1, 2)))]
    assert provided_dataset("MNIST", entry_points=lambda: points) is MNIST
    with pytest.raises(AttributeError):  # public, but not a dataset class
        provided_dataset("TABLE", entry_points=lambda: points)


def test_fuel_names_without_a_provider_say_what_to_install():
    with pytest.raises(ProvidedDatasetError, match=r"fuel_datasets\.MNIST.*pip install fuel-datasets"):
        provided_dataset("MNIST", entry_points=list)
    broken = [FakeEntryPoint("fuel-datasets", ImportError("no module named h5py"))]
    with pytest.raises(ProvidedDatasetError, match="failed to import.*h5py"):
        provided_dataset("CIFAR10", entry_points=lambda: broken)
    assert {"MNIST", "CIFAR10", "SVHN", "BinarizedMNIST"} <= FUEL_DATASETS


def test_two_providers_of_one_name_are_an_error():
    points = [FakeEntryPoint("a", package(MNIST=MNIST)), FakeEntryPoint("b", package(MNIST=MNIST))]
    with pytest.raises(ProvidedDatasetError, match="several packages"):
        provided_dataset("MNIST", entry_points=lambda: points)


def test_other_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        provided_dataset("Nothing", entry_points=list)
    assert not hasattr(fuel.datasets, "Nothing")
    assert fuel.datasets.IndexableDataset is IndexableDataset and issubclass(IndexableDataset, Dataset)
