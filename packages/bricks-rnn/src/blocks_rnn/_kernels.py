"""Fast paths for Blocks' own recurrent formulations (no fused PyTorch kernel computes them).

Each recurrence is a :class:`torch.autograd.Function` whose forward runs the time loop once, storing what the
backward needs, and whose backward is a hand-written backpropagation through time: per step only the recurrent
matrix product and a few element-wise operations, with the weight gradients computed afterwards by a single
matrix product over all steps. Autograd records one node for the whole sequence instead of a dozen per step.
The input projections are not part of the loop: callers apply them to the whole sequence at once.

* :func:`peephole_lstm` — Blocks' ``LSTM``: inputs of width ``4 * dim`` in the order input gate, forget gate,
  cell, output gate; diagonal peepholes from the cells to the three gates.
* :func:`gated_recurrent` — Blocks' ``GatedRecurrent``: ``inputs`` (``dim``) and ``gate_inputs`` (``2 * dim``:
  update gate, then reset gate); the reset gate is applied to the state *before* the recurrent product.
* :func:`simple_recurrent` — Blocks' ``SimpleRecurrent`` with ``tanh``.

Masks are ``(time, batch)``; a masked step carries the state (and the cells) over unchanged. ``reverse`` runs
the loop from the last step to the first. Gradients are exact (checked against autograd in float64).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["gated_recurrent", "peephole_lstm", "simple_recurrent"]


def _mask_column(mask: Tensor | None, t: int, dtype: torch.dtype) -> Tensor | None:
    return None if mask is None else mask[t].unsqueeze(1).to(dtype)


class _PeepholeLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, h0: Tensor, c0: Tensor, W: Tensor, peepholes: Tensor,  # noqa: N803
                mask: Tensor | None) -> tuple[Tensor, Tensor]:
        T, B, _ = x.shape
        d = h0.shape[1]
        peep_if = peepholes[:2].unsqueeze(0)
        peep_o = peepholes[2]
        gates = x.new_empty(T, B, 4, d)
        hs = x.new_empty(T + 1, B, d)
        cs = x.new_empty(T + 1, B, d)
        tanh_cells = x.new_empty(T, B, d)
        raw_cells = x.new_empty(T, B, d) if mask is not None else None
        hs[0] = h0
        cs[0] = c0
        for t in range(T):
            a = torch.addmm(x[t], hs[t], W).view(B, 4, d)
            c = cs[t]
            g = gates[t]
            torch.sigmoid(torch.addcmul(a[:, :2], c.unsqueeze(1), peep_if), out=g[:, :2])
            torch.tanh(a[:, 2], out=g[:, 2])
            c_new = cs[t + 1] if raw_cells is None else raw_cells[t]
            torch.mul(g[:, 1], c, out=c_new)
            c_new.addcmul_(g[:, 0], g[:, 2])
            torch.sigmoid(torch.addcmul(a[:, 3], c_new, peep_o), out=g[:, 3])
            torch.tanh(c_new, out=tanh_cells[t])
            torch.mul(g[:, 3], tanh_cells[t], out=hs[t + 1])
            if mask is not None:
                m = _mask_column(mask, t, x.dtype)
                hs[t + 1].sub_(hs[t]).mul_(m).add_(hs[t])
                torch.lerp(c, c_new, m, out=cs[t + 1])
        ctx.save_for_backward(W, peepholes, mask, gates, hs, cs, tanh_cells, raw_cells)
        ctx.set_materialize_grads(False)
        return hs[1:], cs[1:]

    @staticmethod
    def backward(ctx: Any, grad_hs: Tensor | None, grad_cs: Tensor | None) -> tuple[Tensor | None, ...]:
        W, peepholes, mask, gates, hs, cs, tanh_cells, raw_cells = ctx.saved_tensors  # noqa: N806
        T, B, _, d = gates.shape
        peep_i, peep_f, peep_o = peepholes[0], peepholes[1], peepholes[2]
        grad_gates = gates.new_empty(T, B, 4, d)
        dh = gates.new_zeros(B, d)
        dc = gates.new_zeros(B, d)
        w_t = W.t()
        for t in range(T - 1, -1, -1):
            g = grad_gates[t]
            i, f, cell, o = gates[t, :, 0], gates[t, :, 1], gates[t, :, 2], gates[t, :, 3]
            tc = tanh_cells[t]
            if grad_hs is not None:
                dh = dh + grad_hs[t]
            if grad_cs is not None:
                dc = dc + grad_cs[t]
            m = _mask_column(mask, t, gates.dtype)
            if m is not None:
                carry_h, carry_c = dh * (1 - m), dc * (1 - m)
                dh, dc = dh * m, dc * m
            do = g[:, 3]
            torch.mul(dh * tc, o * (1 - o), out=do)
            dc = dc + dh * o * (1 - tc * tc) + do * peep_o
            torch.mul(dc * cell, i * (1 - i), out=g[:, 0])
            torch.mul(dc * cs[t], f * (1 - f), out=g[:, 1])
            torch.mul(dc * i, 1 - cell * cell, out=g[:, 2])
            dc = dc * f + g[:, 0] * peep_i + g[:, 1] * peep_f
            dh = torch.mm(g.view(B, 4 * d), w_t)
            if m is not None:
                dh = dh + carry_h
                dc = dc + carry_c
        flat = grad_gates.view(T, B, 4 * d)
        need = ctx.needs_input_grad
        grad_w = torch.mm(hs[:-1].reshape(T * B, d).t(), flat.reshape(T * B, 4 * d)) if need[3] else None
        grad_peep = None
        if need[4]:
            out_cells = cs[1:] if raw_cells is None else raw_cells
            grad_peep = torch.stack([(grad_gates[:, :, 0] * cs[:-1]).sum((0, 1)),
                                     (grad_gates[:, :, 1] * cs[:-1]).sum((0, 1)),
                                     (grad_gates[:, :, 3] * out_cells).sum((0, 1))])
        return flat, dh, dc, grad_w, grad_peep, None


class _GatedRecurrent(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, gate_x: Tensor, h0: Tensor, U: Tensor, gate_U: Tensor,  # noqa: N803
                mask: Tensor | None) -> Tensor:
        T, B, d = x.shape
        hs = x.new_empty(T + 1, B, d)
        gates = x.new_empty(T, B, 2 * d)
        reset_states = x.new_empty(T, B, d)
        candidates = x.new_empty(T, B, d)
        hs[0] = h0
        for t in range(T):
            h = hs[t]
            g = gates[t]
            torch.sigmoid(torch.addmm(gate_x[t], h, gate_U), out=g)
            torch.mul(h, g[:, d:], out=reset_states[t])
            n = candidates[t]
            torch.tanh(torch.addmm(x[t], reset_states[t], U), out=n)
            z = g[:, :d]
            m = _mask_column(mask, t, x.dtype)
            if m is not None:
                z = z * m
            torch.addcmul(h, z, n - h, out=hs[t + 1])
        ctx.save_for_backward(U, gate_U, mask, hs, gates, reset_states, candidates)
        ctx.set_materialize_grads(False)
        return hs[1:]

    @staticmethod
    def backward(ctx: Any, grad_hs: Tensor | None) -> tuple[Tensor | None, ...]:
        U, gate_U, mask, hs, gates, reset_states, candidates = ctx.saved_tensors  # noqa: N806
        T, B, d = candidates.shape
        grad_x = gates.new_empty(T, B, d)
        grad_gx = gates.new_empty(T, B, 2 * d)
        dh = gates.new_zeros(B, d)
        if grad_hs is None:
            return None, None, None, None, None, None
        u_t, gu_t = U.t(), gate_U.t()
        for t in range(T - 1, -1, -1):
            h = hs[t]
            z, r = gates[t, :, :d], gates[t, :, d:]
            n = candidates[t]
            dh = dh + grad_hs[t]
            m = _mask_column(mask, t, gates.dtype)
            if m is not None:
                carry = dh * (1 - m)
                dh = dh * m
            dn = grad_x[t]
            torch.mul(dh * z, 1 - n * n, out=dn)
            dz = dh * (n - h)
            d_reset = torch.mm(dn, u_t)
            gg = grad_gx[t]
            torch.mul(dz, z * (1 - z), out=gg[:, :d])
            torch.mul(d_reset * h, r * (1 - r), out=gg[:, d:])
            dh = torch.addmm(dh * (1 - z) + d_reset * r, gg, gu_t)
            if m is not None:
                dh = dh + carry
        need = ctx.needs_input_grad
        grad_u = torch.mm(reset_states.reshape(T * B, d).t(), grad_x.reshape(T * B, d)) if need[3] else None
        grad_gu = torch.mm(hs[:-1].reshape(T * B, d).t(), grad_gx.reshape(T * B, 2 * d)) if need[4] else None
        return grad_x, grad_gx, dh, grad_u, grad_gu, None


class _SimpleTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, h0: Tensor, W: Tensor, mask: Tensor | None) -> Tensor:  # noqa: N803
        T, B, d = x.shape
        hs = x.new_empty(T + 1, B, d)
        raw = x.new_empty(T, B, d) if mask is not None else None
        hs[0] = h0
        for t in range(T):
            out = hs[t + 1] if raw is None else raw[t]
            torch.tanh(torch.addmm(x[t], hs[t], W), out=out)
            if raw is not None:
                torch.lerp(hs[t], raw[t], _mask_column(mask, t, x.dtype), out=hs[t + 1])
        ctx.save_for_backward(W, mask, hs, raw)
        ctx.set_materialize_grads(False)
        return hs[1:]

    @staticmethod
    def backward(ctx: Any, grad_hs: Tensor | None) -> tuple[Tensor | None, ...]:
        W, mask, hs, raw = ctx.saved_tensors  # noqa: N806
        if grad_hs is None:
            return None, None, None, None
        T, B, d = grad_hs.shape
        grad_x = hs.new_empty(T, B, d)
        new_states = hs[1:] if raw is None else raw
        dh = hs.new_zeros(B, d)
        w_t = W.t()
        for t in range(T - 1, -1, -1):
            dh = dh + grad_hs[t]
            m = _mask_column(mask, t, hs.dtype)
            if m is not None:
                carry = dh * (1 - m)
                dh = dh * m
            h = new_states[t]
            torch.mul(dh, 1 - h * h, out=grad_x[t])
            dh = torch.mm(grad_x[t], w_t)
            if m is not None:
                dh = dh + carry
        grad_w = torch.mm(hs[:-1].reshape(T * B, d).t(), grad_x.reshape(T * B, d)) if ctx.needs_input_grad[2] else None
        return grad_x, dh, grad_w, None


def _check(name: str, x: Tensor, width: int, mask: Tensor | None) -> None:
    if x.dim() != 3 or x.shape[2] != width:
        raise ValueError(f"{name} must be (time, batch, {width}), got shape {tuple(x.shape)}")
    if mask is not None and mask.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape (time, batch) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")


def _flip(x: Tensor | None, reverse: bool) -> Tensor | None:
    return x.flip(0) if (reverse and x is not None) else x


def peephole_lstm(inputs: Tensor, h0: Tensor, c0: Tensor, W_state: Tensor, peepholes: Tensor,  # noqa: N803
                  mask: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Blocks' LSTM over a whole sequence (tanh cell activation, logistic gates).

    Parameters
    ----------
    inputs : Tensor
        ``(time, batch, 4 * dim)`` pre-activations in the order input gate, forget gate, cell, output gate.
    h0, c0 : Tensor
        ``(batch, dim)`` initial states and cells.
    W_state : Tensor
        ``(dim, 4 * dim)`` recurrent weights.
    peepholes : Tensor
        ``(3, dim)``: the diagonal cell-to-input, cell-to-forget and cell-to-output weights.
    mask : Tensor, optional
        ``(time, batch)``; masked steps carry states and cells over.
    reverse : bool
        Run from the last step to the first.

    Returns
    -------
    tuple of Tensor
        ``(states, cells)``, each ``(time, batch, dim)``.

    Examples
    --------
    >>> import torch
    >>> x, h0 = torch.randn(5, 2, 12), torch.zeros(2, 3)
    >>> states, cells = peephole_lstm(x, h0, h0, torch.randn(3, 12), torch.zeros(3, 3))
    >>> tuple(states.shape)
    (5, 2, 3)
    """
    dim = h0.shape[-1]
    _check("inputs", inputs, 4 * dim, mask)
    if tuple(W_state.shape) != (dim, 4 * dim) or tuple(peepholes.shape) != (3, dim):
        raise ValueError(f"W_state must be ({dim}, {4 * dim}) and peepholes (3, {dim}), got "
                         f"{tuple(W_state.shape)} and {tuple(peepholes.shape)}")
    states, cells = _PeepholeLSTM.apply(_flip(inputs, reverse), h0, c0, W_state, peepholes, _flip(mask, reverse))
    return _flip(states, reverse), _flip(cells, reverse)


