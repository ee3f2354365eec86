"""Recurrent bricks against torch.nn (copied weights, float64): values and gradients, masks, reverse."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from blocks.bricks import Tanh
from blocks.config import config
from blocks.initialization import Constant, IsotropicGaussian
from blocks_rnn import (
    LSTM,
    Bidirectional,
    GatedRecurrent,
    SimpleRecurrent,
    TorchGRU,
    TorchLSTM,
    TorchRNN,
)

DT = torch.float64
T, B, N_IN, D = 6, 3, 4, 5


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


def _mask(kind):
    if kind is None:
        return None
    mask = torch.ones(T, B, dtype=DT)
    mask[4:, 0] = 0
    mask[2:, 2] = 0
    if kind == "holes":
        mask[1, 1] = 0
    return mask


def _packed_reference(module, x, mask, reverse):
    """torch.nn on packed sequences; Blocks' carry at padded steps (zero initial state)."""
    lengths = torch.full((B,), T) if mask is None else mask.sum(0).long()
    steps = torch.arange(T)[:, None]
    idx = torch.where(steps < lengths, lengths - 1 - steps, steps)
    if reverse:
        x = x.gather(0, idx[:, :, None].expand_as(x))
    out, hidden = module(pack_padded_sequence(x, lengths, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, total_length=T)
    if reverse:
        out = out.gather(0, idx[:, :, None].expand_as(out))
    last = (hidden[0] if isinstance(hidden, tuple) else hidden)[-1]
    if mask is not None:
        out = torch.where(mask[:, :, None] != 0, out, torch.zeros_like(out) if reverse else last[None])
    return out


def _grads(output, params, seed=3):
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(seed), dtype=DT)
    return torch.autograd.grad((output * weights).sum(), params, retain_graph=True)


def _x():
    return torch.randn(T, B, N_IN, dtype=DT, generator=torch.Generator().manual_seed(1), requires_grad=True)


class _SlowTanh(Tanh):
    """Tanh under another class: the bricks take their Python-loop path."""


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "prefix"])
@pytest.mark.parametrize("slow", [False, True])
def test_simple_recurrent_matches_torch_rnn(mask_kind, reverse, slow):
    torch.manual_seed(0)
    reference = torch.nn.RNN(N_IN, D).double()
    rnn = SimpleRecurrent(dim=D, activation=_SlowTanh() if slow else Tanh(), weights_init=Constant(0))
    rnn.initialize()
    with torch.no_grad():
        rnn.W.copy_(reference.weight_hh_l0.t())
    x, mask = _x(), _mask(mask_kind)
    inputs = x @ reference.weight_ih_l0.t() + reference.bias_ih_l0 + reference.bias_hh_l0
    ours = rnn.apply(inputs=inputs, mask=mask, reverse=reverse)
    ref = _packed_reference(reference, x, mask, reverse)
    torch.testing.assert_close(ours, ref)
    params = [x, reference.weight_ih_l0, reference.bias_ih_l0, reference.bias_hh_l0]
    for a, b in zip(_grads(ours, params), _grads(ref, params)):
        torch.testing.assert_close(a, b)
    (g_w,) = _grads(ours, [rnn.W])
    (g_ref,) = _grads(ref, [reference.weight_hh_l0])
    torch.testing.assert_close(g_w, g_ref.t())


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "prefix"])
@pytest.mark.parametrize("slow", [False, True])
def test_lstm_without_peepholes_matches_torch_lstm(mask_kind, reverse, slow):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(N_IN, D).double()
    kwargs = {"activation": _SlowTanh()} if slow else {}
    lstm = LSTM(dim=D, weights_init=Constant(0), **kwargs)
    lstm.initialize()
    with torch.no_grad():
        lstm.W_state.copy_(reference.weight_hh_l0.t())
    x, mask = _x(), _mask(mask_kind)
    inputs = x @ reference.weight_ih_l0.t() + reference.bias_ih_l0 + reference.bias_hh_l0
    states, cells = lstm.apply(inputs=inputs, mask=mask, reverse=reverse)
    ref = _packed_reference(reference, x, mask, reverse)
    torch.testing.assert_close(states, ref)
    params = [x, reference.weight_ih_l0, reference.bias_ih_l0, reference.bias_hh_l0]
    for a, b in zip(_grads(states, params), _grads(ref, params)):
        torch.testing.assert_close(a, b)
    (g_w,) = _grads(states, [lstm.W_state])
    (g_ref,) = _grads(ref, [reference.weight_hh_l0])
    torch.testing.assert_close(g_w, g_ref.t())


