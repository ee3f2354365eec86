"""Hook implementations of blocks-gpu-cuda (entry point ``blocks-gpu-cuda`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl  # noqa: F401
