"""The error raised for every unreadable, damaged or mismatching checkpoint."""

from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, is damaged, or does not fit the model.

    A subclass of :class:`ValueError`; the message names the file, the problem
    and what would be valid.

    Examples
    --------
    >>> err = CheckpointError("run.tar: member 'MANIFEST' is missing")
    >>> isinstance(err, ValueError)
    True
    """
