"""Locating dataset files in ``fuel.config.data_path``.

Examples
--------
>>> import os, tempfile
>>> import fuel
>>> d = tempfile.mkdtemp(); open(os.path.join(d, "x.hdf5"), "w").close()
>>> with fuel.config.override(data_path=[d]):
...     find_in_data_path("x.hdf5") == os.path.join(d, "x.hdf5")
True
"""

from __future__ import annotations

import os

__all__ = ["find_in_data_path"]


def find_in_data_path(filename: str) -> str:
    """The first ``<directory>/<filename>`` that exists, over ``fuel.config.data_path``.

    Raises
    ------
    ValueError
        If the file is in none of the directories (they are listed).
    """
    from fuel import config

    directories = config.data_path
    for directory in directories:
        path = os.path.join(directory, filename)
        if os.path.isfile(path):
            return path
    raise ValueError(
        f"{filename!r} not found in fuel.config.data_path {directories}; download and convert it "
        "(fuel-download / fuel-convert) into one of these directories or set FUEL_DATA_PATH"
    )
