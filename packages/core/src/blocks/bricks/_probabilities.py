"""Eager probabilities that remember their logits, so costs can use the stable form.

``Softmax().apply(h)`` and ``Logistic().apply(h)`` on tensors tag their output
with ``h``; a cost given that very tensor (unchanged since: in-place edits of
either one drop the tag) computes from the logits instead of taking the log
of probabilities that may have rounded to 0 or 1. On symbolic variables the
graph rewrites (:mod:`blocks.graph.rewrites`) do the same when compiling.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["logits_of", "tag_logits"]


def tag_logits(probabilities: torch.Tensor, logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Record on ``probabilities`` that they are ``kind`` (``"softmax"``/``"sigmoid"``) of ``logits``."""
    probabilities._blocks_logits = (kind, logits, logits._version, probabilities._version)
    return probabilities


def logits_of(probabilities: Any, kind: str) -> torch.Tensor | None:
    """The logits ``probabilities`` were computed from by ``kind``, if known and both are unchanged."""
    tag = getattr(probabilities, "_blocks_logits", None)
    if tag is None:
        return None
    tagged_kind, logits, logits_version, version = tag
    if tagged_kind != kind or logits._version != logits_version or probabilities._version != version:
        return None
    return logits
