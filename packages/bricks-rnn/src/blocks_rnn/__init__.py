"""Recurrent bricks, attention, sequence generators and beam search for Blocks on PyTorch.

SimpleRecurrent, LSTM, GatedRecurrent (Blocks' formulations, on BPTT kernels), TorchRNN/TorchLSTM/TorchGRU
(``torch.nn``'s formulations, on PyTorch's fused kernels), Bidirectional, RecurrentStack, attention, sequence
generators and BeamSearch.

Importing the package is cheap (the plugin module is loaded by ``blocks --help``): the bricks are imported on
first access.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from fuel.utils.lazy import Exports

EXPORTS = Exports(__name__, [
    # attribute, module[, registry, registry name]
    ("BaseRecurrent",               "._recurrent"),
    ("recurrent",                   "._recurrent"),
    ("SimpleRecurrent",             "._simple",              "bricks", "simple_recurrent"),
    ("TorchRNN",                    "._simple",              "bricks", "torch_rnn"),
    ("LSTM",                        "._lstm",                "bricks", "lstm"),
    ("TorchLSTM",                   "._lstm",                "bricks", "torch_lstm"),
    ("GatedRecurrent",              "._gru",                 "bricks", "gated_recurrent"),
    ("TorchGRU",                    "._gru",                 "bricks", "torch_gru"),
    ("Bidirectional",               "._bidirectional",       "bricks", "bidirectional"),
    ("RecurrentStack",              "._stack",               "bricks", "recurrent_stack"),
    ("RECURRENTSTACK_SEPARATOR",    "._stack"),
    ("AbstractAttention",           "._attention"),
    ("GenericSequenceAttention",    "._attention"),
    ("SequenceContentAttention",    "._attention",           "bricks", "sequence_content_attention"),
    ("ShallowEnergyComputer",       "._attention",           "bricks", "shallow_energy_computer"),
    ("AbstractAttentionRecurrent",  "._attention_recurrent"),
    ("AttentionRecurrent",          "._attention_recurrent", "bricks", "attention_recurrent"),
    ("FakeAttentionRecurrent",      "._attention_recurrent", "bricks", "fake_attention_recurrent"),
    ("AbstractReadout",             "._readout"),
    ("Readout",                     "._readout",             "bricks", "readout"),
    ("AbstractEmitter",             "._readout"),
    ("TrivialEmitter",              "._readout",             "bricks", "trivial_emitter"),
    ("SoftmaxEmitter",              "._readout",             "bricks", "softmax_emitter"),
    ("AbstractFeedback",            "._readout"),
    ("TrivialFeedback",             "._readout",             "bricks", "trivial_feedback"),
    ("LookupFeedback",              "._readout",             "bricks", "lookup_feedback"),
    ("BaseSequenceGenerator",       "._sequence_generators"),
    ("SequenceGenerator",           "._sequence_generators", "bricks", "sequence_generator"),
    ("BeamSearch",                  "._beam_search"),
], eager=["__version__"])
"""The package's one table: its public names, imported on first use, and the registry name of each brick
(:mod:`fuel.utils.lazy`); the plugin registers from it."""

__getattr__, __dir__, __all__ = EXPORTS.module_attributes()

try:
    __version__ = _metadata.version("blocks-bricks-rnn")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"

