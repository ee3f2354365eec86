"""Costs: all take ``(y, y_hat)`` — the target first — and average over the batch."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch

from blocks.bricks._probabilities import logits_of
from blocks.bricks.base import Brick, application
from blocks.graph.rewrites import register_logits_form
from blocks.graph.variables import Variable, call

__all__ = [
    "AbsoluteError",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "Cost",
    "CostMatrix",
    "MisclassificationRate",
    "SquaredError",
]


def _run(function: Any, *args: Any) -> Any:
    if any(isinstance(a, Variable) for a in args):
        return call(function, *args)
    return function(*args)


class Cost(Brick):
    """Base class of costs: ``apply(y, y_hat)`` returns a scalar.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Cost, application
    >>> class MeanDifference(Cost):
    ...     @application(outputs=["cost"])
    ...     def apply(self, y, y_hat):
    ...         return (y - y_hat).mean()
    >>> MeanDifference().apply(torch.ones(2), torch.zeros(2)).item()
    1.0
    """

    @abstractmethod
    def apply(self, y: Any, y_hat: Any) -> Any:
        """The cost of predictions ``y_hat`` for targets ``y``."""


class CostMatrix(Cost):
    """A cost computed element-wise (``cost_matrix``), summed over features and averaged over the batch.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import SquaredError, CostMatrix
    >>> isinstance(SquaredError(), CostMatrix), SquaredError().cost_matrix(torch.zeros(1, 2), torch.ones(1, 2))
    (True, tensor([[1., 1.]]))
    """

    @application(outputs=["cost"])
    def apply(self, y: Any, y_hat: Any) -> Any:
        """Sum over axis 1, mean over axis 0 of ``cost_matrix``."""
        return self.cost_matrix(y, y_hat).sum(dim=1).mean()

    @abstractmethod
    def cost_matrix(self, y: Any, y_hat: Any) -> Any:
        """The element-wise cost."""


class BinaryCrossEntropy(CostMatrix):
    """Binary cross-entropy of probabilities ``y_hat`` for binary targets ``y``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks.cost import BinaryCrossEntropy
    >>> round(BinaryCrossEntropy().apply(torch.ones(1, 1), torch.full((1, 1), 0.5)).item(), 4)
    0.6931
    """

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def cost_matrix(self, y: Any, y_hat: Any) -> Any:
        """Element-wise binary cross-entropy."""
        return _run(_binary_cross_entropy, y, y_hat)


class AbsoluteError(CostMatrix):
    """Absolute error ``|y - y_hat|``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks.cost import AbsoluteError
    >>> AbsoluteError().apply(torch.zeros(2, 2), torch.ones(2, 2)).item()
    2.0
    """

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def cost_matrix(self, y: Any, y_hat: Any) -> Any:
        """Element-wise absolute error."""
        return torch.abs(y - y_hat)


class SquaredError(CostMatrix):
    """Squared error ``(y - y_hat)**2``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks.cost import SquaredError
    >>> SquaredError().apply(torch.zeros(2, 2), torch.full((2, 2), 2.0)).item()
    8.0
    """

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def cost_matrix(self, y: Any, y_hat: Any) -> Any:
        """Element-wise squared error."""
        return torch.square(y - y_hat)


def _target_index(y: torch.Tensor) -> torch.Tensor:
    """Integer targets as the index of a gather along the last axis of the scores."""
    if y.dtype is not torch.int64:  # every call below is a tensor operation: skip the ones that change nothing
        y = y.long()
    return y.reshape(-1, 1) if y.dim() <= 1 else y.unsqueeze(-1)


def _categorical_cross_entropy(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    logits = logits_of(y_hat, "softmax")
    if logits is not None:  # the eager output of Softmax().apply: the stable form (as the graph rewrite does)
        return _categorical_cross_entropy_of_logits(y, logits)
    if y.is_floating_point():
        # a class a target gives weight 0 adds 0, even where its probability rounded to 0 (0 * log 0 is NaN)
        return -(y * torch.log(torch.where(y != 0, y_hat, 1.0))).sum(dim=-1).mean()
    # the log of the targets' probabilities only: a saturated softmax elsewhere gives no 0 * inf = NaN gradient
    return -torch.log(y_hat.gather(-1, _target_index(y))).mean()


def _categorical_cross_entropy_of_logits(y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``_categorical_cross_entropy(y, softmax(logits, -1))``, computed stably."""
    log_probabilities = torch.log_softmax(logits, dim=-1)
    if y.is_floating_point():
        return -(y * log_probabilities).sum(dim=-1).mean()
    return -log_probabilities.gather(-1, _target_index(y)).mean()


def _binary_cross_entropy(y: Any, y_hat: torch.Tensor) -> torch.Tensor:
    y = y.to(y_hat.dtype) if y.dtype is not y_hat.dtype else y
    logits = logits_of(y_hat, "sigmoid")
    if logits is not None:  # the eager output of Logistic().apply: the stable form (as the graph rewrite does)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return torch.nn.functional.binary_cross_entropy(y_hat, y, reduction="none")


def _binary_cross_entropy_of_logits(y: Any, logits: torch.Tensor) -> torch.Tensor:
    """``_binary_cross_entropy(y, sigmoid(logits))``, computed stably."""
    y = y.to(logits.dtype) if y.dtype is not logits.dtype else y
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")


register_logits_form(_categorical_cross_entropy, _categorical_cross_entropy_of_logits,
                     rule="categorical_crossentropy_softmax")
register_logits_form(_binary_cross_entropy, _binary_cross_entropy_of_logits, rule="binary_crossentropy_sigmoid")


class CategoricalCrossEntropy(Cost):
    """Mean cross-entropy of probabilities ``y_hat`` for integer (or one-hot) targets ``y``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks.cost import CategoricalCrossEntropy
    >>> round(CategoricalCrossEntropy().apply(torch.tensor([1]), torch.tensor([[0.5, 0.5]])).item(), 4)
    0.6931
    """

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def apply(self, y: Any, y_hat: Any) -> Any:
        """Mean categorical cross-entropy."""
        return _run(_categorical_cross_entropy, y, y_hat)


def _misclassification_rate(y: torch.Tensor, y_hat: torch.Tensor, top_k: int) -> torch.Tensor:
    if y.dtype is not torch.int64:
        y = y.long()
    if y.dim() != 1:
        y = y.reshape(-1)
    # float64 from the exact count of errors: 6 errors in 360 is 6/360 to the last digit (a float32 or bf16
    # rate is not: 0.016666668), and monitoring weighs it by the batch size without losing digits
    if top_k == 1:
        return (y_hat.argmax(dim=-1) != y).to(torch.float64).mean()
    scores = y_hat.gather(1, y.unsqueeze(1))
    # Pessimistic about ties: a target tied with others counts as ranked after them.
    rank = (y_hat >= scores).sum(dim=1) - 1
    return (rank >= top_k).to(torch.float64).mean()


class MisclassificationRate(Cost):
    """Fraction of examples whose target is not among the ``top_k`` scores (ties counted as errors).

    A float64 scalar whatever the scores' dtype (computed from the exact count of errors), so a rate such
    as 6 errors in 360 examples reads ``6 / 360`` in logs rather than a float32's ``0.01666666799``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks.cost import MisclassificationRate
    >>> MisclassificationRate().apply(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.8, 0.2]])).item()
    0.5
    """

    def __init__(self, top_k: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = int(top_k)

    @application(inputs=["y", "y_hat"], outputs=["error_rate"])
    def apply(self, y: Any, y_hat: Any) -> Any:
        """The misclassification rate."""
        return _run(_misclassification_rate, y, y_hat, self.top_k)
