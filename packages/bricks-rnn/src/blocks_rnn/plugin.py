"""Hook implementations of blocks-bricks-rnn (entry point ``blocks-bricks-rnn`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl  # noqa: F401
