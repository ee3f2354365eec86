"""Bricks: ``torch.nn.Module`` building blocks with Blocks' lifecycle and annotated applications.

Examples
--------
>>> import torch
>>> from blocks.bricks import MLP, Tanh, Softmax
>>> from blocks.initialization import IsotropicGaussian, Constant
>>> mlp = MLP([Tanh(), Softmax()], [3, 4, 2], weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
>>> mlp.apply(torch.zeros(1, 3)).shape
torch.Size([1, 2])
"""

from typing import Any

from blocks.bricks.base import (
    BRICK_DELIMITER,
    Application,
    ApplicationCall,
    BoundApplication,
    Brick,
    InitializationError,
    NoneAllocation,
    NoneInitialization,
    application,
    get_brick,
    lazy,
)
from blocks.bricks.bn import BatchNormalization, BatchNormalizedMLP, SpatialBatchNormalization
from blocks.bricks.conv import (
    AveragePooling,
    Convolutional,
    ConvolutionalSequence,
    ConvolutionalTranspose,
    Flattener,
    MaxPooling,
    Pooling,
)
from blocks.bricks.cost import (
    AbsoluteError,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Cost,
    CostMatrix,
    MisclassificationRate,
    SquaredError,
)
from blocks.bricks.interfaces import Activation, Feedforward, Initializable, LinearLike, Random, RNGMixin
from blocks.bricks.lookup import LookupTable
from blocks.bricks.parallel import Distribute, Fork, Merge, Parallel
from blocks.bricks.sequences import MLP, FeedforwardSequence, Sequence
from blocks.bricks.simple import (
    Bias,
    Identity,
    LeakyRectifier,
    Linear,
    LinearMaxout,
    Logistic,
    Maxout,
    Rectifier,
    Softmax,
    Softplus,
    Tanh,
)
from blocks.bricks.wrappers import BrickWrapper, ModuleBrick, NDimensionalSoftmax, WithExtraDims

__all__ = [
    "BRICK_DELIMITER",
    "MLP",
    "AbsoluteError",
    "Activation",
    "Application",
    "ApplicationCall",
    "BatchNormalization",
    "BatchNormalizedMLP",
    "AveragePooling",
    "Bias",
    "BrickWrapper",
    "Distribute",
    "Fork",
    "LookupTable",
    "Merge",
    "ModuleBrick",
    "NDimensionalSoftmax",
    "Parallel",
    "WithExtraDims",
    "Convolutional",
    "ConvolutionalSequence",
    "ConvolutionalTranspose",
    "Flattener",
    "MaxPooling",
    "Pooling",
    "SpatialBatchNormalization",
    "BinaryCrossEntropy",
    "BoundApplication",
    "Brick",
    "CategoricalCrossEntropy",
    "Cost",
    "CostMatrix",
    "Feedforward",
    "FeedforwardSequence",
    "Identity",
    "Initializable",
    "InitializationError",
    "LeakyRectifier",
    "Linear",
    "LinearLike",
    "LinearMaxout",
    "Logistic",
    "Maxout",
    "MisclassificationRate",
    "NoneAllocation",
    "NoneInitialization",
    "RNGMixin",
    "Random",
    "Rectifier",
    "Sequence",
    "Softmax",
    "Softplus",
    "SquaredError",
    "Tanh",
    "application",
    "get_brick",
    "lazy",
]


def __getattr__(name: str) -> Any:
    """Blocks' names that live in a plugin now (:mod:`blocks.compat`)."""
    from blocks.compat import moved_attribute

    return moved_attribute(__name__, name)
