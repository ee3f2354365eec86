"""PyTables is an optional dependency: fuel imports without it, and PytablesDataset says which extra to install."""

from __future__ import annotations

import sys

import pytest


def test_without_pytables_building_one_says_which_extra_to_install(monkeypatch, tmp_path):
    from fuel.datasets.pytables import PytablesDataset

    monkeypatch.setitem(sys.modules, "tables", None)  # what an environment without PyTables gives
    with pytest.raises(ImportError, match=r"blocks-core\[pytables\]"):
        PytablesDataset(tmp_path / "d.h5", ("y",))


def test_importing_it_needs_no_pytables():
    import fuel.datasets
    import fuel.datasets.hdf5

    assert fuel.datasets.PytablesDataset is fuel.datasets.hdf5.PytablesDataset
