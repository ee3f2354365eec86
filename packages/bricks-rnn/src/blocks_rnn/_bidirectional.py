"""Bidirectional: a forward and a backward copy of a recurrent brick, outputs concatenated."""

from __future__ import annotations

import copy
from typing import Any

import torch

from blocks.bricks import Initializable, application, lazy

__all__ = ["Bidirectional"]


class Bidirectional(Initializable):
    """Run deep copies of ``prototype`` forward and backward in time and concatenate their outputs (axis 2).

    Parameters
    ----------
    prototype : BaseRecurrent
        The recurrent brick; its copies are the children ``forward`` and ``backward``.

    Notes
    -----
    ``apply`` takes the prototype's arguments (and delegates ``sequences``, ``states``, ``outputs`` ... to
    it); every output is ``(time, batch, 2 * dim)``: the forward half, then the backward half, both in the
    original time order.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian
    >>> from blocks_rnn import SimpleRecurrent
    >>> birnn = Bidirectional(SimpleRecurrent(dim=3, activation=Tanh()), weights_init=IsotropicGaussian(0.1))
    >>> tuple(birnn.apply(inputs=torch.randn(5, 2, 3)).shape)
    (5, 2, 6)
    """

    has_biases = False

    @lazy()
    def __init__(self, prototype: Any, **kwargs: Any) -> None:
        children = [copy.deepcopy(prototype) for _ in range(2)]
        children[0].name = "forward"
        children[1].name = "backward"
        super().__init__(children=children, **kwargs)
        self.prototype = prototype

    @application
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """The forward and backward outputs, concatenated on the feature axis."""
        forward = self.children[0].apply(*args, as_list=True, **kwargs)
        backward = self.children[1].apply(*args, reverse=True, as_list=True, **kwargs)
        result = [None if f is None else torch.cat([f, b], dim=2) for f, b in zip(forward, backward)]
        return result[0] if len(result) == 1 else result

    @apply.delegate
    def apply_delegate(self) -> Any:
        return self.children[0].apply

    def get_dim(self, name: str) -> Any:
        if name in self.apply.outputs:
            return self.prototype.get_dim(name) * 2
        return self.prototype.get_dim(name)
