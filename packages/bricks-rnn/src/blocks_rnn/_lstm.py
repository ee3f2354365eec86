"""LSTM (Blocks' formulation, with peepholes) and TorchLSTM (``torch.nn.LSTM``'s, on its fused kernel)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from blocks.bricks import Initializable, Logistic, Tanh, lazy
from blocks.roles import INITIAL_STATE, WEIGHT
from blocks_rnn._kernels import peephole_lstm
from blocks_rnn._recurrent import BaseRecurrent, recurrent
from blocks_rnn._simple import TorchRNN, carry
from blocks_rnn._torch_kernels import fused_recurrence

__all__ = ["LSTM", "TorchLSTM"]


class LSTM(BaseRecurrent, Initializable):
    """Long short-term memory with diagonal peepholes (Blocks' ``LSTM``).

    ``inputs`` are ``4 * dim`` wide (project them first, e.g. with ``Linear(output_dim=4 * dim)``), in the order
    input gate, forget gate, cell, output gate::

        a = states · W_state + inputs
        i = σ(a_0 + cells * W_cell_to_in);  f = σ(a_1 + cells * W_cell_to_forget)
        cells' = f * cells + i * tanh(a_2);  o = σ(a_3 + cells' * W_cell_to_out);  states' = o * tanh(cells')

    Parameters
    ----------
    dim : int
        State dimension (lazy).
    activation, gate_activation : Brick, optional
        Default ``Tanh()`` and ``Logistic()``; with these the whole loop runs on a BPTT kernel.

    Notes
    -----
    Parameters: ``W_state`` ``(dim, 4 * dim)``, ``W_cell_to_in``, ``W_cell_to_forget``, ``W_cell_to_out``
    (``WEIGHT``), ``initial_state`` and ``initial_cells`` (``INITIAL_STATE``, zeros). Outputs ``states`` and
    ``cells``; masked steps carry both over. In the step's inner graph (``cg.scan_variables``) the three
    gate activations are the calls of ``gate_activation`` with ``call_id`` ``"in_gate"``, ``"forget_gate"``
    and ``"out_gate"``.

    **Not** ``torch.nn.LSTM``: the diagonal peepholes (``W_cell_to_*``) have no counterpart there, and torch
    adds two biases where the inputs here carry one. For ``torch.nn.LSTM``'s formulation, its fused kernel and
    its weights, use :class:`TorchLSTM`.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import IsotropicGaussian
    >>> lstm = LSTM(dim=3, weights_init=IsotropicGaussian(0.1))
    >>> states, cells = lstm.apply(inputs=torch.randn(5, 2, 12))
    >>> tuple(states.shape), tuple(cells.shape)
    ((5, 2, 3), (5, 2, 3))
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
        if name == "inputs":
            return self.dim * 4
        if name in ("states", "cells"):
            return self.dim
        if name == "mask":
            return 0
        return super().get_dim(name)

    def _allocate(self) -> None:
        self.new_parameter("W_state", (self.dim, 4 * self.dim), WEIGHT)
        for name in ("W_cell_to_in", "W_cell_to_forget", "W_cell_to_out"):
            self.new_parameter(name, (self.dim,), WEIGHT)
        self.new_parameter("initial_state", (self.dim,), INITIAL_STATE)
        self.new_parameter("initial_cells", (self.dim,), INITIAL_STATE)

    def _initialize(self) -> None:
        self.require_init("weights_init")
        for name in ("W_state", "W_cell_to_in", "W_cell_to_forget", "W_cell_to_out"):
            self.weights_init.initialize(getattr(self, name), self.rng)
        with torch.no_grad():
            self.initial_state.zero_()
            self.initial_cells.zero_()

    @recurrent(sequences=["inputs", "mask"], states=["states", "cells"], contexts=[], outputs=["states", "cells"])
    def apply(self, inputs: Tensor, states: Tensor, cells: Tensor, mask: Tensor | None = None) -> list[Tensor]:
        """One step of the LSTM; returns ``[states, cells]``."""
        d = self.dim
        activation = states.matmul(self.W_state) + inputs
        gate = self.gate_activation.apply
        in_gate = gate(activation[:, :d] + cells * self.W_cell_to_in, call_id="in_gate")
        forget_gate = gate(activation[:, d:2 * d] + cells * self.W_cell_to_forget, call_id="forget_gate")
        next_cells = forget_gate * cells + in_gate * self.activation.apply(activation[:, 2 * d:3 * d])
        out_gate = gate(activation[:, 3 * d:] + next_cells * self.W_cell_to_out, call_id="out_gate")
        next_states = out_gate * self.activation.apply(next_cells)
        return [carry(mask, next_states, states), carry(mask, next_cells, cells)]

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        if (application_name != "apply" or type(self.activation) is not Tanh
                or type(self.gate_activation) is not Logistic or "inputs" not in sequences):
            return None
        peepholes = torch.stack([self.W_cell_to_in, self.W_cell_to_forget, self.W_cell_to_out])
        out, cells = peephole_lstm(sequences["inputs"], states["states"], states["cells"], self.W_state, peepholes,
                                   sequences.get("mask"), reverse)
        return [out, cells]