def test_lstm_peepholes_fast_path_equals_step_loop():
    x = torch.randn(T, B, 4 * D, dtype=DT, requires_grad=True)
    mask = _mask("holes")
    outs, grads = [], []
    for activation in (Tanh(), _SlowTanh()):
        lstm = LSTM(dim=D, activation=activation, weights_init=IsotropicGaussian(0.5, mean=0.1), seed=7)
        lstm.initialize()
        with torch.no_grad():
            lstm.initial_state.normal_(generator=torch.Generator().manual_seed(2))
        states, cells = lstm.apply(inputs=x, mask=mask, reverse=True)
        outs.append((states, cells))
        grads.append(_grads(states + 2 * cells, [x, *lstm.parameters()]))
    for a, b in zip(outs[0], outs[1]):
        torch.testing.assert_close(a, b)
    for a, b in zip(grads[0], grads[1]):
        torch.testing.assert_close(a, b)
    assert grads[0][-2].abs().sum() > 0  # the trainable initial state gets a gradient


def test_gated_recurrent_fast_path_equals_step_loop():
    x = torch.randn(T, B, D, dtype=DT, requires_grad=True)
    gx = torch.randn(T, B, 2 * D, dtype=DT, requires_grad=True)
    outs, grads = [], []
    for activation in (Tanh(), _SlowTanh()):
        gru = GatedRecurrent(dim=D, activation=activation, weights_init=IsotropicGaussian(0.5), seed=3)
        states = gru.apply(inputs=x, gate_inputs=gx, mask=_mask("holes"))
        outs.append(states)
        grads.append(_grads(states, [x, gx, *gru.parameters()]))
    torch.testing.assert_close(outs[0], outs[1])
    for a, b in zip(grads[0], grads[1]):
        torch.testing.assert_close(a, b)


_TORCH_BRICKS = {"lstm": (TorchLSTM, torch.nn.LSTM), "gru": (TorchGRU, torch.nn.GRU),
                 "rnn": (TorchRNN, torch.nn.RNN)}


@pytest.mark.parametrize("kind", sorted(_TORCH_BRICKS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "prefix"])
def test_torch_bricks_match_torch_nn(kind, mask_kind, reverse):
    brick_class, module_class = _TORCH_BRICKS[kind]
    torch.manual_seed(0)
    reference = module_class(N_IN, D).double()
    brick = brick_class(input_dim=N_IN, dim=D)
    brick.load_torch_module(reference)
    x, mask = _x(), _mask(mask_kind)
    ours = brick.apply(inputs=x, mask=mask, reverse=reverse, as_list=True)[0]
    ref = _packed_reference(reference, x, mask, reverse)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(_grads(ours, [x, *brick.flat_weights]), _grads(ref, [x, *reference.parameters()])):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reverse", [False, True])
def test_torch_lstm_cells_equal_step_loop(reverse):
    brick = TorchLSTM(input_dim=N_IN, dim=D)
    brick.load_torch_module(torch.nn.LSTM(N_IN, D).double())
    x, mask = _x(), _mask("prefix")
    states, cells = brick.apply(inputs=x, mask=mask, reverse=reverse)
    h, c = brick.initial_states(B)
    ref_cells = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        h, c = brick.apply(inputs=x[t], states=h, cells=c, mask=mask[t], iterate=False)
        ref_cells[t] = c
    torch.testing.assert_close(cells, torch.stack(ref_cells))
    for a, b in zip(_grads(cells, [x, *brick.flat_weights]), _grads(torch.stack(ref_cells), [x, *brick.flat_weights])):
        torch.testing.assert_close(a, b)