def gated_recurrent(inputs: Tensor, gate_inputs: Tensor, h0: Tensor, state_to_state: Tensor,
                    state_to_gates: Tensor, mask: Tensor | None = None, reverse: bool = False) -> Tensor:
    """Blocks' GatedRecurrent (GRU) over a whole sequence (tanh activation, logistic gates).

    ``z, r = sigmoid(h @ state_to_gates + gate_inputs)``; ``n = tanh((h * r) @ state_to_state + inputs)``;
    ``h' = z * n + (1 - z) * h``.

    Parameters
    ----------
    inputs : Tensor
        ``(time, batch, dim)``.
    gate_inputs : Tensor
        ``(time, batch, 2 * dim)``: update gate, then reset gate.
    h0 : Tensor
        ``(batch, dim)`` initial states.
    state_to_state, state_to_gates : Tensor
        ``(dim, dim)`` and ``(dim, 2 * dim)`` recurrent weights.
    mask : Tensor, optional
        ``(time, batch)``; masked steps carry the state over.
    reverse : bool
        Run from the last step to the first.

    Returns
    -------
    Tensor
        ``(time, batch, dim)`` states.

    Examples
    --------
    >>> import torch
    >>> h = gated_recurrent(torch.randn(4, 2, 3), torch.randn(4, 2, 6), torch.zeros(2, 3),
    ...                     torch.randn(3, 3), torch.randn(3, 6))
    >>> tuple(h.shape)
    (4, 2, 3)
    """
    dim = h0.shape[-1]
    _check("inputs", inputs, dim, mask)
    _check("gate_inputs", gate_inputs, 2 * dim, mask)
    if tuple(state_to_state.shape) != (dim, dim) or tuple(state_to_gates.shape) != (dim, 2 * dim):
        raise ValueError(f"state_to_state must be ({dim}, {dim}) and state_to_gates ({dim}, {2 * dim}), got "
                         f"{tuple(state_to_state.shape)} and {tuple(state_to_gates.shape)}")
    states = _GatedRecurrent.apply(_flip(inputs, reverse), _flip(gate_inputs, reverse), h0, state_to_state,
                                   state_to_gates, _flip(mask, reverse))
    return _flip(states, reverse)


