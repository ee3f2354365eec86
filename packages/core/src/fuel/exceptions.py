"""Fuel's exception classes under Fuel's module path (``from fuel.exceptions import ...`` keeps working).

Each class lives with the code that raises it; this module names them where
Fuel did. They are subclasses of ``ValueError`` (``NeedURLPrefix`` of
:class:`~fuel.downloaders.DownloadError`) where Fuel's were plain
``Exception`` subclasses, so ``except Exception`` and ``except`` of the class
itself behave as before.

Examples
--------
>>> from fuel.exceptions import MissingInputFiles
>>> issubclass(MissingInputFiles, Exception)
True
"""

from __future__ import annotations

from fuel.config_parser import ConfigurationError
from fuel.converters.base import MissingInputFiles
from fuel.downloaders.fuel_helpers import NeedURLPrefix
from fuel.transformers.base import AxisLabelsMismatchError

__all__ = ["AxisLabelsMismatchError", "ConfigurationError", "MissingInputFiles", "NeedURLPrefix"]
