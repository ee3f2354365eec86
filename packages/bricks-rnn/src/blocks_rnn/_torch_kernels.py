"""Recurrences that equal PyTorch's own RNN kernels, run on those kernels.

``torch.nn.LSTM``/``GRU``/``RNN`` dispatch to ``torch._VF.lstm``/``gru``/``rnn_tanh``/``rnn_relu`` (cuDNN on a
GPU, the native fused implementation on a CPU). The functions here call the same kernels on time-major inputs
with Blocks' semantics for masks and ``reverse``:

* a mask is a ``(time, batch)`` array of 0/1; where it is 0 the state is *carried over* unchanged (Blocks'
  ``mask * new + (1 - mask) * old``), so the output at a padded step equals the last state before it;
* ``reverse=True`` runs the recurrence from the last step to the first (Blocks reverses the whole sequence,
  mask included, so padding is met first and the initial state is carried over it).

When the mask is a prefix mask (every column is ones followed by zeros, the usual right padding) the kernel
runs on a packed sequence and the carried states are filled in afterwards: the result is exactly Blocks'
semantics. Any other mask (holes, left padding, empty sequences) falls back to a loop over
``torch._VF.<mode>_cell`` with the masked state carry, which is exact as well.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["FUSED_MODES", "fused_recurrence", "prefix_lengths"]

#: Recurrence kinds with a fused PyTorch kernel; each expects ``(w_ih, w_hh, b_ih, b_hh)`` in torch's layout.
FUSED_MODES: tuple[str, ...] = ("lstm", "gru", "rnn_tanh", "rnn_relu")

_CELLS = {
    "lstm": torch._VF.lstm_cell,
    "gru": torch._VF.gru_cell,
    "rnn_tanh": torch._VF.rnn_tanh_cell,
    "rnn_relu": torch._VF.rnn_relu_cell,
}


def prefix_lengths(mask: Tensor) -> Tensor | None:
    """The per-example lengths if ``mask`` is a right-padding mask with non-empty rows, else ``None``.

    Parameters
    ----------
    mask : Tensor
        ``(time, batch)`` mask of zeros and ones.

    Returns
    -------
    Tensor or None
        ``int64`` lengths on the CPU, or ``None`` when the mask has holes, left padding, empty sequences or values
        other than 0 and 1.

    Examples
    --------
    >>> import torch
    >>> prefix_lengths(torch.tensor([[1.0, 1.0], [1.0, 0.0]])).tolist()
    [2, 1]
    >>> prefix_lengths(torch.tensor([[0.0, 1.0], [1.0, 1.0]])) is None
    True
    """
    if mask.dim() != 2:
        raise ValueError(f"mask must be 2-D (time, batch), got shape {tuple(mask.shape)}")
    binary = mask != 0
    if not bool(((mask == 0) | (mask == 1)).all()):
        return None
    lengths = binary.sum(0)
    steps = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1)
    if not bool((binary == (steps < lengths.unsqueeze(0))).all()) or bool((lengths == 0).any()):
        return None
    return lengths.cpu()


def _reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each column of the time-major ``x`` within its length (an involution)."""
    steps = torch.arange(x.shape[0]).unsqueeze(1)
    index = torch.where(steps < lengths.unsqueeze(0), lengths.unsqueeze(0) - 1 - steps, steps).to(x.device)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


def _hidden(mode: str, h0: Tensor, c0: Tensor | None) -> Tensor | tuple[Tensor, Tensor]:
    if mode == "lstm":
        if c0 is None:
            raise ValueError("mode 'lstm' needs initial cells c0")
        return (h0.unsqueeze(0), c0.unsqueeze(0))
    return h0.unsqueeze(0)