def simple_recurrent(inputs: Tensor, h0: Tensor, W: Tensor, mask: Tensor | None = None,  # noqa: N803
                     reverse: bool = False) -> Tensor:
    """Blocks' SimpleRecurrent with tanh: ``h' = tanh(inputs + h @ W)``.

    Parameters
    ----------
    inputs : Tensor
        ``(time, batch, dim)``.
    h0 : Tensor
        ``(batch, dim)`` initial states.
    W : Tensor
        ``(dim, dim)`` recurrent weights.
    mask : Tensor, optional
        ``(time, batch)``; masked steps carry the state over.
    reverse : bool
        Run from the last step to the first.

    Returns
    -------
    Tensor
        ``(time, batch, dim)`` states.

    Examples
    --------
    >>> import torch
    >>> tuple(simple_recurrent(torch.randn(4, 2, 3), torch.zeros(2, 3), torch.eye(3)).shape)
    (4, 2, 3)
    """
    dim = h0.shape[-1]
    _check("inputs", inputs, dim, mask)
    if tuple(W.shape) != (dim, dim):
        raise ValueError(f"W must be ({dim}, {dim}), got {tuple(W.shape)}")
    return _flip(_SimpleTanh.apply(_flip(inputs, reverse), h0, W, _flip(mask, reverse)), reverse)
