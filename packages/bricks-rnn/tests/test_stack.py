"""RecurrentStack against a multi-layer torch.nn.LSTM, low_memory, skip connections, names."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from blocks.bricks import Tanh
from blocks.config import config
from blocks.initialization import Constant, Identity, IsotropicGaussian
from blocks_rnn import RECURRENTSTACK_SEPARATOR, RecurrentStack, SimpleRecurrent, TorchLSTM

DT = torch.float64
T, B, N_IN, D = 5, 3, 4, 6


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


def _torch_stack(reference):
    stack = RecurrentStack([TorchLSTM(input_dim=N_IN, dim=D), TorchLSTM(input_dim=D, dim=D)],
                           weights_init=Identity(), biases_init=Constant(0))
    stack.initialize()
    for level, transition in enumerate(stack.transitions):
        single = torch.nn.LSTM(N_IN if level == 0 else D, D).double()
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(single, f"{name}_l0").copy_(getattr(reference, f"{name}_l{level}"))
        transition.load_torch_module(single)
    return stack


@pytest.mark.parametrize("low_memory", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_stack_of_torch_lstms_matches_two_layer_torch_lstm(low_memory, masked):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(N_IN, D, num_layers=2).double()
    stack = _torch_stack(reference)  # the fork between the levels is the identity
    x = torch.randn(T, B, N_IN, dtype=DT, requires_grad=True)
    lengths = torch.tensor([T, 3, 2]) if masked else torch.full((B,), T)
    mask = (torch.arange(T)[:, None] < lengths).to(DT) if masked else None
    outputs = stack.apply(inputs=x, mask=mask, low_memory=low_memory, as_dict=True)
    assert list(outputs) == ["states", "cells", "states#1", "cells#1"]
    ref, _ = reference(pack_padded_sequence(x, lengths, enforce_sorted=False))
    ref, _ = pad_packed_sequence(ref, total_length=T)
    valid = torch.ones(T, B, 1, dtype=DT) if mask is None else mask[:, :, None]
    top = outputs["states#1"] * valid
    torch.testing.assert_close(top, ref)
    weights = torch.randn(T, B, D, dtype=DT)
    ours_params = [x] + [w for t in stack.transitions for w in t.flat_weights]
    grads = torch.autograd.grad((top * weights).sum(), ours_params)
    ref_grads = torch.autograd.grad((ref * weights).sum(), [x, *reference.parameters()])
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_stack_names_dims_skip_connections_and_low_memory():
    stack = RecurrentStack([SimpleRecurrent(dim=D, activation=Tanh()) for _ in range(3)], skip_connections=True,
                           weights_init=IsotropicGaussian(0.3), biases_init=IsotropicGaussian(0.1))
    assert RECURRENTSTACK_SEPARATOR == "#"
    assert stack.apply.sequences == ["inputs", "inputs#1", "inputs#2", "mask"]
    assert stack.apply.states == ["states", "states#1", "states#2"]
    assert [t.name for t in stack.transitions] == ["simplerecurrent", "simplerecurrent#1", "simplerecurrent#2"]
    assert stack.get_dim("states#2") == D
    x = [torch.randn(T, B, D, dtype=DT) for _ in range(3)]
    mask = torch.ones(T, B, dtype=DT)
    mask[3:, 1] = 0
    per_level = stack.apply(inputs=x[0], **{"inputs#1": x[1], "inputs#2": x[2]}, mask=mask)
    low_memory = stack.apply(inputs=x[0], **{"inputs#1": x[1], "inputs#2": x[2]}, mask=mask, low_memory=True)
    for a, b in zip(per_level, low_memory):
        torch.testing.assert_close(a, b)
    # level 1 = SimpleRecurrent over (inputs#1 + fork(states))
    fork_out = stack.forks[0].apply(per_level[0], as_list=True)[0]
    torch.testing.assert_close(per_level[1], stack.transitions[1].apply(inputs=x[1] + fork_out, mask=mask))
    with pytest.raises(ValueError, match="reverse"):
        stack.apply(inputs=x[0], reverse=True)
