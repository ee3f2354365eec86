"""Converter helpers: turn downloaded files into H5PYDataset files.

The converters of named datasets live in plugins (``fuel-datasets``); this
package holds what they share (:mod:`fuel.converters.base`).
"""

from __future__ import annotations

from fuel.converters.base import (
    H5PY_INTERFACE_VERSION,
    MissingInputFiles,
    check_exists,
    convert_command,
    fill_hdf5_file,
    output_hdf5,
    set_axis_labels,
    using_command,
    write_vlen_source,
)

__all__ = [
    "H5PY_INTERFACE_VERSION",
    "MissingInputFiles",
    "__version__",
    "check_exists",
    "convert_command",
    "fill_hdf5_file",
    "output_hdf5",
    "set_axis_labels",
    "using_command",
    "write_vlen_source",
]

__version__ = "0.2"
"""Version of the converted-file conventions, written as ``fuel_convert_version`` (Fuel's value)."""
