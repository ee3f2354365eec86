"""Hook implementations of blocks-step-rules (entry point ``blocks-step-rules`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl  # noqa: F401
