"""The beam search loop itself, independent of bricks and graphs (Blocks' ``BeamSearch.search`` algorithm).

The model is given as three callables over a *beam* axis (axis 0 of every state; the user duplicates the
inputs to the beam size, as in Blocks): the initial states, the log-probabilities of the next output given the
states, and the states after emitting chosen outputs. Costs are negative log-likelihoods; the beam keeps the
``beam_size`` cheapest prefixes; a finished hypothesis (it emitted ``eol_symbol``) can only be extended by
``eol_symbol`` at no cost, so it keeps its place while it is among the best.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

__all__ = ["run_beam_search", "result_to_lists", "smallest"]

States = dict[str, Tensor]


def smallest(costs: Tensor, k: int, only_first_row: bool = False) -> tuple[tuple[Tensor, Tensor], Tensor]:
    """The ``k`` smallest entries of a 2-D ``costs`` array: ``((rows, columns), values)``, cheapest first.

    Parameters
    ----------
    costs : Tensor
        ``(beam, vocabulary)`` costs.
    k : int
        How many entries to return.
    only_first_row : bool
        Look at the first row only (the first step, when every row is the same hypothesis).

    Examples
    --------
    >>> import torch
    >>> (rows, cols), values = smallest(torch.tensor([[3.0, 1.0], [0.5, 2.0]]), 2)
    >>> rows.tolist(), cols.tolist(), values.tolist()
    ([1, 0], [0, 1], [0.5, 1.0])
    """
    if only_first_row:
        flat = costs[:1].reshape(-1)
    else:
        flat = costs.reshape(-1)
    values, positions = torch.topk(flat, min(k, flat.numel()), largest=False, sorted=True)
    width = costs.shape[1]
    return (torch.div(positions, width, rounding_mode="floor"), positions % width), values


def run_beam_search(initial_states: States, logprobs: Callable[[States], Tensor],
                    next_states: Callable[[States, Tensor], States], eol_symbol: int, max_length: int,
                    ignore_first_eol: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Run beam search; the beam size is the size of axis 0 of the states.

    Parameters
    ----------
    initial_states : dict of str to Tensor
        States before the first output, including ``"outputs"`` (the initial outputs, ``(beam,)``).
    logprobs : callable
        ``logprobs(states) -> (beam, vocabulary)`` log-probabilities of the next output.
    next_states : callable
        ``next_states(states, outputs) -> states`` after emitting ``outputs`` (``(beam,)``); must include
        ``"outputs"``.
    eol_symbol : int
        The end-of-sequence output.
    max_length : int
        The maximum number of outputs.
    ignore_first_eol : bool
        Do not end hypotheses that emit ``eol_symbol`` at the first step.

    Returns
    -------
    tuple of Tensor
        ``(outputs, masks, costs)``, each ``(time, beam)``; ``costs`` are per-step negative log-likelihoods.
        Hypotheses are sorted by total cost, cheapest first. When the beam is wider than the number of
        hypotheses (a beam wider than the vocabulary at the first step), the empty slots have infinite cost.

    Examples
    --------
    >>> import torch
    >>> table = torch.log(torch.tensor([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]]))  # rows: previous output 0 or 1/2
    >>> def lp(states):
    ...     return table[(states["outputs"] != 0).long()]
    >>> out, mask, cost = run_beam_search({"outputs": torch.zeros(2, dtype=torch.long)}, lp,
    ...                                   lambda s, o: {"outputs": o}, eol_symbol=0, max_length=3)
    >>> out[:, 0].tolist(), mask[:, 0].tolist()
    ([1, 0], [1.0, 1.0])
    """
    if max_length < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length}")
    states = dict(initial_states)
    if "outputs" not in states:
        raise ValueError(f"the initial states must include 'outputs', got {sorted(states)}")
    first = states["outputs"]
    beam = first.shape[0]
    all_outputs = first[None].clone()
    all_masks = torch.ones(1, beam, dtype=torch.float64, device=first.device)
    all_costs = torch.zeros(1, beam, dtype=torch.float64, device=first.device)
    for step in range(max_length):
        if not bool(all_masks[-1].any()):
            break
        log_p = logprobs(states).to(torch.float64)
        next_costs = all_costs[-1, :, None] - log_p * all_masks[-1, :, None]
        finished = all_masks[-1] == 0
        if bool(finished.any()):
            block = torch.full_like(next_costs[0], math.inf)
            block[eol_symbol] = 0.0
            next_costs[finished] = all_costs[-1, finished, None] + block
        if step == 0:  # every row is the same empty hypothesis: extend the first one only
            next_costs[1:] = math.inf
        (rows, outputs), chosen = smallest(next_costs, beam)
        states = {name: value.index_select(0, rows.to(value.device)) for name, value in states.items()}
        all_outputs = all_outputs[:, rows]
        all_masks = all_masks[:, rows]
        all_costs = all_costs[:, rows]
        outputs = outputs.to(first.dtype)
        states = dict(next_states(states, outputs))
        all_outputs = torch.cat([all_outputs, outputs[None]])
        all_costs = torch.cat([all_costs, chosen[None]])
        mask = (outputs != eol_symbol).to(torch.float64)
        if ignore_first_eol and step == 0:
            mask[:] = 1
        mask[~torch.isfinite(chosen)] = 0  # empty slots of a beam wider than the hypotheses end at once
        all_masks = torch.cat([all_masks, mask[None]])
    return all_outputs[1:], all_masks[:-1], all_costs[1:] - all_costs[:-1]


def result_to_lists(result: tuple[Tensor, Tensor, Tensor]) -> tuple[list[list[int]], list[float]]:
    """Turn ``(outputs, masks, costs)`` into lists of outputs (without padding) and total costs.

    Empty beam slots (infinite cost) are left out.

    Examples
    --------
    >>> import torch
    >>> outs = torch.tensor([[1, 2], [0, 0]])
    >>> masks = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    >>> result_to_lists((outs, masks, torch.tensor([[0.5, 1.0], [0.25, 0.0]])))
    ([[1, 0], [2]], [0.75, 1.0])
    """
    outputs, masks, costs = result
    lengths = masks.sum(0).long().tolist()
    totals = torch.where(masks > 0, costs, torch.zeros_like(costs)).sum(0).tolist()
    keep = [i for i, total in enumerate(totals) if math.isfinite(total)]
    return [outputs[:lengths[i], i].tolist() for i in keep], [totals[i] for i in keep]
