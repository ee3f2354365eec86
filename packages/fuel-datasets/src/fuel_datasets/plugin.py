"""Hook implementations of fuel-datasets (entry point ``fuel-datasets`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl  # noqa: F401
