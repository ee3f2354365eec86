"""The fast recurrence kernels against reference implementations (autograd loops, torch.nn)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from blocks_rnn._kernels import gated_recurrent, peephole_lstm, simple_recurrent
from blocks_rnn._torch_kernels import fused_recurrence, prefix_lengths

DT = torch.float64


def _masks(T, B):
    prefix = torch.ones(T, B, dtype=DT)
    prefix[3:, 0] = 0
    prefix[1:, 2] = 0
    holes = prefix.clone()
    holes[0, 1] = 0
    holes[2, 1] = 0
    return {"none": None, "prefix": prefix, "holes": holes}


def _carry(new, old, m):
    return new if m is None else m[:, None] * new + (1 - m[:, None]) * old


def _ref_lstm(x, h, c, W, p, mask, reverse):
    d = h.shape[1]
    hs, cs = [None] * x.shape[0], [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        a = x[t] + h @ W
        i = torch.sigmoid(a[:, :d] + c * p[0])
        f = torch.sigmoid(a[:, d:2 * d] + c * p[1])
        cn = f * c + i * torch.tanh(a[:, 2 * d:3 * d])
        o = torch.sigmoid(a[:, 3 * d:] + cn * p[2])
        hn = o * torch.tanh(cn)
        m = None if mask is None else mask[t]
        h, c = _carry(hn, h, m), _carry(cn, c, m)
        hs[t], cs[t] = h, c
    return torch.stack(hs), torch.stack(cs)


def _ref_gru(x, gx, h, U, GU, mask, reverse):
    d = h.shape[1]
    hs = [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        g = torch.sigmoid(h @ GU + gx[t])
        z, r = g[:, :d], g[:, d:]
        n = torch.tanh((h * r) @ U + x[t])
        h = _carry(z * n + (1 - z) * h, h, None if mask is None else mask[t])
        hs[t] = h
    return torch.stack(hs)


def _ref_simple(x, h, W, mask, reverse):
    hs = [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        h = _carry(torch.tanh(x[t] + h @ W), h, None if mask is None else mask[t])
        hs[t] = h
    return torch.stack(hs)


def _grads(outputs, inputs, seed=1):
    gen = torch.Generator().manual_seed(seed)
    total = sum((o * torch.randn(o.shape, generator=gen, dtype=DT)).sum() for o in outputs)
    return torch.autograd.grad(total, inputs)


def _leaves(*shapes):
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(s, generator=gen, dtype=DT) * 0.5).requires_grad_() for s in shapes]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "prefix", "holes"])
def test_peephole_lstm_matches_autograd_loop(mask_kind, reverse):
    T, B, d = 5, 3, 4
    mask = _masks(T, B)[mask_kind]
    leaves = _leaves((T, B, 4 * d), (B, d), (B, d), (d, 4 * d), (3, d))
    ours = peephole_lstm(*leaves, mask=mask, reverse=reverse)
    ref = _ref_lstm(*leaves, mask, reverse)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    for a, b in zip(_grads(ours, leaves), _grads(ref, leaves)):
        torch.testing.assert_close(a, b)


def test_peephole_lstm_gradcheck_and_unused_cells():
    leaves = _leaves((3, 2, 8), (2, 2), (2, 2), (2, 8), (3, 2))
    mask = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=DT)
    assert torch.autograd.gradcheck(lambda *a: peephole_lstm(*a, mask=mask), leaves)
    states, _ = peephole_lstm(*leaves)
    (g_ours,) = torch.autograd.grad(states.sum(), leaves[3])
    (g_ref,) = torch.autograd.grad(_ref_lstm(*leaves, None, False)[0].sum(), leaves[3])
    torch.testing.assert_close(g_ours, g_ref)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "prefix", "holes"])
def test_gated_recurrent_matches_autograd_loop(mask_kind, reverse):
    T, B, d = 5, 3, 4
    mask = _masks(T, B)[mask_kind]
    leaves = _leaves((T, B, d), (T, B, 2 * d), (B, d), (d, d), (d, 2 * d))
    ours = gated_recurrent(*leaves, mask=mask, reverse=reverse)
    ref = _ref_gru(*leaves, mask, reverse)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(_grads([ours], leaves), _grads([ref], leaves)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "holes"])
def test_simple_recurrent_matches_autograd_loop(mask_kind, reverse):
    T, B, d = 5, 3, 4
    mask = _masks(T, B)[mask_kind]
    leaves = _leaves((T, B, d), (B, d), (d, d))
    ours = simple_recurrent(*leaves, mask=mask, reverse=reverse)
    ref = _ref_simple(*leaves, mask, reverse)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(_grads([ours], leaves), _grads([ref], leaves)):
        torch.testing.assert_close(a, b)


def test_kernels_reject_bad_shapes():
    with pytest.raises(ValueError, match="inputs must be"):
        peephole_lstm(torch.zeros(3, 2, 5), torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 8),
                      torch.zeros(3, 2))
    with pytest.raises(ValueError, match="mask must have shape"):
        simple_recurrent(torch.zeros(3, 2, 2), torch.zeros(2, 2), torch.zeros(2, 2), mask=torch.ones(2, 2))
    with pytest.raises(ValueError, match="valid modes"):
        fused_recurrence("lstmx", torch.zeros(3, 2, 2), torch.zeros(2, 2), [])


def test_prefix_lengths():
    m = _masks(6, 3)
    assert prefix_lengths(m["prefix"]).tolist() == [3, 6, 1]
    assert prefix_lengths(m["holes"]) is None
    assert prefix_lengths(torch.zeros(2, 2)) is None


_MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}


def _torch_reference(module, x, h0, c0, mask, reverse):
    """torch.nn with packed sequences, plus Blocks' carried states at the padded steps."""
    if mask is None:
        lengths = torch.full((x.shape[1],), x.shape[0])
    else:
        lengths = mask.sum(0).long()
    if reverse:
        steps = torch.arange(x.shape[0])[:, None]
        idx = torch.where(steps < lengths, lengths - 1 - steps, steps)
        x = x.gather(0, idx[:, :, None].expand_as(x))
    hx = (h0[None], c0[None]) if isinstance(module, torch.nn.LSTM) else h0[None]
    out, hn = module(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)
    out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    if reverse:
        out = out.gather(0, idx[:, :, None].expand_as(out))
    h_last = (hn[0] if isinstance(hn, tuple) else hn)[0]
    fill = h0 if reverse else h_last
    if mask is not None:
        out = torch.where(mask[:, :, None] != 0, out, fill[None])
    return out, h_last


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "prefix", "holes"])
def test_fused_recurrence_matches_torch_nn(mode, reverse, mask_kind):
    T, B, n_in, d = 6, 3, 3, 4
    torch.manual_seed(0)
    module = _MODULES[mode](n_in, d).double()
    x = torch.randn(T, B, n_in, dtype=DT, requires_grad=True)
    h0 = torch.randn(B, d, dtype=DT, requires_grad=True)
    c0 = torch.randn(B, d, dtype=DT) if mode == "lstm" else None
    mask = _masks(T, B)[mask_kind]
    out, h_last, _ = fused_recurrence(mode, x, h0, module._flat_weights, c0=c0, mask=mask, reverse=reverse)
    if mask_kind == "holes":
        # no packed equivalent: compare with the loop of torch.nn cells under Blocks' carry
        cell = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn_tanh": torch.nn.RNNCell}[mode](n_in, d)
        cell = cell.double()
        with torch.no_grad():
            for a, b in zip(cell.parameters(), module.parameters()):
                a.copy_(b)
        h, c, outs = h0, c0, [None] * T
        for t in (reversed(range(T)) if reverse else range(T)):
            if mode == "lstm":
                hn, cn = cell(x[t], (h, c))
                c = _carry(cn, c, mask[t])
            else:
                hn = cell(x[t], h)
            h = _carry(hn, h, mask[t])
            outs[t] = h
        ref_out, ref_last = torch.stack(outs), h
        ref_params = [x, h0, *cell.parameters()]
    else:
        ref_params = [x, h0, *module.parameters()]
        ref_out, ref_last = _torch_reference(module, x, h0, c0 if c0 is not None else None, mask, reverse)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h_last, ref_last)
    params = [x, h0, *module.parameters()]
    for a, b in zip(_grads([out], params), _grads([ref_out], ref_params)):
        torch.testing.assert_close(a, b)
