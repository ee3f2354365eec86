"""Recurrent bricks, attention, sequence generators and beam search for Blocks on PyTorch.

SimpleRecurrent, LSTM, GatedRecurrent (Blocks' formulations, on BPTT kernels), TorchRNN/TorchLSTM/TorchGRU
(``torch.nn``'s formulations, on PyTorch's fused kernels), Bidirectional, RecurrentStack, attention, sequence
generators and BeamSearch.

Importing the package is cheap (the plugin module is loaded by ``blocks --help``): the bricks are imported on
first access.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import Any

#: Public name -> defining module (lazy imports).
_EXPORTS = {
    "BaseRecurrent": "_recurrent",
    "recurrent": "_recurrent",
    "SimpleRecurrent": "_simple",
    "TorchRNN": "_simple",
    "LSTM": "_lstm",
    "TorchLSTM": "_lstm",
    "GatedRecurrent": "_gru",
    "TorchGRU": "_gru",
    "Bidirectional": "_bidirectional",
    "RecurrentStack": "_stack",
    "RECURRENTSTACK_SEPARATOR": "_stack",
    "AbstractAttention": "_attention",
    "GenericSequenceAttention": "_attention",
    "SequenceContentAttention": "_attention",
    "ShallowEnergyComputer": "_attention",
    "AbstractAttentionRecurrent": "_attention_recurrent",
    "AttentionRecurrent": "_attention_recurrent",
    "FakeAttentionRecurrent": "_attention_recurrent",
    "AbstractReadout": "_readout",
    "Readout": "_readout",
    "AbstractEmitter": "_readout",
    "TrivialEmitter": "_readout",
    "SoftmaxEmitter": "_readout",
    "AbstractFeedback": "_readout",
    "TrivialFeedback": "_readout",
    "LookupFeedback": "_readout",
    "BaseSequenceGenerator": "_sequence_generators",
    "SequenceGenerator": "_sequence_generators",
    "BeamSearch": "_beam_search",
}

__all__ = sorted([*_EXPORTS, "__version__"])

try:
    __version__ = _metadata.version("blocks-bricks-rnn")
except _metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'blocks_rnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"blocks_rnn.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
