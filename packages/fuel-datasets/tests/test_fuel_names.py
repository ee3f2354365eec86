"""Fuel's ``from fuel.datasets import MNIST`` finds this package's classes (entry point group ``fuel.datasets``)."""

from __future__ import annotations

import fuel_datasets
from fuel_datasets import DATASETS


def test_fuel_datasets_names_resolve_to_this_package():
    import fuel.datasets
    from fuel.datasets import MNIST
    from fuel_datasets.mnist import MNIST as ours

    assert MNIST is ours
    for _, class_name, _ in DATASETS:
        assert getattr(fuel.datasets, class_name) is getattr(fuel_datasets, class_name)


def test_the_package_exports_every_dataset_class_lazily():
    assert {cls for _, cls, _ in DATASETS} <= set(fuel_datasets.__all__) <= set(dir(fuel_datasets))
    from fuel_datasets.plugin import DATASETS as registered

    assert registered is DATASETS  # one table drives registration and the exports