def test_holes_in_masks_carry_states():
    brick = TorchGRU(input_dim=N_IN, dim=D)
    brick.load_torch_module(torch.nn.GRU(N_IN, D).double())
    x, mask = _x(), _mask("holes")
    states = brick.apply(inputs=x, mask=mask)
    torch.testing.assert_close(states[1, 1], states[0, 1])
    h = brick.initial_states(B)
    for t in range(T):
        h = brick.apply(inputs=x[t], states=h, mask=mask[t], iterate=False)
        torch.testing.assert_close(states[t], h)


@pytest.mark.parametrize("mask_kind", [None, "prefix"])
def test_bidirectional_matches_bidirectional_torch_lstm(mask_kind):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(N_IN, D, bidirectional=True).double()
    birnn = Bidirectional(TorchLSTM(input_dim=N_IN, dim=D))
    birnn.children[0].load_torch_module(_single(reference, ""))
    birnn.children[1].load_torch_module(_single(reference, "_reverse"))
    x, mask = _x(), _mask(mask_kind)
    states, cells = birnn.apply(inputs=x, mask=mask)
    lengths = torch.full((B,), T) if mask is None else mask.sum(0).long()
    ref, _ = reference(pack_padded_sequence(x, lengths, enforce_sorted=False))
    ref, _ = pad_packed_sequence(ref, total_length=T)
    valid = (torch.ones(T, B, dtype=DT) if mask is None else mask)[:, :, None]
    torch.testing.assert_close(states * valid, ref)
    params = [x, *reference.parameters()]
    ours_params = [x, *birnn.children[0].flat_weights, *birnn.children[1].flat_weights]
    for a, b in zip(_grads(states * valid, ours_params), _grads(ref, params)):
        torch.testing.assert_close(a, b)
    assert states.shape == (T, B, 2 * D) and birnn.get_dim("states") == 2 * D


def _single(bidirectional, suffix):
    module = torch.nn.LSTM(N_IN, D).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(module, f"{name}_l0").copy_(getattr(bidirectional, f"{name}_l0{suffix}"))
    return module


def test_recurrent_options():
    rnn = SimpleRecurrent(dim=D, activation=Tanh(), weights_init=IsotropicGaussian(0.3))
    x = torch.randn(T, B, D, dtype=DT)
    h0 = torch.randn(B, D, dtype=DT)
    full = rnn.apply(inputs=x, states=h0, return_initial_states=True)
    assert full.shape == (T + 1, B, D)
    torch.testing.assert_close(full[0], h0)
    torch.testing.assert_close(full[1:], rnn.apply(x, h0))
    step = rnn.apply(inputs=x[0], states=h0, iterate=False)
    torch.testing.assert_close(step, full[1])
    assert rnn.apply.sequences == ["inputs", "mask"] and rnn.apply.states == ["states"]
    with pytest.raises(ValueError, match="unknown argument"):
        rnn.apply(inputs=x, bogus=1)
    with pytest.raises(ValueError, match="at least one of the sequences"):
        rnn.apply(states=h0)


def test_torch_lstm_without_cells_output():
    reference = torch.nn.LSTM(N_IN, D).double()
    brick = TorchLSTM(input_dim=N_IN, dim=D, return_cells=False)
    brick.load_torch_module(reference)
    x, mask = _x(), _mask("prefix")
    states, cells = brick.apply(inputs=x, mask=mask)
    assert cells is None
    torch.testing.assert_close(states, _packed_reference(reference, x, mask, False))
    birnn = Bidirectional(TorchLSTM(input_dim=N_IN, dim=D, return_cells=False))
    for child in birnn.children:
        child.load_torch_module(reference)
    states, cells = birnn.apply(inputs=x, mask=mask)
    assert cells is None and states.shape == (T, B, 2 * D)
