"""Feedforward bricks: Linear, Bias, Maxout, LinearMaxout and element-wise activations, Softmax."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from blocks.bricks._probabilities import tag_logits
from blocks.bricks.base import application, lazy, shape_of
from blocks.bricks.interfaces import Activation, Feedforward, Initializable, LinearLike
from blocks.graph.variables import Variable, call
from blocks.roles import BIAS, WEIGHT

__all__ = [
    "Bias",
    "Identity",
    "LeakyRectifier",
    "Linear",
    "LinearMaxout",
    "Logistic",
    "Maxout",
    "Rectifier",
    "Softmax",
    "Softplus",
    "Tanh",
    "affine",
]


def _run(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` on tensors; ONE recorded node on variables."""
    for value in args:
        if isinstance(value, Variable):
            return call(function, *args)
    return function(*args)


def affine(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x @ W + b`` for inputs of any rank (``addmm`` for matrices)."""
    if b is None:
        return x.matmul(W)
    if x.dim() == 2:
        return torch.addmm(b, x, W)
    return torch.matmul(x, W) + b


class Linear(LinearLike, Feedforward):
    """An affine transformation ``x·W + b`` (``W`` is ``(input_dim, output_dim)``).

    Parameters
    ----------
    input_dim, output_dim : int
        Lazy (may be pushed by a parent; ``input_dim`` is inferred from the
        first input when left out).
    weights_init, biases_init, use_bias, seed
        See :class:`Initializable`.

    Notes
    -----
    ``W`` has role ``WEIGHT``, ``b`` role ``BIAS``. Symbolic calls add the
    auxiliary variables ``W_norm`` and ``b_norm``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Linear
    >>> from blocks.initialization import Constant
    >>> lin = Linear(output_dim=2, weights_init=Constant(1.0), biases_init=Constant(0.5))
    >>> lin.apply(torch.ones(1, 3)).tolist()
    [[3.5, 3.5]]
    >>> lin.input_dim
    3
    """

    @lazy(allocation=["input_dim", "output_dim"])
    def __init__(self, input_dim: int, output_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def _allocate(self) -> None:
        self.new_parameter("W", (self.input_dim, self.output_dim), WEIGHT)
        if self.use_bias:
            self.new_parameter("b", (self.output_dim,), BIAS)
        else:
            self.register_parameter("b", None)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the affine transformation."""
        if isinstance(input_, Variable):
            return call(affine, input_, self.W, self.b)
        return affine(input_, self.W, self.b)

    def _record_auxiliary_variables(self, application: Any, call_: Any) -> None:
        call_.add_auxiliary_variable(torch.linalg.vector_norm(Variable(_param_node(self.W))), name="W_norm",
                                     of_brick=True)
        if self.b is not None:
            call_.add_auxiliary_variable(torch.linalg.vector_norm(Variable(_param_node(self.b))), name="b_norm",
                                         of_brick=True)


def _param_node(tensor: torch.Tensor) -> Any:
    from blocks.graph.variables import _TRACER

    return _TRACER.tensor_node(tensor)


class Bias(Feedforward, Initializable):
    """Add a learned bias vector of size ``dim``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Bias
    >>> from blocks.initialization import Constant
    >>> Bias(dim=2, biases_init=Constant(1.0)).apply(torch.zeros(1, 2)).tolist()
    [[1.0, 1.0]]
    """

    @lazy(allocation=["dim"])
    def __init__(self, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dim = dim

    @property
    def input_dim(self) -> Any:
        return self.dim

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        self.dim = value

    @property
    def output_dim(self) -> Any:
        return self.dim

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if not self.dim and shape and shape[-1] is not None:
                self.dim = shape[-1]

    def _allocate(self) -> None:
        self.new_parameter("b", (self.dim,), BIAS)

    def _initialize(self) -> None:
        self.require_init("biases_init")
        self.biases_init.initialize(self.b, self.rng)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Add the bias."""
        return input_ + self.b


def maxout(x: torch.Tensor, num_pieces: int) -> torch.Tensor:
    """Max over groups of ``num_pieces`` consecutive features of the last axis."""
    last = x.shape[-1]
    if last % num_pieces:
        raise ValueError(f"maxout: the last axis ({last}) is not a multiple of num_pieces={num_pieces}")
    return x.reshape(*x.shape[:-1], last // num_pieces, num_pieces).amax(dim=-1)


class Maxout(Activation):
    """Maxout: the maximum over groups of ``num_pieces`` features of the last axis.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Maxout
    >>> Maxout(num_pieces=2).apply(torch.tensor([[1.0, 3.0, 5.0, 2.0]])).tolist()
    [[3.0, 5.0]]
    """

    @lazy(allocation=["num_pieces"])
    def __init__(self, num_pieces: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_pieces = num_pieces

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply maxout."""
        return _run(maxout, input_, self.num_pieces)


class LinearMaxout(Initializable, Feedforward):
    """A Linear brick with ``output_dim * num_pieces`` outputs followed by Maxout.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import LinearMaxout
    >>> from blocks.initialization import Constant
    >>> brick = LinearMaxout(input_dim=3, output_dim=2, num_pieces=2, weights_init=Constant(1),
    ...                      biases_init=Constant(0))
    >>> brick.apply(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    @lazy(allocation=["input_dim", "output_dim", "num_pieces"])
    def __init__(self, input_dim: int, output_dim: int, num_pieces: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.linear = Linear()
        self.maxout = Maxout()
        self.children = [self.linear, self.maxout]
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_pieces = num_pieces

    def _push_allocation_config(self) -> None:
        self.linear.input_dim = self.input_dim
        self.linear.output_dim = self.output_dim * self.num_pieces
        self.linear.use_bias = self.use_bias
        self.maxout.num_pieces = self.num_pieces

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the linear transformation, then maxout."""
        return self.maxout.apply(self.linear.apply(input_))


class Identity(Activation):
    """The identity.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Identity
    >>> Identity().apply(torch.tensor([1.0])).tolist()
    [1.0]
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Return the input."""
        return input_


class Tanh(Activation):
    """Hyperbolic tangent.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> Tanh().apply(torch.tensor([0.0])).tolist()
    [0.0]
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply tanh."""
        return torch.tanh(input_)


class Logistic(Activation):
    """Logistic sigmoid.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Logistic
    >>> Logistic().apply(torch.tensor([0.0])).tolist()
    [0.5]
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the sigmoid."""
        if isinstance(input_, torch.Tensor):  # eager: costs given the output can use the logits (stable)
            return tag_logits(torch.sigmoid(input_), input_, "sigmoid")
        return torch.sigmoid(input_)


class Softplus(Activation):
    """Softplus ``log(1 + exp(x))``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Softplus
    >>> round(Softplus().apply(torch.tensor([0.0])).item(), 4)
    0.6931
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply softplus."""
        return F.softplus(input_)


class Rectifier(Activation):
    """Rectified linear unit.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Rectifier
    >>> Rectifier().apply(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the rectifier."""
        return torch.relu(input_)


class LeakyRectifier(Activation):
    """Leaky rectifier ``max(x, leak * x)``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import LeakyRectifier
    >>> LeakyRectifier(leak=0.1).apply(torch.tensor([-1.0, 2.0])).tolist()
    [-0.10000000149011612, 2.0]
    """

    def __init__(self, leak: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._leak = float(leak)

    @property
    def leak(self) -> float:
        return self._leak

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the leaky rectifier."""
        return F.leaky_relu(input_, self._leak)


def _categorical_cross_entropy(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    log_probabilities = torch.log_softmax(x, dim=-1)
    if y.is_floating_point():
        return -(y * log_probabilities).sum(dim=-1)
    if y.dim() != x.dim() - 1:
        raise ValueError(f"integer targets must have one axis less than the scores: got targets of shape "
                         f"{tuple(y.shape)} and scores of shape {tuple(x.shape)}")
    return -log_probabilities.gather(-1, (y if y.dtype is torch.int64 else y.long()).unsqueeze(-1)).squeeze(-1)


class Softmax(Activation):
    """Softmax over the last axis, its log and a numerically stable cross-entropy.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Softmax
    >>> softmax = Softmax()
    >>> softmax.apply(torch.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    >>> softmax.categorical_cross_entropy(torch.tensor([0]), torch.zeros(1, 2)).tolist()
    [0.6931471824645996]
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Softmax of the last axis."""
        if isinstance(input_, torch.Tensor):  # eager: costs given the output can use the logits (stable)
            return tag_logits(torch.softmax(input_, dim=-1), input_, "softmax")
        return torch.softmax(input_, dim=-1)

    @application(inputs=["input_"], outputs=["output"])
    def log_probabilities(self, input_: Any) -> Any:
        """Log-softmax of the last axis (stable)."""
        return torch.log_softmax(input_, dim=-1)

    @application(inputs=["y", "x"], outputs=["output"])
    def categorical_cross_entropy(self, y: Any, x: Any, application_call: Any) -> Any:
        """Per-example cross-entropy of targets ``y`` (integer or one-hot) given pre-softmax ``x``."""
        if application_call.symbolic:
            application_call.add_auxiliary_variable(torch.log_softmax(x, dim=-1), name="log_probabilities")
        return _run(_categorical_cross_entropy, y, x)

