"""Batch normalization bricks: BatchNormalization, SpatialBatchNormalization, BatchNormalizedMLP.

As in Blocks, a batch-normalization brick computes in *inference* mode by
default (population statistics, kept as buffers with roles
``BATCH_NORM_POPULATION_MEAN`` / ``BATCH_NORM_POPULATION_STDEV``). Training
mode (minibatch statistics) is entered with the context manager
:func:`blocks.graph.batch_normalization` (or ``with brick:``), or by
rewriting an inference graph with :func:`blocks.graph.apply_batch_normalization`.

In training mode, symbolic calls record the minibatch mean and standard
deviation as auxiliary variables and add moving-average updates of the
population statistics to ``ComputationGraph.updates`` (rate
``population_update_rate``); eager calls update the buffers in place.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from blocks.bricks.base import application, lazy, shape_of
from blocks.bricks.interfaces import Feedforward, RNGMixin
from blocks.bricks.sequences import MLP
from blocks.bricks.sequences import Sequence as BrickSequence
from blocks.bricks.simple import Linear
from blocks.graph.variables import Variable, call
from blocks.initialization import Constant
from blocks.roles import (
    BATCH_NORM_DIVISOR,
    BATCH_NORM_MINIBATCH_ESTIMATE,
    BATCH_NORM_OFFSET,
    BATCH_NORM_POPULATION_MEAN,
    BATCH_NORM_POPULATION_STDEV,
    BATCH_NORM_SCALE_PARAMETER,
    BATCH_NORM_SHIFT_PARAMETER,
)

__all__ = ["BatchNormalization", "BatchNormalizedMLP", "SpatialBatchNormalization"]


def _normalize(x: torch.Tensor, mean: torch.Tensor, stdev: torch.Tensor | None, scale: torch.Tensor | None,
               shift: torch.Tensor | None) -> torch.Tensor:
    out = x - mean
    if stdev is not None:
        out = out / stdev
    if scale is not None:
        out = out * scale
    if shift is not None:
        out = out + shift
    return out


def _batch_mean(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    return x.mean(dim=axes, keepdim=True).squeeze(0)


def _batch_stdev(x: torch.Tensor, axes: tuple[int, ...], epsilon: float) -> torch.Tensor:
    return torch.sqrt(x.var(dim=axes, unbiased=False, keepdim=True) + epsilon).squeeze(0)


def _moving_average(population: torch.Tensor, estimate: torch.Tensor, rate: float) -> torch.Tensor:
    return population * (1 - rate) + estimate.detach() * rate


class BatchNormalization(RNGMixin, Feedforward):
    """Normalize features with batch statistics (training mode) or population statistics (default).

    Parameters
    ----------
    input_dim : int or tuple of int
        Shape of one example (lazy; inferred from the first input).
    broadcastable : tuple of bool, optional
        Axes of ``input_dim`` sharing statistics and parameters (e.g.
        ``(False, True, True)`` for images).
    conserve_memory : bool
        Kept for Blocks compatibility (no effect).
    epsilon : float
        Added to the minibatch variance.
    scale_init, shift_init : NdarrayInitialization
        Default ``Constant(1)`` / ``Constant(0)``.
    mean_only : bool
        Only subtract the mean (no division, no scale).
    learn_scale, learn_shift : bool
    population_update_rate : float
        Rate of the moving averages of population statistics.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import BatchNormalization
    >>> from blocks.graph import batch_normalization
    >>> bn = BatchNormalization(input_dim=3)
    >>> x = torch.randn(8, 3) * 5 + 2
    >>> torch.equal(bn.apply(x), x)     # inference: population mean 0, stdev 1
    True
    >>> with batch_normalization(bn):
    ...     y = bn.apply(x)
    >>> bool(y.mean(0).abs().max() < 1e-5)
    True
    """

    @lazy(allocation=["input_dim"])
    def __init__(self, input_dim: int | Sequence[int], broadcastable: Sequence[bool] | None = None,
                 conserve_memory: bool = True, epsilon: float = 1e-4, scale_init: Any = None,
                 shift_init: Any = None, mean_only: bool = False, learn_scale: bool = True,
                 learn_shift: bool = True, population_update_rate: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.broadcastable = broadcastable
        self.conserve_memory = conserve_memory
        self.epsilon = float(epsilon)
        self.scale_init = Constant(1.0) if scale_init is None else scale_init
        self.shift_init = Constant(0.0) if shift_init is None else shift_init
        self.mean_only = mean_only
        self.learn_scale = learn_scale
        self.learn_shift = learn_shift
        self.population_update_rate = float(population_update_rate)

    # ---- shapes
    @property
    def _dims(self) -> tuple[int, ...]:
        return (self.input_dim,) if isinstance(self.input_dim, int) else tuple(self.input_dim)

    def _broadcastable(self) -> tuple[bool, ...]:
        if self.broadcastable is None:
            return (False,) * len(self._dims)
        broadcastable = tuple(bool(b) for b in self.broadcastable)
        if len(broadcastable) != len(self._dims):
            raise ValueError(f"brick {self.get_unique_path()}: broadcastable {broadcastable} must have one entry "
                             f"per axis of input_dim {self._dims}")
        return broadcastable

    def _parameter_shape(self) -> tuple[int, ...]:
        return tuple(1 if b else d for d, b in zip(self._dims, self._broadcastable()))

    def _axes(self) -> tuple[int, ...]:
        return (0,) + tuple(i + 1 for i, b in enumerate(self._broadcastable()) if b)

    @property
    def image_size(self) -> Any:
        return self._dims[1:] if len(self._dims) > 1 else None

    @image_size.setter
    def image_size(self, value: Any) -> None:
        """Set the axes after the first of ``input_dim`` (the first stays, ``None`` if unknown), as Blocks did."""
        current = self.input_dim
        if isinstance(current, int):
            channels = current
        elif isinstance(current, Sequence) and len(current):
            channels = tuple(current)[0]
        else:
            channels = None
        self.input_dim = (channels, *value)

    @property
    def num_channels(self) -> Any:
        return self._dims[0]

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "output", "input"):
            return self.input_dim
        return super().get_dim(name)

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if not self.input_dim and shape and len(shape) > 1 and all(s is not None for s in shape[1:]):
            self.input_dim = shape[1] if len(shape) == 2 else tuple(shape[1:])

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        shape = shape_of(args[0]) if args else None
        if not shape or not self.input_dim:
            return None
        dims = self._dims
        tail = tuple(shape[1:])
        if len(tail) != len(dims) or any(t is not None and t != d for t, d in zip(tail, dims)):
            return f"expected inputs of shape (batch, {', '.join(map(str, dims))}), got shape {tuple(shape)}"
        return None

    # ---- lifecycle
    def _allocate(self) -> None:
        shape = self._parameter_shape()
        dtype = torch.get_default_dtype()
        from blocks.config import config

        dtype = getattr(torch, config.floatX)
        if not self.mean_only and self.learn_scale:
            self.new_parameter("scale", shape, BATCH_NORM_SCALE_PARAMETER)
        else:
            self.register_parameter("scale", None)
        if self.learn_shift:
            self.new_parameter("shift", shape, BATCH_NORM_SHIFT_PARAMETER)
        else:
            self.register_parameter("shift", None)
        for name in ("population_mean", "population_stdev"):
            self._buffers.pop(name, None)
        self.new_buffer("population_mean", torch.zeros(shape, dtype=dtype), BATCH_NORM_POPULATION_MEAN)
        if not self.mean_only:
            self.new_buffer("population_stdev", torch.ones(shape, dtype=dtype), BATCH_NORM_POPULATION_STDEV)
        else:
            self.register_buffer("population_stdev", None)

    def _initialize(self) -> None:
        if self.scale is not None:
            self.scale_init.initialize(self.scale, self.rng)
        if self.shift is not None:
            self.shift_init.initialize(self.shift, self.rng)

    # ---- training mode
    def __enter__(self) -> BatchNormalization:
        self._training_mode.append(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._training_mode.pop()

    @property
    def training_mode(self) -> bool:
        """Whether applications currently use minibatch statistics."""
        return bool(self._training_mode)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any, application_call: Any) -> Any:
        """Normalize ``input_`` (minibatch statistics in training mode, population statistics otherwise)."""
        training = bool(self._training_mode)
        application_call.metadata["training_mode"] = training
        symbolic = isinstance(input_, Variable)
        if not training:
            mean, stdev = self.population_mean, self.population_stdev
            if symbolic:
                return call(_normalize, input_, mean, stdev, self.scale, self.shift)
            return _normalize(input_, mean, stdev, self.scale, self.shift)
        axes = self._axes()
        if symbolic:
            mean = call(_batch_mean, input_, axes)
            stdev = None if self.mean_only else call(_batch_stdev, input_, axes, self.epsilon)
        else:
            mean = _batch_mean(input_, axes)
            stdev = None if self.mean_only else _batch_stdev(input_, axes, self.epsilon)
        if application_call.symbolic:
            mean = application_call.add_auxiliary_variable(
                mean, roles=[BATCH_NORM_OFFSET, BATCH_NORM_MINIBATCH_ESTIMATE], name="batch_mean")
            application_call.metadata["offset"] = mean
            application_call.add_update(self.population_mean, call(
                _moving_average, self.population_mean, mean, self.population_update_rate))
            if stdev is not None:
                stdev = application_call.add_auxiliary_variable(
                    stdev, roles=[BATCH_NORM_DIVISOR, BATCH_NORM_MINIBATCH_ESTIMATE], name="batch_stdev")
                application_call.metadata["divisor"] = stdev
                application_call.add_update(self.population_stdev, call(
                    _moving_average, self.population_stdev, stdev, self.population_update_rate))
            return call(_normalize, input_, mean, stdev, self.scale, self.shift)
        with torch.no_grad():
            self.population_mean.copy_(_moving_average(self.population_mean, mean, self.population_update_rate))
            if stdev is not None:
                self.population_stdev.copy_(
                    _moving_average(self.population_stdev, stdev, self.population_update_rate))
        return _normalize(input_, mean, stdev, self.scale, self.shift)


class SpatialBatchNormalization(BatchNormalization):
    """Batch normalization of images ``(batch, channels, height, width)``: statistics per channel.

    ``input_dim`` is ``(channels, height, width)``; statistics and parameters
    are shared over the spatial axes (height and width may be ``None`` when
    unknown, e.g. inside a ConvolutionalSequence with free image size).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import SpatialBatchNormalization
    >>> bn = SpatialBatchNormalization(input_dim=(3, 4, 4))
    >>> bn.apply(torch.zeros(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    >>> tuple(bn.shift.shape)
    (3, 1, 1)
    """

    def __init__(self, input_dim: Any = None, **kwargs: Any) -> None:
        if input_dim is not None:
            kwargs["input_dim"] = input_dim
        super().__init__(**kwargs)

    def _broadcastable(self) -> tuple[bool, ...]:
        return (False,) + (True,) * (len(self._dims) - 1)

    def _allocate(self) -> None:
        if isinstance(self.input_dim, int) or len(self._dims) < 2:
            raise ValueError(f"brick {self.get_unique_path()}: spatial batch normalization needs input_dim "
                             f"(channels, height, ...) with at least one spatial axis, got {self.input_dim!r}; "
                             f"use BatchNormalization for vectors")
        super()._allocate()

    def _parameter_shape(self) -> tuple[int, ...]:
        return (self._dims[0],) + (1,) * (len(self._dims) - 1)

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if not self.input_dim and shape and len(shape) > 2 and shape[1] is not None:
            self.input_dim = tuple(shape[1:])

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        shape = shape_of(args[0]) if args else None
        if not shape or not self.input_dim:
            return None
        if len(shape) != len(self._dims) + 1 or (shape[1] is not None and shape[1] != self._dims[0]):
            return (f"expected inputs of shape (batch, {self._dims[0]}, ...) with {len(self._dims) + 1} axes, "
                    f"got shape {tuple(shape)}")
        return None


class BatchNormalizedMLP(MLP):
    """An MLP whose activations are preceded by batch normalization (linear layers have no bias by default).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import BatchNormalizedMLP, Tanh
    >>> from blocks.initialization import IsotropicGaussian
    >>> mlp = BatchNormalizedMLP([Tanh(), Tanh()], [4, 5, 2], weights_init=IsotropicGaussian(0.1))
    >>> mlp.apply(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    >>> [type(a).__name__ for a in mlp.activations]
    ['Sequence', 'Sequence']
    """

    @lazy(allocation=["dims"])
    def __init__(self, activations: Sequence[Any], dims: Sequence[int], conserve_memory: bool = True,
                 mean_only: bool = False, learn_scale: bool = True, learn_shift: bool = True,
                 **kwargs: Any) -> None:
        self.__dict__["_conserve_memory"] = conserve_memory
        self.mean_only = mean_only
        self.learn_scale = learn_scale
        self.learn_shift = learn_shift
        wrapped = []
        for i, activation in enumerate(activations):
            bn = BatchNormalization(name=f"batch_norm_{i}", conserve_memory=conserve_memory)
            members = [bn.apply] + ([activation.apply] if activation is not None else [])
            wrapped.append(BrickSequence(members, name=f"batch_normalized_{i}"))
        kwargs.setdefault("use_bias", False)
        kwargs.setdefault("prototype", Linear())
        super().__init__(wrapped, dims, **kwargs)

    @property
    def conserve_memory(self) -> bool:
        """Set on the batch-normalization bricks at once (it only changes how they apply)."""
        return self._conserve_memory

    @conserve_memory.setter
    def conserve_memory(self, value: bool) -> None:
        self.__dict__["_conserve_memory"] = value
        for sequence in self.activations:
            sequence.application_methods[0].brick.conserve_memory = value

    def _push_allocation_config(self) -> None:
        """Push each batch normalization's ``input_dim`` and ``mean_only``, ``learn_scale``, ``learn_shift``."""
        super()._push_allocation_config()
        for output_dim, sequence in zip(self.dims[1:], self.activations):
            bn = sequence.application_methods[0].brick
            bn.input_dim = output_dim
            bn.mean_only, bn.learn_scale, bn.learn_shift = self.mean_only, self.learn_scale, self.learn_shift
