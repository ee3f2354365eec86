"""SimpleRecurrent (Blocks') and TorchRNN (``torch.nn.RNN``'s formulation, on its fused kernel)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from blocks.bricks import Initializable, Tanh, lazy
from blocks.roles import BIAS, INITIAL_STATE, WEIGHT
from blocks_rnn._kernels import simple_recurrent
from blocks_rnn._recurrent import BaseRecurrent, recurrent
from blocks_rnn._torch_kernels import fused_recurrence

__all__ = ["SimpleRecurrent", "TorchRNN"]


def carry(mask: Tensor | None, new: Tensor, old: Tensor) -> Tensor:
    """Blocks' masked update ``mask * new + (1 - mask) * old`` (``mask`` is ``(batch,)``).

    Examples
    --------
    >>> import torch
    >>> carry(torch.tensor([1.0, 0.0]), torch.ones(2, 1), torch.zeros(2, 1)).view(-1).tolist()
    [1.0, 0.0]
    """
    if mask is None:
        return new
    m = mask[:, None].to(new.dtype)
    return m * new + (1 - m) * old


class SimpleRecurrent(BaseRecurrent, Initializable):
    """The traditional recurrent transition ``h' = activation(inputs + h · W)``.

    Parameters
    ----------
    dim : int
        The dimension of the hidden state (lazy); ``inputs`` have this dimension too (project them first).
    activation : Brick
        The activation brick (e.g. ``Tanh()``); with ``Tanh`` the loop runs on a BPTT kernel.

    Notes
    -----
    Parameters: ``W`` (role ``WEIGHT``) and the trainable ``initial_state`` (role ``INITIAL_STATE``, zeros).
    Masked steps carry the state over.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import Identity
    >>> rnn = SimpleRecurrent(dim=2, activation=Tanh(), weights_init=Identity())
    >>> h = rnn.apply(inputs=torch.ones(3, 1, 2))
    >>> tuple(h.shape)
    (3, 1, 2)
    """

    @lazy(allocation=["dim"])
    def __init__(self, dim: int, activation: Any, **kwargs: Any) -> None:
        children = [activation] + list(kwargs.pop("children", []) or [])
        super().__init__(children=children, **kwargs)
        self.dim = dim

    def get_dim(self, name: str) -> Any:
        if name == "mask":
            return 0
        if name in ("inputs", "states"):
            return self.dim
        return super().get_dim(name)

    def _allocate(self) -> None:
        self.new_parameter("W", (self.dim, self.dim), WEIGHT)
        self.new_parameter("initial_state", (self.dim,), INITIAL_STATE)

    def _initialize(self) -> None:
        self.require_init("weights_init")
        self.weights_init.initialize(self.W, self.rng)
        with torch.no_grad():
            self.initial_state.zero_()

    @recurrent(sequences=["inputs", "mask"], states=["states"], outputs=["states"], contexts=[])
    def apply(self, inputs: Tensor, states: Tensor, mask: Tensor | None = None) -> Tensor:
        """One step: ``activation(inputs + states · W)``, carried over where ``mask`` is 0."""
        next_states = self.children[0].apply(inputs + states.matmul(self.W))
        return carry(mask, next_states, states)

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        if application_name != "apply" or type(self.children[0]) is not Tanh or "inputs" not in sequences:
            return None
        return [simple_recurrent(sequences["inputs"], states["states"], self.W, sequences.get("mask"), reverse)]


class TorchRNN(BaseRecurrent, Initializable):
    """``torch.nn.RNN``'s layer (``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``) on PyTorch's fused kernel.

    Parameters
    ----------
    input_dim, dim : int
        Input and state dimensions (lazy).
    nonlinearity : {"tanh", "relu"}
        As ``torch.nn.RNN``.

    Notes
    -----
    Parameters in torch's layout and names: ``weight_ih`` ``(dim, input_dim)``, ``weight_hh`` (``WEIGHT``),
    ``bias_ih``, ``bias_hh`` (``BIAS``), and ``initial_state`` (``INITIAL_STATE``).

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> rnn = TorchRNN(input_dim=3, dim=2, weights_init=Constant(0.1), biases_init=Constant(0))
    >>> tuple(rnn.apply(inputs=torch.ones(4, 5, 3)).shape)
    (4, 5, 2)
    """

    _mode = "rnn"

    @lazy(allocation=["input_dim", "dim"])
    def __init__(self, input_dim: int, dim: int, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.dim = dim
        self.nonlinearity = nonlinearity

    gates = 1

    def get_dim(self, name: str) -> Any:
        if name == "mask":
            return 0
        if name == "inputs":
            return self.input_dim
        if name in ("states", "cells"):
            return self.dim
        return super().get_dim(name)

    def _allocate(self) -> None:
        self.new_parameter("weight_ih", (self.gates * self.dim, self.input_dim), WEIGHT)
        self.new_parameter("weight_hh", (self.gates * self.dim, self.dim), WEIGHT)
        if self.use_bias:
            self.new_parameter("bias_ih", (self.gates * self.dim,), BIAS)
            self.new_parameter("bias_hh", (self.gates * self.dim,), BIAS)
        for state in self.apply.states:
            self.new_parameter("initial_state" if state == "states" else f"initial_{state}", (self.dim,),
                               INITIAL_STATE)

    def _initialize(self) -> None:
        self.require_init("weights_init")
        self.weights_init.initialize(self.weight_ih, self.rng)
        self.weights_init.initialize(self.weight_hh, self.rng)
        if self.use_bias:
            self.require_init("biases_init")
            self.biases_init.initialize(self.bias_ih, self.rng)
            self.biases_init.initialize(self.bias_hh, self.rng)
        with torch.no_grad():
            for state in self.apply.states:
                self._initial_parameter(state).zero_()

    @property
    def flat_weights(self) -> list[Tensor]:
        """``[weight_ih, weight_hh, bias_ih, bias_hh]`` (zero biases when ``use_bias=False``)."""
        if self.use_bias:
            return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        zeros = self.weight_ih.new_zeros(self.gates * self.dim)
        return [self.weight_ih, self.weight_hh, zeros, zeros]

    def load_torch_module(self, module: torch.nn.RNNBase) -> None:
        """Copy the weights of a one-layer, unidirectional ``torch.nn.RNN``/``LSTM``/``GRU`` of the same kind.

        The initial states are set to zeros (``torch.nn``'s default initial state).
        """
        if module.num_layers != 1 or module.bidirectional or module.batch_first:
            raise ValueError("only one-layer, unidirectional, time-major torch modules can be loaded")
        if not self.allocated:
            self.allocate()
        with torch.no_grad():
            for ours, theirs in zip(self.flat_weights, module._flat_weights):
                if ours.shape != theirs.shape:
                    raise ValueError(f"shape mismatch: {tuple(ours.shape)} here, {tuple(theirs.shape)} in {module}")
                ours.copy_(theirs)
            for state in self.apply.states:
                self._initial_parameter(state).zero_()
        self.mark_initialized()

    @property
    def _fused_mode(self) -> str:
        return f"rnn_{self.nonlinearity}"

    @recurrent(sequences=["inputs", "mask"], states=["states"], outputs=["states"], contexts=[])
    def apply(self, inputs: Tensor, states: Tensor, mask: Tensor | None = None) -> Tensor:
        """One step of ``torch.nn.RNN`` on raw inputs (``input_dim``)."""
        cell = torch._VF.rnn_tanh_cell if self.nonlinearity == "tanh" else torch._VF.rnn_relu_cell
        return carry(mask, cell(inputs, states, *self.flat_weights), states)

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        if application_name != "apply" or "inputs" not in sequences:
            return None
        out, _, _ = fused_recurrence(self._fused_mode, sequences["inputs"], states["states"], self.flat_weights,
                                     mask=sequences.get("mask"), reverse=reverse)
        return [out]
