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
