"""Readouts, emitters and feedbacks of sequence generators (Blocks' ``sequence_generators.py``, first half)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch

from blocks.bricks import (
    Bias,
    Brick,
    Initializable,
    LookupTable,
    NoneAllocation,
    Random,
    Softmax,
    application,
    lazy,
)
from blocks.graph import Variable, call
from blocks_rnn._device import reference_tensor, zeros_like_brick

__all__ = [
    "AbstractEmitter",
    "AbstractFeedback",
    "AbstractReadout",
    "LookupFeedback",
    "Readout",
    "SoftmaxEmitter",
    "TrivialEmitter",
    "TrivialFeedback",
]


def _run(function: Any, *args: Any) -> Any:
    if any(isinstance(a, Variable) for a in args):
        return call(function, *args)
    return function(*args)


class AbstractEmitter(Brick):
    """Turns readouts into outputs: ``emit`` (sample), ``cost`` (of given outputs), ``initial_outputs``.

    Examples
    --------
    >>> issubclass(SoftmaxEmitter, AbstractEmitter), issubclass(TrivialEmitter, AbstractEmitter)
    (True, True)
    """

    @abstractmethod
    def emit(self, readouts: Any) -> Any:
        """Outputs generated from ``readouts``."""

    @abstractmethod
    def cost(self, readouts: Any, outputs: Any) -> Any:
        """The cost of ``outputs`` given ``readouts`` (per element)."""

    @abstractmethod
    def initial_outputs(self, batch_size: Any) -> Any:
        """The outputs fed back before the first step."""


class AbstractFeedback(Brick):
    """Turns outputs into the feedback of the next step (``feedback``).

    Examples
    --------
    >>> issubclass(LookupFeedback, AbstractFeedback), issubclass(TrivialFeedback, AbstractFeedback)
    (True, True)
    """

    @abstractmethod
    def feedback(self, outputs: Any) -> Any:
        """The feedback of ``outputs``."""


class TrivialEmitter(AbstractEmitter):
    """Emit the readouts themselves; the cost is the squared error (Blocks' ``TrivialEmitter``).

    Parameters
    ----------
    readout_dim : int
        The dimension of readouts and outputs (lazy).

    Examples
    --------
    >>> import torch
    >>> emitter = TrivialEmitter(readout_dim=2)
    >>> emitter.cost(torch.ones(3, 2), torch.zeros(3, 2)).tolist()
    [2.0, 2.0, 2.0]
    """

    @lazy(allocation=["readout_dim"])
    def __init__(self, readout_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.readout_dim = readout_dim

    @application
    def emit(self, readouts: Any) -> Any:
        """The readouts."""
        return readouts

    @application
    def cost(self, readouts: Any, outputs: Any) -> Any:
        """Squared distance of ``outputs`` to ``readouts`` summed over the last axis."""
        return ((readouts - outputs) ** 2).sum(dim=-1)

    @application
    def initial_outputs(self, batch_size: Any) -> Any:
        """Zeros ``(batch_size, readout_dim)``."""
        return _run(self._zero_outputs, batch_size, self.readout_dim)

    def _zero_outputs(self, batch_size: Any, dim: int) -> torch.Tensor:
        return zeros_like_brick(self, batch_size, (dim,))

    def get_dim(self, name: str) -> Any:
        if name == "outputs":
            return self.readout_dim
        return super().get_dim(name)


def _sample(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


class SoftmaxEmitter(AbstractEmitter, Initializable, Random):
    """Emit integers sampled from the softmax of the readouts; the cost is the cross-entropy.

    Parameters
    ----------
    initial_output : int
        The output fed back before the first step (default 0).

    Notes
    -----
    ``probs(readouts)`` and ``log_probs(readouts)`` (stable) are the output distribution (used by
    :class:`~blocks_rnn.BeamSearch`). Sampling uses the brick's seeded ``torch.Generator``.

    Examples
    --------
    >>> import torch
    >>> emitter = SoftmaxEmitter(seed=1)
    >>> emitter.emit(torch.tensor([[0.0, 50.0], [50.0, 0.0]])).tolist()
    [1, 0]
    >>> round(emitter.cost(torch.zeros(1, 2), torch.tensor([1])).item(), 4)
    0.6931
    """

    def __init__(self, initial_output: int = 0, **kwargs: Any) -> None:
        self.softmax = Softmax()
        children = [self.softmax] + list(kwargs.pop("children", []) or [])
        super().__init__(children=children, **kwargs)
        self.initial_output = initial_output

    @application
    def probs(self, readouts: Any) -> Any:
        """Softmax of the readouts over the last axis."""
        return self.softmax.apply(readouts)

    @application
    def log_probs(self, readouts: Any) -> Any:
        """Log-softmax of the readouts over the last axis."""
        return self.softmax.log_probabilities(readouts)

    @application
    def emit(self, readouts: Any) -> Any:
        """Samples from ``probs(readouts)``."""
        probs = self.probs(readouts)
        if isinstance(probs, Variable):  # the generator of the device the graph runs on
            return call(self._sample_on_device, probs)
        return self._sample_on_device(probs)

    def _sample_on_device(self, probs: torch.Tensor) -> torch.Tensor:
        return _sample(probs, self.generator(probs.device))

    @application
    def cost(self, readouts: Any, outputs: Any) -> Any:
        """Cross-entropy of the integer ``outputs`` given the pre-softmax ``readouts``."""
        return self.softmax.categorical_cross_entropy(outputs, readouts)

    @application
    def initial_outputs(self, batch_size: Any) -> Any:
        """``initial_output`` for every sequence (``int64``)."""
        return _run(self._constant_outputs, batch_size, self.initial_output)

    def _constant_outputs(self, batch_size: Any, value: int) -> torch.Tensor:
        reference = reference_tensor(self)
        device = reference.device if reference is not None else None
        return torch.full((int(batch_size),), int(value), dtype=torch.int64, device=device)

    def get_dim(self, name: str) -> Any:
        if name == "outputs":
            return 0
        return super().get_dim(name)


class TrivialFeedback(AbstractFeedback):
    """Feed the outputs back as they are.

    Examples
    --------
    >>> import torch
    >>> TrivialFeedback(output_dim=2).feedback(torch.ones(1, 2)).tolist()
    [[1.0, 1.0]]
    """

    @lazy(allocation=["output_dim"])
    def __init__(self, output_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dim = output_dim

    @application(outputs=["feedback"])
    def feedback(self, outputs: Any) -> Any:
        """The outputs."""
        return outputs

    def get_dim(self, name: str) -> Any:
        if name == "feedback":
            return self.output_dim
        return super().get_dim(name)


class LookupFeedback(AbstractFeedback, Initializable):
    """Feed back the embedding of integer outputs (a :class:`~blocks.bricks.LookupTable` child ``lookuptable``).

    Parameters
    ----------
    num_outputs : int
        The number of distinct outputs.
    feedback_dim : int
        The embedding dimension.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> fb = LookupFeedback(num_outputs=3, feedback_dim=2, weights_init=Constant(1.0))
    >>> tuple(fb.feedback(torch.tensor([0, 2])).shape)
    (2, 2)
    """

    def __init__(self, num_outputs: int | None = None, feedback_dim: int | None = None, **kwargs: Any) -> None:
        self.lookup = LookupTable(num_outputs, feedback_dim)
        children = [self.lookup] + list(kwargs.pop("children", []) or [])
        super().__init__(children=children, **kwargs)
        self.num_outputs = num_outputs
        self.feedback_dim = feedback_dim

    def _push_allocation_config(self) -> None:
        self.lookup.length = self.num_outputs
        self.lookup.dim = self.feedback_dim

    @application(outputs=["feedback"])
    def feedback(self, outputs: Any) -> Any:
        """The embeddings of ``outputs``."""
        return self.lookup.apply(outputs)

    def get_dim(self, name: str) -> Any:
        if name == "feedback":
            return self.feedback_dim
        return super().get_dim(name)


class AbstractReadout(Initializable):
    """Computes readouts from the states, glimpses and contexts of a sequence generator.

    Parameters
    ----------
    source_names : list of str
        The states/glimpses/contexts (and ``feedback``) the readout is computed from.
    readout_dim : int
        The dimension of the readouts.

    Examples
    --------
    >>> issubclass(Readout, AbstractReadout)
    True
    """

    @lazy(allocation=["source_names", "readout_dim"])
    def __init__(self, source_names: list[str], readout_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_names = source_names
        self.readout_dim = readout_dim

    @abstractmethod
    def emit(self, readouts: Any) -> Any:
        """Outputs from readouts."""

    @abstractmethod
    def cost(self, readouts: Any, outputs: Any) -> Any:
        """The cost of outputs given readouts."""

    @abstractmethod
    def initial_outputs(self, batch_size: Any) -> Any:
        """The outputs before the first step."""

    @abstractmethod
    def readout(self, **kwargs: Any) -> Any:
        """Readouts from the sources."""

    @abstractmethod
    def feedback(self, outputs: Any) -> Any:
        """The feedback of outputs."""

    def get_dim(self, name: str) -> Any:
        if name == "outputs":
            return self.readout_dim
        return super().get_dim(name)


class Readout(AbstractReadout):
    """Merge the sources, add a bias, and delegate emission and feedback (Blocks' ``Readout``).

    Parameters
    ----------
    emitter : AbstractEmitter, optional
        Default ``TrivialEmitter(readout_dim)``.
    feedback_brick : AbstractFeedback, optional
        Default ``TrivialFeedback(readout_dim)``.
    merge : Brick, optional
        Default ``Merge(source_names, prototype=merge_prototype)``.
    merge_prototype : Feedforward, optional
    post_merge : Feedforward, optional
        Default ``Bias(readout_dim)``.
    merged_dim : int, optional
        Default ``readout_dim``.
    source_names, readout_dim
        See :class:`AbstractReadout`.

    Examples
    --------
    >>> import torch
    >>> from blocks.initialization import Constant
    >>> readout = Readout(source_names=["states"], readout_dim=3, source_dims=[2],
    ...                   weights_init=Constant(1.0), biases_init=Constant(0))
    >>> readout.readout(states=torch.ones(1, 2)).tolist()
    [[2.0, 2.0, 2.0]]
    """

    def __init__(self, emitter: Any = None, feedback_brick: Any = None, merge: Any = None, merge_prototype: Any = None,
                 post_merge: Any = None, merged_dim: int | None = None, source_dims: list[int] | None = None,
                 **kwargs: Any) -> None:
        from blocks.bricks.parallel import Merge

        readout_dim = kwargs.get("readout_dim")
        source_names = kwargs.get("source_names")
        if not emitter:
            emitter = TrivialEmitter(readout_dim)
        if not feedback_brick:
            feedback_brick = TrivialFeedback(readout_dim)
        if not merge:
            merge = Merge(input_names=source_names, input_dims=source_dims or NoneAllocation,
                          prototype=merge_prototype)
        if not post_merge:
            post_merge = Bias(dim=readout_dim)
        if not merged_dim:
            merged_dim = readout_dim
        super().__init__(**kwargs)
        self.emitter = emitter
        self.feedback_brick = feedback_brick
        self.merge = merge
        self.post_merge = post_merge
        self.merged_dim = merged_dim
        self.source_dims = source_dims
        self.children = [emitter, feedback_brick, merge, post_merge]

    def _push_allocation_config(self) -> None:
        self.emitter.readout_dim = self.get_dim("readouts")
        self.feedback_brick.output_dim = self.get_dim("outputs")
        self.merge.input_names = self.source_names
        self.merge.input_dims = self.source_dims
        self.merge.output_dim = self.merged_dim
        if isinstance(self.post_merge, Bias):
            if self.merged_dim != self.readout_dim:
                raise ValueError(f"{self.get_unique_path()}: a Bias post-merge needs merged_dim == readout_dim, got "
                                 f"{self.merged_dim} and {self.readout_dim}; give another post_merge brick")
            self.post_merge.dim = self.readout_dim
        else:
            self.post_merge.input_dim = self.merged_dim
            self.post_merge.output_dim = self.readout_dim

    @application
    def readout(self, **kwargs: Any) -> Any:
        """The merged sources plus the post-merge transform."""
        merged = self.merge.apply(**{name: kwargs[name] for name in self.merge.input_names})
        return self.post_merge.apply(merged)

    @application
    def emit(self, readouts: Any) -> Any:
        """The emitter's outputs."""
        return self.emitter.emit(readouts)

    @application
    def cost(self, readouts: Any, outputs: Any) -> Any:
        """The emitter's cost."""
        return self.emitter.cost(readouts, outputs)

    @application
    def initial_outputs(self, batch_size: Any) -> Any:
        """The emitter's initial outputs."""
        return self.emitter.initial_outputs(batch_size)

    @application(outputs=["feedback"])
    def feedback(self, outputs: Any) -> Any:
        """The feedback brick's feedback."""
        return self.feedback_brick.feedback(outputs)

    def get_dim(self, name: str) -> Any:
        if name == "outputs":
            return self.emitter.get_dim(name)
        if name == "feedback":
            return self.feedback_brick.get_dim(name)
        if name == "readouts":
            return self.readout_dim
        return super().get_dim(name)
