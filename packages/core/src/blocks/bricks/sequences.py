"""Bricks chaining applications: Sequence, FeedforwardSequence, MLP."""

from __future__ import annotations

import copy
from typing import Any
from typing import Sequence as SequenceType

from blocks.bricks.base import BoundApplication, Brick, NoneAllocation, application, lazy
from blocks.bricks.interfaces import Feedforward, Initializable
from blocks.bricks.simple import Linear

__all__ = ["FeedforwardSequence", "MLP", "Sequence"]


class Sequence(Brick):
    """Apply a list of applications (or bricks, meaning their ``apply``) one after another.

    Parameters
    ----------
    application_methods : list of BoundApplication or Brick

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Sequence, Tanh, Identity
    >>> seq = Sequence([Tanh().apply, Identity()])
    >>> seq.apply(torch.zeros(1)).tolist()
    [0.0]
    """

    def __init__(self, application_methods: SequenceType[Any], **kwargs: Any) -> None:
        methods = []
        for method in application_methods:
            if isinstance(method, Brick):
                method = method.apply
            if not isinstance(method, BoundApplication):
                raise ValueError(f"Sequence takes bound applications or bricks, got {type(method).__name__}")
            methods.append(method)
        self.application_methods = methods
        children: list[Brick] = []
        for method in methods:
            if not any(method.brick is c for c in children):
                children.append(method.brick)
        kwargs.setdefault("children", [])
        kwargs["children"] = list(kwargs["children"]) + [c for c in children
                                                         if not any(c is k for k in kwargs["children"])]
        super().__init__(**kwargs)

    @application
    def apply(self, *args: Any) -> Any:
        """Apply every application in turn."""
        child_input = args
        for method in self.application_methods:
            output = method(*child_input)
            child_input = output if isinstance(output, (list, tuple)) else (output,)
        return output

    @apply.property("inputs")
    def apply_inputs(self) -> list[str]:
        return self.application_methods[0].inputs

    @apply.property("outputs")
    def apply_outputs(self) -> list[str]:
        return self.application_methods[-1].outputs


class FeedforwardSequence(Sequence, Feedforward):
    """A Sequence whose first and last bricks are Feedforward (``input_dim``/``output_dim`` map to them).

    Examples
    --------
    >>> from blocks.bricks import FeedforwardSequence, Linear, Tanh
    >>> seq = FeedforwardSequence([Linear(input_dim=3, output_dim=2), Tanh()])
    >>> seq.input_dim
    3
    """

    @property
    def input_dim(self) -> Any:
        return self.application_methods[0].brick.input_dim

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        self.application_methods[0].brick.input_dim = value

    @property
    def output_dim(self) -> Any:
        for method in reversed(self.application_methods):
            if hasattr(method.brick, "output_dim"):
                return method.brick.output_dim
        return NoneAllocation

    @output_dim.setter
    def output_dim(self, value: Any) -> None:
        self.application_methods[-1].brick.output_dim = value


class MLP(FeedforwardSequence, Initializable):
    """A multi-layer perceptron: linear transformations (copies of ``prototype``) and activations.

    Parameters
    ----------
    activations : list of Brick, BoundApplication or None
        One per layer: a brick (its ``apply``), an application
        (``Tanh().apply``), or ``None`` for no activation.
    dims : list of int
        ``[input_dim, hidden..., output_dim]`` (lazy; ``dims[0]`` may be
        ``None`` to infer it from the first input).
    prototype : Brick, optional
        Deep-copied per layer (default ``Linear()``); copies are named
        ``<prototype name>_<i>``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MLP, Rectifier, Softmax
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> mlp = MLP([Rectifier(), Softmax()], [784, 100, 10], weights_init=IsotropicGaussian(0.01),
    ...           biases_init=Constant(0))
    >>> mlp.apply(torch.zeros(5, 784)).shape
    torch.Size([5, 10])
    >>> mlp.get_hierarchical_name(mlp.linear_transformations[0].W)
    '/mlp/linear_0.W'
    """

    @lazy(allocation=["dims"])
    def __init__(self, activations: SequenceType[Brick | BoundApplication | None], dims: SequenceType[int | None],
                 prototype: Brick | None = None, **kwargs: Any) -> None:
        self.activations = list(activations)
        self.prototype = Linear() if prototype is None else prototype
        self.linear_transformations = []
        for i in range(len(self.activations)):
            layer = copy.deepcopy(self.prototype)
            layer.name = f"{self.prototype.name}_{i}"
            self.linear_transformations.append(layer)
        if dims and len(dims) - 1 != len(self.activations):
            raise ValueError(f"MLP: {len(self.activations)} activations need {len(self.activations) + 1} dims, "
                             f"got {len(dims)}: {list(dims)}")
        methods: list[Any] = []
        activation_bricks = []
        for layer, activation in zip(self.linear_transformations, self.activations):
            methods.append(layer.apply)
            if isinstance(activation, BoundApplication):
                methods.append(activation)
                activation_bricks.append(activation.brick)
            elif activation is not None:
                methods.append(activation.apply)
                activation_bricks.append(activation)
        children = activation_bricks + self.linear_transformations
        kwargs.setdefault("children", children)
        super().__init__(methods, **kwargs)
        self.dims = dims

    @property
    def input_dim(self) -> Any:
        return self.dims[0] if self.dims else NoneAllocation

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        self.dims = [value, *self.dims[1:]]

    @property
    def output_dim(self) -> Any:
        return self.dims[-1] if self.dims else NoneAllocation

    @output_dim.setter
    def output_dim(self, value: Any) -> None:
        self.dims = [*self.dims[:-1], value]

    def _push_allocation_config(self) -> None:
        if len(self.dims) - 1 != len(self.linear_transformations):
            raise ValueError(f"brick {self.get_unique_path()}: {len(self.linear_transformations)} layers need "
                             f"{len(self.linear_transformations) + 1} dims, got {list(self.dims)}")
        for input_dim, output_dim, layer in zip(self.dims[:-1], self.dims[1:], self.linear_transformations):
            layer.input_dim = NoneAllocation if input_dim is None else input_dim
            layer.output_dim = output_dim
            if hasattr(layer, "use_bias") and self.__dict__.get("_use_bias_given"):
                layer.use_bias = self.use_bias

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        return None

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        return None
