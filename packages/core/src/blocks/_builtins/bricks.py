"""Core's bricks in the ``bricks`` registry (lazy strings: importing this module imports no torch)."""

from __future__ import annotations

from blocks.hookspecs import hookimpl

_BRICKS = {
    "linear": "blocks.bricks.simple:Linear",
    "bias": "blocks.bricks.simple:Bias",
    "maxout": "blocks.bricks.simple:Maxout",
    "linear_maxout": "blocks.bricks.simple:LinearMaxout",
    "identity": "blocks.bricks.simple:Identity",
    "tanh": "blocks.bricks.simple:Tanh",
    "logistic": "blocks.bricks.simple:Logistic",
    "softplus": "blocks.bricks.simple:Softplus",
    "rectifier": "blocks.bricks.simple:Rectifier",
    "leaky_rectifier": "blocks.bricks.simple:LeakyRectifier",
    "softmax": "blocks.bricks.simple:Softmax",
    "sequence": "blocks.bricks.sequences:Sequence",
    "feedforward_sequence": "blocks.bricks.sequences:FeedforwardSequence",
    "mlp": "blocks.bricks.sequences:MLP",
    "lookup_table": "blocks.bricks.lookup:LookupTable",
    "parallel": "blocks.bricks.parallel:Parallel",
    "fork": "blocks.bricks.parallel:Fork",
    "distribute": "blocks.bricks.parallel:Distribute",
    "merge": "blocks.bricks.parallel:Merge",
    "convolutional": "blocks.bricks.conv:Convolutional",
    "convolutional_transpose": "blocks.bricks.conv:ConvolutionalTranspose",
    "max_pooling": "blocks.bricks.conv:MaxPooling",
    "average_pooling": "blocks.bricks.conv:AveragePooling",
    "convolutional_sequence": "blocks.bricks.conv:ConvolutionalSequence",
    "flattener": "blocks.bricks.conv:Flattener",
    "batch_normalization": "blocks.bricks.bn:BatchNormalization",
    "spatial_batch_normalization": "blocks.bricks.bn:SpatialBatchNormalization",
    "batch_normalized_mlp": "blocks.bricks.bn:BatchNormalizedMLP",
    "ndimensional_softmax": "blocks.bricks.wrappers:NDimensionalSoftmax",
    "module_brick": "blocks.bricks.wrappers:ModuleBrick",
    "binary_cross_entropy": "blocks.bricks.cost:BinaryCrossEntropy",
    "absolute_error": "blocks.bricks.cost:AbsoluteError",
    "squared_error": "blocks.bricks.cost:SquaredError",
    "categorical_cross_entropy": "blocks.bricks.cost:CategoricalCrossEntropy",
    "misclassification_rate": "blocks.bricks.cost:MisclassificationRate",
}


@hookimpl
def register_bricks(register) -> None:
    """Register core's bricks by lower_snake_case name."""
    for name, target in _BRICKS.items():
        register(name, target)
