"""Recurrent bricks, attention, sequence generators and beam search for Blocks on PyTorch.

SimpleRecurrent, LSTM, GatedRecurrent, Bidirectional, RecurrentStack, attention and BeamSearch.
"""

from __future__ import annotations

from importlib import metadata as _metadata

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("blocks-bricks-rnn")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"
