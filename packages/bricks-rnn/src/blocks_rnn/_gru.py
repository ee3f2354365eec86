"""GatedRecurrent (Blocks' GRU) and TorchGRU (``torch.nn.GRU``'s formulation, on its fused kernel)."""

from __future__ import annotations

from typing import Any

import numpy
import torch
from torch import Tensor

from blocks.bricks import Initializable, Logistic, Tanh, lazy
from blocks.roles import INITIAL_STATE, WEIGHT
from blocks_rnn._kernels import gated_recurrent
from blocks_rnn._recurrent import BaseRecurrent, recurrent
from blocks_rnn._simple import TorchRNN, carry

__all__ = ["GatedRecurrent", "TorchGRU"]


class GatedRecurrent(BaseRecurrent, Initializable):
    """Gated recurrent unit (Blocks' ``GatedRecurrent``, Cho et al. 2014).

    ::

        z, r = σ(states · state_to_gates + gate_inputs)     # update gate first, then reset gate
        states' = z * tanh((states * r) · state_to_state + inputs) + (1 - z) * states

    Parameters
    ----------
    dim : int
        State dimension (lazy); ``inputs`` are ``dim`` wide, ``gate_inputs`` ``2 * dim``.
    activation, gate_activation : Brick, optional
        Default ``Tanh()`` and ``Logistic()``; with these the loop runs on a BPTT kernel.

    Notes
    -----
    Parameters: ``state_to_state`` ``(dim, dim)``, ``state_to_gates`` ``(dim, 2 * dim)`` (``WEIGHT``; the two
    halves of ``state_to_gates`` are initialized separately) and ``initial_state`` (``INITIAL_STATE``).

    **Not** ``torch.nn.GRU``: the reset gate multiplies the state *before* the recurrent product,
    ``((states * r) · state_to_state)`` (Blocks' and Cho et al.'s form), where ``torch.nn.GRU`` (and cuDNN)
    apply it *after*, ``r * (h · W_hn + b_hn)``. The two are different functions: no choice of weights makes
    one equal the other, and weights copied between them give other outputs. The gate order differs too
    (update, reset here; reset, update, new in torch). For ``torch.nn.GRU``'s formulation, its fused kernel and
    its weights (``load_torch_module``), use :class:`TorchGRU`.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import IsotropicGaussian
    >>> gru = GatedRecurrent(dim=3, weights_init=IsotropicGaussian(0.1))
    >>> tuple(gru.apply(inputs=torch.randn(5, 2, 3), gate_inputs=torch.randn(5, 2, 6)).shape)
    (5, 2, 3)
    """

    @lazy(allocation=["dim"])
    def __init__(self, dim: int, activation: Any = None, gate_activation: Any = None, **kwargs: Any) -> None:
        self_activation = activation if activation is not None else Tanh()
        self_gate = gate_activation if gate_activation is not None else Logistic()
        children = [self_activation, self_gate] + list(kwargs.pop("children", []) or [])
        super().__init__(children=children, **kwargs)
        self.dim = dim
        self.activation = self_activation
        self.gate_activation = self_gate

    def get_dim(self, name: str) -> Any:
        if name == "mask":
            return 0
        if name in ("inputs", "states"):
            return self.dim
        if name == "gate_inputs":
            return 2 * self.dim
        return super().get_dim(name)

    def _allocate(self) -> None:
        self.new_parameter("state_to_state", (self.dim, self.dim), WEIGHT)
        self.new_parameter("state_to_gates", (self.dim, 2 * self.dim), WEIGHT)
        self.new_parameter("initial_state", (self.dim,), INITIAL_STATE)

    def _initialize(self) -> None:
        self.require_init("weights_init")
        self.weights_init.initialize(self.state_to_state, self.rng)
        update = self.weights_init.generate(self.rng, (self.dim, self.dim))
        reset = self.weights_init.generate(self.rng, (self.dim, self.dim))
        with torch.no_grad():
            self.state_to_gates.copy_(torch.from_numpy(numpy.hstack([update, reset])))
            self.initial_state.zero_()

    @recurrent(sequences=["mask", "inputs", "gate_inputs"], states=["states"], outputs=["states"], contexts=[])
    def apply(self, inputs: Tensor, gate_inputs: Tensor, states: Tensor, mask: Tensor | None = None) -> Tensor:
        """One step of the GRU."""
        gate_values = self.gate_activation.apply(states.matmul(self.state_to_gates) + gate_inputs)
        update_values = gate_values[:, :self.dim]
        reset_values = gate_values[:, self.dim:]
        states_reset = states * reset_values
        next_states = self.activation.apply(states_reset.matmul(self.state_to_state) + inputs)
        next_states = next_states * update_values + states * (1 - update_values)
        return carry(mask, next_states, states)

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        if (application_name != "apply" or type(self.activation) is not Tanh
                or type(self.gate_activation) is not Logistic
                or "inputs" not in sequences or "gate_inputs" not in sequences):
            return None
        return [gated_recurrent(sequences["inputs"], sequences["gate_inputs"], states["states"], self.state_to_state,
                                self.state_to_gates, sequences.get("mask"), reverse)]


class TorchGRU(TorchRNN):
    """``torch.nn.GRU``'s layer (gate order r, z, n; reset applied after the recurrent product) on its kernel.

    Parameters
    ----------
    input_dim, dim : int
        Input and state dimensions (lazy); ``inputs`` are raw.

    Notes
    -----
    Parameters as ``torch.nn.GRU`` (``weight_ih`` ``(3 * dim, input_dim)``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) plus ``initial_state`` (``INITIAL_STATE``).

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> gru = TorchGRU(input_dim=3, dim=2, weights_init=Constant(0.1), biases_init=Constant(0))
    >>> reference = torch.nn.GRU(3, 2)
    >>> gru.load_torch_module(reference)
    >>> x = torch.randn(4, 1, 3)
    >>> torch.allclose(gru.apply(inputs=x), reference(x)[0])
    True
    """

    gates = 3

    @lazy(allocation=["input_dim", "dim"])
    def __init__(self, input_dim: int, dim: int, **kwargs: Any) -> None:
        super().__init__(input_dim=input_dim, dim=dim, **kwargs)

    @property
    def _fused_mode(self) -> str:
        return "gru"

    @recurrent(sequences=["inputs", "mask"], states=["states"], outputs=["states"], contexts=[])
    def apply(self, inputs: Tensor, states: Tensor, mask: Tensor | None = None) -> Tensor:
        """One step of ``torch.nn.GRU`` on raw inputs."""
        return carry(mask, torch._VF.gru_cell(inputs, states, *self.flat_weights), states)
