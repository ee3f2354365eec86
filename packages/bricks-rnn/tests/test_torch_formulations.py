"""GatedRecurrent and LSTM are Blocks' formulations, not torch.nn.GRU/LSTM: they say so and name the Torch bricks."""

from __future__ import annotations

import torch

from blocks.initialization import Constant
from blocks_rnn import LSTM, GatedRecurrent


def test_the_docstrings_say_which_brick_is_torchs():
    assert "Not** ``torch.nn.GRU``" in GatedRecurrent.__doc__ and ":class:`TorchGRU`" in GatedRecurrent.__doc__
    assert "Not** ``torch.nn.LSTM``" in LSTM.__doc__ and ":class:`TorchLSTM`" in LSTM.__doc__


def test_gated_recurrent_is_not_torch_gru_even_with_its_weights():
    torch.manual_seed(0)
    dim = 3
    reference = torch.nn.GRU(dim, dim, bias=False)
    w_ir, w_iz, w_in = reference.weight_ih_l0.detach().chunk(3)
    w_hr, w_hz, w_hn = reference.weight_hh_l0.detach().chunk(3)
    gru = GatedRecurrent(dim=dim, weights_init=Constant(0.0))
    gru.initialize()
    # the same gates in Blocks' layout, (update, reset) and x · W; Blocks' update gate weighs the new state,
    # torch's the old one: sigmoid(-a) = 1 - sigmoid(a)
    with torch.no_grad():
        gru.state_to_gates.copy_(torch.cat([-w_hz.T, w_hr.T], dim=1))
        gru.state_to_state.copy_(w_hn.T)
        gru.initial_state.zero_()
    x = torch.randn(4, 2, dim)
    ours = gru.apply(inputs=x @ w_in.T, gate_inputs=torch.cat([-x @ w_iz.T, x @ w_ir.T], dim=-1))
    theirs = reference(x)[0]
    # one step agrees (the state starts at 0, where the reset gate's place does not matter) ...
    torch.testing.assert_close(ours[0], theirs[0])
    # ... then r * (h · U) and (r * h) · U part ways
    assert (ours[1:] - theirs[1:]).abs().max() > 1e-3
