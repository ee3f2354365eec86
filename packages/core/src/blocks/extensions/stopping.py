"""Blocks' ``blocks.extensions.stopping``: ``FinishIfNoImprovementAfter`` and ``EarlyStopping``
live in the ``blocks-extensions`` plugin (``blocks_extensions``).

Blocks' names are found through the plugin registries (:mod:`blocks.compat`);
an ``ImportError`` says what to install when the plugin is missing.
"""

from __future__ import annotations

from typing import Any

from blocks.compat import moved_attribute

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name)
