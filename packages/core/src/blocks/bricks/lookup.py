"""``LookupTable``: embeddings of integer indices."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Feedforward, Initializable
from blocks.graph.variables import Variable, call
from blocks.roles import WEIGHT

__all__ = ["LookupTable"]


class LookupTable(Initializable, Feedforward):
    """Map integer indices of any shape to ``dim``-dimensional vectors (``W`` is ``(length, dim)``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import LookupTable
    >>> from blocks.initialization import IsotropicGaussian
    >>> table = LookupTable(length=10, dim=3, weights_init=IsotropicGaussian(1.0))
    >>> table.apply(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 2, 3])
    """

    has_bias = False

    @lazy(allocation=["length", "dim"])
    def __init__(self, length: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.length = length
        self.dim = dim

    def _allocate(self) -> None:
        self.new_parameter("W", (self.length, self.dim), WEIGHT)

    def _initialize(self) -> None:
        self.require_init("weights_init")
        self.weights_init.initialize(self.W, self.rng)

    def get_dim(self, name: str) -> Any:
        if name == "output":
            return self.dim
        if name == "indices":
            return 0
        return super().get_dim(name)

    @property
    def input_dim(self) -> int:
        """0: the inputs are integer indices (Blocks' feedforward interface); only 0 may be assigned."""
        return 0

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        if value != 0:
            raise ValueError(f"brick {self.get_unique_path()}: a LookupTable's input is integer indices, so its "
                             f"input_dim is 0; got {value!r} (set length for the number of rows)")

    @property
    def output_dim(self) -> Any:
        """``dim`` (assigning it sets ``dim``)."""
        return self.dim

    @output_dim.setter
    def output_dim(self, value: Any) -> None:
        self.dim = value

    @application(inputs=["indices"], outputs=["output"])
    def apply(self, indices: Any) -> Any:
        """The rows of ``W`` selected by ``indices`` (output shape ``indices.shape + (dim,)``)."""
        if isinstance(indices, Variable):
            return call(F.embedding, indices, self.W)
        return F.embedding(indices, self.W)

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        indices = args[0] if args else kwargs.get("indices")
        if hasattr(indices, "dtype") and not isinstance(indices, Variable) and indices.is_floating_point():
            return f"indices must be integers, got dtype {indices.dtype}"
        if hasattr(indices, "max") and not isinstance(indices, Variable) and indices.numel() and (
                int(indices.max()) >= self.length or int(indices.min()) < 0):
            return f"indices must be in [0, {self.length}), got values in [{int(indices.min())}, " \
                   f"{int(indices.max())}]"
        return None