class TorchLSTM(TorchRNN):
    """``torch.nn.LSTM``'s layer (gate order i, f, g, o; no peepholes) on PyTorch's fused kernel (cuDNN on GPU).

    Parameters
    ----------
    input_dim, dim : int
        Input and state dimensions (lazy); ``inputs`` are raw (the input projection is part of the kernel).
    return_cells : bool
        Whether an iterated call computes the ``cells`` output over time (default ``True``, as Blocks' LSTM).
        The kernel gives the states only; the cells are recovered exactly afterwards with one matrix product
        over all steps and an element-wise recurrence (about 15% more time). With ``False`` the iterated
        ``cells`` output is ``None`` and the brick runs at the kernel's speed. One step (``iterate=False``)
        always returns both.

    Notes
    -----
    Parameters as ``torch.nn.LSTM`` (``weight_ih`` ``(4 * dim, input_dim)``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) plus ``initial_state``/``initial_cells`` (``INITIAL_STATE``). Its step is one fused cell: in
    the inner graph (``cg.scan_variables``) the step's ``states``/``cells`` inputs and outputs are visible, the
    gates are not (use :class:`LSTM` to monitor or transform them).

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> lstm = TorchLSTM(input_dim=3, dim=2, weights_init=Constant(0.1), biases_init=Constant(0))
    >>> reference = torch.nn.LSTM(3, 2)
    >>> lstm.load_torch_module(reference)
    >>> x = torch.randn(4, 1, 3)
    >>> torch.allclose(lstm.apply(inputs=x)[0], reference(x)[0])
    True
    """

    gates = 4

    @lazy(allocation=["input_dim", "dim"])
    def __init__(self, input_dim: int, dim: int, return_cells: bool = True, **kwargs: Any) -> None:
        super().__init__(input_dim=input_dim, dim=dim, **kwargs)
        self.return_cells = bool(return_cells)

    @property
    def _fused_mode(self) -> str:
        return "lstm"

    @recurrent(sequences=["inputs", "mask"], states=["states", "cells"], contexts=[], outputs=["states", "cells"])
    def apply(self, inputs: Tensor, states: Tensor, cells: Tensor, mask: Tensor | None = None) -> list[Tensor]:
        """One step of ``torch.nn.LSTM`` on raw inputs; returns ``[states, cells]``."""
        next_states, next_cells = torch._VF.lstm_cell(inputs, (states, cells), *self.flat_weights)
        return [carry(mask, next_states, states), carry(mask, next_cells, cells)]

    def _scan_fast(self, application_name: str, sequences: dict[str, Tensor], states: dict[str, Tensor],
                   contexts: dict[str, Any], reverse: bool) -> list[Tensor] | None:
        if application_name != "apply" or "inputs" not in sequences:
            return None
        x, mask = sequences["inputs"], sequences.get("mask")
        h0, c0 = states["states"], states["cells"]
        out, _, _ = fused_recurrence("lstm", x, h0, self.flat_weights, c0=c0, mask=mask, reverse=reverse)
        return [out, self._cells(x, out, h0, c0, mask, reverse) if self.return_cells else None]

    def _cells(self, x: Tensor, out: Tensor, h0: Tensor, c0: Tensor, mask: Tensor | None, reverse: bool) -> Tensor:
        w_ih, w_hh, b_ih, b_hh = self.flat_weights
        previous = torch.cat([out[1:], h0[None]]) if reverse else torch.cat([h0[None], out[:-1]])
        gates = torch.baddbmm((b_ih + b_hh).expand(x.shape[0], 1, -1), x, w_ih.t().expand(x.shape[0], -1, -1))
        gates = gates + previous.matmul(w_hh.t())
        d = self.dim
        i, f = torch.sigmoid(gates[..., :d]), torch.sigmoid(gates[..., d:2 * d])
        g = torch.tanh(gates[..., 2 * d:3 * d])
        cells, c = [None] * x.shape[0], c0
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            c = carry(None if mask is None else mask[t], torch.addcmul(f[t] * c, i[t], g[t]), c)
            cells[t] = c
        return torch.stack(cells)
