"""Hook implementations of blocks-bricks-rnn (entry point ``blocks-bricks-rnn`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from typing import Any, Callable

from blocks import hookimpl

__all__ = ["BRICKS", "register_bricks"]

#: Registry name -> lazy ``"module:attribute"`` of every brick of this package.
BRICKS: dict[str, str] = {
    "simple_recurrent": "blocks_rnn._simple:SimpleRecurrent",
    "torch_rnn": "blocks_rnn._simple:TorchRNN",
    "lstm": "blocks_rnn._lstm:LSTM",
    "torch_lstm": "blocks_rnn._lstm:TorchLSTM",
    "gated_recurrent": "blocks_rnn._gru:GatedRecurrent",
    "torch_gru": "blocks_rnn._gru:TorchGRU",
    "bidirectional": "blocks_rnn._bidirectional:Bidirectional",
    "recurrent_stack": "blocks_rnn._stack:RecurrentStack",
    "sequence_content_attention": "blocks_rnn._attention:SequenceContentAttention",
    "shallow_energy_computer": "blocks_rnn._attention:ShallowEnergyComputer",
    "attention_recurrent": "blocks_rnn._attention_recurrent:AttentionRecurrent",
    "fake_attention_recurrent": "blocks_rnn._attention_recurrent:FakeAttentionRecurrent",
    "readout": "blocks_rnn._readout:Readout",
    "softmax_emitter": "blocks_rnn._readout:SoftmaxEmitter",
    "trivial_emitter": "blocks_rnn._readout:TrivialEmitter",
    "lookup_feedback": "blocks_rnn._readout:LookupFeedback",
    "trivial_feedback": "blocks_rnn._readout:TrivialFeedback",
    "sequence_generator": "blocks_rnn._sequence_generators:SequenceGenerator",
}


@hookimpl
def register_bricks(register: Callable[..., Any]) -> None:
    """Register the recurrent bricks, attention, sequence generators and their parts.

    Examples
    --------
    >>> names = []
    >>> register_bricks(lambda name, target: names.append(name))
    >>> "lstm" in names and "sequence_generator" in names
    True
    """
    for name, target in BRICKS.items():
        register(name, target)
