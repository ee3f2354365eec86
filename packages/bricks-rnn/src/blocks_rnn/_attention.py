"""Attention: AbstractAttention, GenericSequenceAttention, SequenceContentAttention, ShallowEnergyComputer.

Attended sequences are time-major ``(time, batch, dim)``; ``attended_mask`` is ``(time, batch)``. Glimpses
are ``weighted_averages`` ``(batch, attended_dim)`` and ``weights`` ``(batch, time)`` (Blocks' layout).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor

from blocks.bricks import Brick, Feedforward, Initializable, Linear, Sequence, Tanh, application, lazy
from blocks.graph import Variable, call

__all__ = [
    "AbstractAttention",
    "GenericSequenceAttention",
    "SequenceContentAttention",
    "ShallowEnergyComputer",
    "masked_softmax",
]


def masked_softmax(energies: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over axis 0 of ``energies`` ``(time, batch)`` where ``mask`` is 1 (weights sum to one per column).

    A column whose mask is all zeros gets all-zero weights (Blocks' guard against dividing by zero).

    Examples
    --------
    >>> import torch
    >>> masked_softmax(torch.zeros(3, 1), torch.tensor([[1.0], [1.0], [0.0]])).view(-1).tolist()
    [0.5, 0.5, 0.0]
    """
    energies = energies - energies.max(dim=0, keepdim=True).values
    unnormalized = torch.exp(energies)
    if mask is None:
        return unnormalized / unnormalized.sum(dim=0)
    unnormalized = unnormalized * mask.to(unnormalized.dtype)
    empty = (mask == 0).all(dim=0).to(unnormalized.dtype)
    return unnormalized / (unnormalized.sum(dim=0) + empty)


def _weighted_averages(weights: Tensor, attended: Tensor) -> Tensor:
    return (weights.unsqueeze(-1) * attended).sum(dim=0)


def _run(function: Any, *args: Any) -> Any:
    if any(isinstance(a, Variable) for a in args):
        return call(function, *args)
    return function(*args)


