"""A value inside a recurrent step, monitored on a data stream: the mean forget-gate activation of an LSTM.

``expose_inner`` turns the forget gate of the LSTM's step (found by ``call_id`` in ``cg.scan_variables``) into an
outer variable holding its value at every step; ``DataStreamMonitoring`` evaluates its mean over an epoch,
beside the cost, in one pass per batch. The reference is the same LSTM written by hand over the whole data.
"""

from __future__ import annotations

import torch

from blocks.bricks import Linear
from blocks.config import config
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, expose_inner, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import OUTPUT
from blocks_extensions.monitoring import DataStreamMonitoring
from blocks_rnn import LSTM
from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme
from fuel.streams import DataStream

N, T, F, D = 8, 5, 3, 4


def _forget_gates(fork, lstm, x):
    """Every forget-gate activation of the LSTM over ``x`` (batch-major), by hand."""
    inputs = (x @ fork.W + fork.b).transpose(0, 1)
    h = torch.zeros(x.shape[0], D, dtype=x.dtype)
    c = torch.zeros_like(h)
    gates = []
    for t in range(T):
        a = h @ lstm.W_state + inputs[t]
        i = torch.sigmoid(a[:, :D] + c * lstm.W_cell_to_in)
        f = torch.sigmoid(a[:, D:2 * D] + c * lstm.W_cell_to_forget)
        c = f * c + i * torch.tanh(a[:, 2 * D:3 * D])
        h = torch.sigmoid(a[:, 3 * D:] + c * lstm.W_cell_to_out) * torch.tanh(c)
        gates.append(f)
    return torch.stack(gates)


def test_mean_forget_gate_through_data_stream_monitoring():
    with config.override(floatX="float64"):
        fork = Linear(F, 4 * D, name="fork", weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1))
        lstm = LSTM(dim=D, name="lstm", weights_init=IsotropicGaussian(0.5))
        x = tensor3("x")
        states, _ = lstm.apply(fork.apply(x).transpose(0, 1))
        cost = (states ** 2).mean()
        cost.name = "cost"
        cg = ComputationGraph([cost])
        (forget,) = VariableFilter(roles=[OUTPUT], bricks=[lstm.gate_activation], call_id="forget_gate")(
            cg.scan_variables)
        monitored_cg, (forget_over_time,) = expose_inner(cg, [forget])
        mean_forget = forget_over_time.mean()
        mean_forget.name = "mean_forget_gate"
        data = torch.randn(N, T, F, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        stream = DataStream(IndexableDataset({"x": data.numpy()}), iteration_scheme=SequentialScheme(N, N // 2))
        monitor = DataStreamMonitoring([monitored_cg.outputs[0], mean_forget], stream, prefix="valid")
        values = monitor.evaluate()
        with torch.no_grad():
            expected = _forget_gates(fork, lstm, data).mean().item()
            plain_cost = ComputationGraph([cost]).compile()({"x": data})[0].item()
    assert abs(values["mean_forget_gate"] - expected) < 1e-12
    assert abs(values["cost"] - plain_cost) < 1e-12  # the exposed graph computes the same cost
