"""Fuel's ``fuel.exceptions`` module path: the four classes, raised by the code that raises them."""

from __future__ import annotations

import pytest

import fuel.exceptions
from fuel.exceptions import AxisLabelsMismatchError, ConfigurationError, MissingInputFiles, NeedURLPrefix


def test_the_module_names_fuels_four_classes_which_are_the_ones_raised():
    assert sorted(fuel.exceptions.__all__) == sorted(
        ["AxisLabelsMismatchError", "ConfigurationError", "MissingInputFiles", "NeedURLPrefix"])
    from fuel.config_parser import Configuration

    config = Configuration()
    config.add_config("needed", type_=str)
    with pytest.raises(ConfigurationError):
        config.needed  # noqa: B018 - an unset option raises on access
    error = MissingInputFiles("not found", ["train.gz"])
    assert error.filenames == ["train.gz"] and isinstance(error, Exception)
    assert issubclass(NeedURLPrefix, Exception) and issubclass(AxisLabelsMismatchError, ValueError)
