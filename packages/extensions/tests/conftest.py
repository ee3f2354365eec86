"""A small regression MLP trained by GradientDescent, shared by the extension tests."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Identity, Tanh
from blocks.graph import matrix
from blocks.initialization import Constant, IsotropicGaussian
from blocks.model import Model
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream


class Setup:
    """Data, model, cost and helpers for one test."""

    def __init__(self, num_examples: int = 10, batch_size: int = 4, learning_rate: float = 0.1, seed: int = 0):
        rng = numpy.random.default_rng(seed)
        self.features = rng.normal(size=(num_examples, 3)).astype("float32")
        self.targets = rng.normal(size=(num_examples, 2)).astype("float32")
        self.batch_size = batch_size
        torch.manual_seed(seed)
        x, t = matrix("features"), matrix("targets")
        self.mlp = MLP([Tanh(), Identity()], [3, 4, 2], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1))
        self.mlp.initialize()
        self.output = self.mlp.apply(x)
        self.cost = ((self.output - t) ** 2).mean()
        self.cost.name = "cost"
        self.model = Model(self.cost)
        self.learning_rate = learning_rate

    def stream(self, features=None, targets=None) -> DataStream:
        features = self.features if features is None else features
        targets = self.targets if targets is None else targets
        dataset = IndexableDataset({"features": features, "targets": targets})
        return DataStream(dataset, iteration_scheme=SequentialScheme(len(features), self.batch_size))

    def algorithm(self) -> GradientDescent:
        return GradientDescent(self.cost, step_rule=Scale(self.learning_rate))

    def per_example_cost(self, features=None, targets=None) -> numpy.ndarray:
        """The cost of each example computed with plain torch from the current parameters."""
        features = torch.as_tensor(self.features if features is None else features)
        targets = torch.as_tensor(self.targets if targets is None else targets)
        (w0, b0), (w1, b1) = [(lin.W, lin.b) for lin in self.mlp.linear_transformations]
        with torch.no_grad():
            out = torch.tanh(features @ w0 + b0) @ w1 + b1
            return ((out - targets) ** 2).mean(dim=1).numpy().astype("float64")


@pytest.fixture
def setup():
    return Setup