class AbstractAttention(Brick):
    """The common interface of attention bricks (Blocks' ``AbstractAttention``).

    Parameters
    ----------
    state_names : list of str
        The states of the recurrent transition the attention looks from.
    state_dims : list of int
        Their dimensions (lazy; pushed by :class:`~blocks_rnn.AttentionRecurrent`).
    attended_dim : int
        The dimension of the attended sequence (lazy).

    Notes
    -----
    Subclasses implement ``take_glimpses(attended, preprocessed_attended=None, attended_mask=None, **states)``
    and ``initial_glimpses(batch_size, attended)``; ``preprocess(attended)`` is run once per sequence.

    Examples
    --------
    >>> att = SequenceContentAttention(state_names=["states"], state_dims=[4], attended_dim=5, match_dim=3)
    >>> att.get_dim("attended"), att.get_dim("attended_mask")
    (5, 0)
    """

    @lazy(allocation=["state_names", "state_dims", "attended_dim"])
    def __init__(self, state_names: list[str], state_dims: list[int], attended_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state_names = state_names
        self.state_dims = state_dims
        self.attended_dim = attended_dim

    @application(inputs=["attended"], outputs=["preprocessed_attended"])
    def preprocess(self, attended: Any) -> Any:
        """Preprocess the attended sequence once (identity by default)."""
        return attended

    @abstractmethod
    def take_glimpses(self, attended: Any, preprocessed_attended: Any = None, attended_mask: Any = None,
                      **states: Any) -> Any:
        """The glimpses for the current states."""

    @abstractmethod
    def initial_glimpses(self, batch_size: Any, attended: Any) -> Any:
        """The glimpses before the first step."""

    def get_dim(self, name: str) -> Any:
        if name in ("attended", "preprocessed_attended"):
            return self.attended_dim
        if name == "attended_mask":
            return 0
        return super().get_dim(name)


class GenericSequenceAttention(AbstractAttention):
    """Attention over a sequence: masked softmax weights and weighted averages (Blocks' helpers).

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> att = SequenceContentAttention(state_names=["states"], state_dims=[2], attended_dim=2, match_dim=2,
    ...                                weights_init=Constant(0.1), biases_init=Constant(0))
    >>> att.compute_weights(torch.zeros(2, 1), torch.ones(2, 1)).view(-1).tolist()
    [0.5, 0.5]
    """

    @application
    def compute_weights(self, energies: Any, attended_mask: Any) -> Any:
        """Softmax of ``energies`` over time where ``attended_mask`` is 1."""
        return _run(masked_softmax, energies, attended_mask)

    @application
    def compute_weighted_averages(self, weights: Any, attended: Any) -> Any:
        """``sum_t weights[t] * attended[t]``."""
        return _run(_weighted_averages, weights, attended)


class ShallowEnergyComputer(Sequence, Initializable, Feedforward):
    """``tanh`` followed by a one-unit ``Linear`` without bias: the energy of Bahdanau's attention.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> energy = ShallowEnergyComputer(input_dim=3, output_dim=1, weights_init=Constant(1.0))
    >>> energy.apply(torch.zeros(2, 3)).view(-1).tolist()
    [0.0, 0.0]
    """

    @lazy()
    def __init__(self, input_dim: int | None = None, output_dim: int | None = None, **kwargs: Any) -> None:
        linear = Linear(use_bias=False)
        super().__init__([Tanh().apply, linear.apply], **kwargs)
        if input_dim is not None:
            linear.input_dim = input_dim
        if output_dim is not None:
            linear.output_dim = output_dim

    @property
    def input_dim(self) -> Any:
        return self.children[1].input_dim

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        self.children[1].input_dim = value

    @property
    def output_dim(self) -> Any:
        return self.children[1].output_dim

    @output_dim.setter
    def output_dim(self, value: Any) -> None:
        self.children[1].output_dim = value


class SequenceContentAttention(GenericSequenceAttention, Initializable):
    """Bahdanau's content-based attention (Blocks' ``SequenceContentAttention``).

    ``energies = energy_computer(attended_transformer(attended) + sum(state_transformers(states)))``; the
    weights are the masked softmax of the energies over time; the glimpses are ``weighted_averages`` of the
    attended sequence and the ``weights``.

    Parameters
    ----------
    match_dim : int
        The dimension of the match vectors (lazy).
    state_transformer : Feedforward, optional
        Prototype of the transforms of the states (default ``Linear(use_bias=False)``), one per state name
        (children ``state_trans_<name>``, under ``state_trans``).
    attended_transformer : Feedforward, optional
        Default ``Linear(name="preprocess")``.
    energy_computer : Feedforward, optional
        Default ``ShallowEnergyComputer(name="energy_comp")``.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> att = SequenceContentAttention(state_names=["states"], state_dims=[4], attended_dim=5, match_dim=3,
    ...                                weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> attended, mask = torch.randn(7, 2, 5), torch.ones(7, 2)
    >>> averages, weights = att.take_glimpses(attended, attended_mask=mask, states=torch.randn(2, 4))
    >>> tuple(averages.shape), tuple(weights.shape), torch.allclose(weights.sum(1), torch.ones(2))
    ((2, 5), (2, 7), True)
    """

    @lazy(allocation=["match_dim"])
    def __init__(self, match_dim: int, state_transformer: Any = None, attended_transformer: Any = None,
                 energy_computer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from blocks.bricks.parallel import Parallel

        if not state_transformer:
            state_transformer = Linear(use_bias=False)
        if not attended_transformer:
            attended_transformer = Linear(name="preprocess")
        if not energy_computer:
            energy_computer = ShallowEnergyComputer(name="energy_comp")
        self.match_dim = match_dim
        self.state_transformer = state_transformer
        self.state_transformers = Parallel(input_names=self.state_names, prototype=state_transformer,
                                           name="state_trans")
        self.attended_transformer = attended_transformer
        self.energy_computer = energy_computer
        self.children = [self.state_transformers, attended_transformer, energy_computer]

    def _push_allocation_config(self) -> None:
        self.state_transformers.input_names = self.state_names
        self.state_transformers.input_dims = self.state_dims
        self.state_transformers.output_dims = [self.match_dim for _ in self.state_names]
        self.attended_transformer.input_dim = self.attended_dim
        self.attended_transformer.output_dim = self.match_dim
        self.energy_computer.input_dim = self.match_dim
        self.energy_computer.output_dim = 1

    @application
    def compute_energies(self, attended: Any, preprocessed_attended: Any, states: dict[str, Any]) -> Any:
        """Energies ``(time, batch)`` of every attended position for the given states."""
        if preprocessed_attended is None:
            preprocessed_attended = self.preprocess(attended)
        transformed_states = self.state_transformers.apply(as_dict=True, **states)
        match_vectors = preprocessed_attended
        for value in transformed_states.values():
            match_vectors = match_vectors + value
        energies = self.energy_computer.apply(match_vectors)
        return energies.squeeze(-1)

    @application(outputs=["weighted_averages", "weights"])
    def take_glimpses(self, attended: Any, preprocessed_attended: Any = None, attended_mask: Any = None,
                      **states: Any) -> Any:
        """``weighted_averages`` ``(batch, attended_dim)`` and ``weights`` ``(batch, time)``."""
        energies = self.compute_energies(attended, preprocessed_attended, states)
        weights = self.compute_weights(energies, attended_mask)
        weighted_averages = self.compute_weighted_averages(weights, attended)
        return weighted_averages, weights.t()

    @take_glimpses.property("inputs")
    def take_glimpses_inputs(self) -> list[str]:
        return ["attended", "preprocessed_attended", "attended_mask"] + list(self.state_names)

    @application(outputs=["weighted_averages", "weights"])
    def initial_glimpses(self, batch_size: Any, attended: Any) -> Any:
        """Zero glimpses."""
        return [attended.new_zeros(batch_size, self.attended_dim), attended.new_zeros(batch_size, attended.shape[0])]

    @application(inputs=["attended"], outputs=["preprocessed_attended"])
    def preprocess(self, attended: Any) -> Any:
        """The attended sequence through ``attended_transformer`` (once per sequence)."""
        return self.attended_transformer.apply(attended)

    def get_dim(self, name: str) -> Any:
        if name == "weighted_averages":
            return self.attended_dim
        if name == "weights":
            return 0
        return super().get_dim(name)