def _loop(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, weights: Sequence[Tensor], mask: Tensor | None,
          reverse: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    cell = _CELLS[mode]
    w_ih, w_hh, b_ih, b_hh = weights
    h, c = h0, c0
    outputs: list[Tensor] = [h0] * x.shape[0]
    order = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in order:
        if mode == "lstm":
            h_new, c_new = cell(x[t], (h, c), w_ih, w_hh, b_ih, b_hh)
        else:
            h_new, c_new = cell(x[t], h, w_ih, w_hh, b_ih, b_hh), None
        if mask is not None:
            m = mask[t].unsqueeze(1).to(h_new.dtype)
            h_new = h + m * (h_new - h)
            if c_new is not None:
                c_new = c + m * (c_new - c)
        h, c = h_new, c_new
        outputs[t] = h
    return torch.stack(outputs), h, c


def fused_recurrence(mode: str, x: Tensor, h0: Tensor, weights: Sequence[Tensor], *, c0: Tensor | None = None,
                     mask: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one layer of a torch-equivalent recurrence on PyTorch's fused kernel.

    Parameters
    ----------
    mode : {"lstm", "gru", "rnn_tanh", "rnn_relu"}
        The recurrence, with ``torch.nn.LSTM``/``GRU``/``RNN``'s gate order and equations.
    x : Tensor
        ``(time, batch, input_dim)`` inputs.
    h0 : Tensor
        ``(batch, dim)`` initial state.
    weights : sequence of Tensor
        ``(w_ih, w_hh, b_ih, b_hh)`` in torch's layout (``w_ih`` is ``(gates * dim, input_dim)``).
    c0 : Tensor, optional
        ``(batch, dim)`` initial cells (LSTM only).
    mask : Tensor, optional
        ``(time, batch)`` mask; masked steps carry the state over (Blocks' semantics).
    reverse : bool
        Run from the last step to the first.

    Returns
    -------
    tuple
        ``(outputs, h_last, c_last)``: all states ``(time, batch, dim)``, the final state and the final cells
        (``None`` unless LSTM). "Final" is the state after the whole scan (at step 0 when ``reverse``).

    Examples
    --------
    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4)
    >>> x, h0 = torch.randn(5, 2, 3), torch.zeros(2, 4)
    >>> out, h, c = fused_recurrence("lstm", x, h0, lstm._flat_weights, c0=h0)
    >>> torch.allclose(out, lstm(x)[0])
    True
    """
    if mode not in FUSED_MODES:
        raise ValueError(f"unknown recurrence mode {mode!r}; valid modes are {', '.join(FUSED_MODES)}")
    if x.dim() != 3:
        raise ValueError(f"x must be (time, batch, features), got shape {tuple(x.shape)}")
    weights = list(weights)
    if len(weights) != 4:
        raise ValueError(f"weights must be (w_ih, w_hh, b_ih, b_hh), got {len(weights)} tensors")
    if x.shape[0] == 0:
        return x.new_zeros(0, *h0.shape), h0, c0
    vf = getattr(torch._VF, mode)
    if mask is None:
        if reverse:
            x = x.flip(0)
        result = vf(x, _hidden(mode, h0, c0), weights, True, 1, 0.0, False, False, False)
        out = result[0].flip(0) if reverse else result[0]
        if mode == "lstm":
            return out, result[1][0], result[2][0]
        return out, result[1][0], None
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape (time, batch) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    lengths = prefix_lengths(mask)
    if lengths is None:
        return _loop(mode, x, h0, c0, weights, mask, reverse)
    if reverse:
        x = _reverse_within(x, lengths)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    hidden = _hidden(mode, h0.index_select(0, order), None if c0 is None else c0.index_select(0, order))
    result = vf(packed.data, packed.batch_sizes, hidden, weights, True, 1, 0.0, False, False)
    out_packed = packed._replace(data=result[0])
    out, _ = pad_packed_sequence(out_packed, total_length=x.shape[0])
    h_last = result[1][0].index_select(0, unorder)
    c_last = result[2][0].index_select(0, unorder) if mode == "lstm" else None
    if reverse:
        out = _reverse_within(out, lengths)
    fill = (h0 if reverse else h_last).unsqueeze(0)
    out = torch.where(mask.unsqueeze(2) != 0, out, fill)
    return out, h_last, c_last
