"""MisclassificationRate is computed from the exact count of errors, in float64, whatever the scores' dtype."""

from __future__ import annotations

import pytest
import torch

from blocks.bricks.cost import MisclassificationRate


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("top_k", [1, 2])
def test_six_errors_in_360_read_six_in_360(dtype, top_k):
    targets = torch.zeros(360, dtype=torch.int64)
    scores = torch.zeros(360, 3, dtype=dtype)
    scores[:, 0] = 1.0  # right ...
    scores[:6, 1:] = 2.0  # ... except six examples, where the target ranks last
    rate = MisclassificationRate(top_k=top_k).apply(targets, scores)
    assert rate.dtype == torch.float64
    assert rate.item() == 6 / 360  # a float32 rate would read 0.01666666799...
