"""Training algorithms and step rules (Blocks' ``blocks.algorithms``).

:class:`GradientDescent` trains the parameters of an annotated graph with a
:class:`StepRule`; core ships :class:`Scale`, :class:`CompositeRule` and the
:class:`TorchOptim` adapter and :class:`UpdatesAlgorithm`, the ``blocks-step-rules`` plugin the rest
(momentum, Nesterov, AdaDelta, RMSProp, AdaGrad, Adam, clipping, ...).
"""

from __future__ import annotations

from typing import Any

from blocks.algorithms.base import TrainingAlgorithm
from blocks.algorithms.gradient_descent import AlgorithmQuantity, GradientDescent
from blocks.algorithms.step_rules import CompositeRule, Scale, StepRule, make_step_rule
from blocks.algorithms.torch_optim import TorchOptim
from blocks.algorithms.updates import UpdatesAlgorithm

__all__ = [
    "AlgorithmQuantity",
    "CompositeRule",
    "GradientDescent",
    "Scale",
    "StepRule",
    "TorchOptim",
    "TrainingAlgorithm",
    "UpdatesAlgorithm",
    "make_step_rule",
]


def __getattr__(name: str) -> Any:
    """Blocks' names that live in a plugin now (:mod:`blocks.compat`)."""
    from blocks.compat import moved_attribute

    return moved_attribute(__name__, name)
