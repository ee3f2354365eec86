"""Initialization schemes (Blocks' ``blocks.initialization``), reproducible from explicit seeds.

Every scheme generates a ``floatX`` numpy array with ``generate(rng, shape)``
from an explicit numpy generator (bricks pass theirs, a
``numpy.random.Generator`` derived from ``config.default_seed`` or their
``seed``; a ``numpy.random.RandomState`` works too) and copies it into a tensor
with ``initialize(tensor, rng)``, drawing in float64 so that a float64 tensor
gets full precision. Nothing uses the global numpy RNG.

Examples
--------
>>> import numpy, torch
>>> from blocks.initialization import IsotropicGaussian, Constant
>>> rng = numpy.random.default_rng(1)
>>> IsotropicGaussian(std=0.1).generate(rng, (2, 3)).shape
(2, 3)
>>> w = torch.empty(2)
>>> Constant(3).initialize(w, rng)
>>> w.tolist()
[3.0, 3.0]
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy
import torch

from blocks.config import config
from blocks.utils.containers import repr_attrs

__all__ = [
    "Constant",
    "GlorotUniform",
    "Identity",
    "IsotropicGaussian",
    "NdarrayInitialization",
    "Orthogonal",
    "Sparse",
    "SparseND",
    "Uniform",
    "glorot_fans",
]


def _check_rng(rng: Any) -> numpy.random.Generator:
    if not isinstance(rng, (numpy.random.Generator, numpy.random.RandomState)):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)) or a "
                         f"numpy.random.RandomState, got {type(rng).__name__}")
    return rng


def _draw(scheme: NdarrayInitialization, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
    """Full-precision values of ``scheme`` (float64 for the built-in schemes, ``generate`` for others)."""
    if isinstance(scheme, _Drawn):
        return scheme.draw(rng, shape)
    return numpy.asarray(scheme.generate(rng, shape))


class NdarrayInitialization(ABC):
    """Base class of initialization schemes.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import NdarrayInitialization
    >>> class Ones(NdarrayInitialization):
    ...     def generate(self, rng, shape):
    ...         return numpy.ones(shape)
    >>> Ones().generate(numpy.random.default_rng(0), (2,)).tolist()
    [1.0, 1.0]
    """

    @abstractmethod
    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        """An array of ``shape`` drawn with ``rng``."""

    def initialize(self, tensor: torch.Tensor, rng: numpy.random.Generator,
                   shape: Sequence[int] | None = None) -> None:
        """Fill ``tensor`` in place (no gradient) with ``generate(rng, shape or tensor.shape)``."""
        shape = tuple(tensor.shape) if shape is None else tuple(shape)
        if shape != tuple(tensor.shape):
            raise ValueError(f"{self!r}: shape {shape} does not match the tensor's shape {tuple(tensor.shape)}")
        values = _draw(self, _check_rng(rng), shape)
        if values.shape != shape:
            raise ValueError(f"{self!r} generated an array of shape {values.shape}, expected {shape}")
        with torch.no_grad():
            tensor.copy_(torch.from_numpy(numpy.ascontiguousarray(values)).to(tensor.dtype))

    def __repr__(self) -> str:
        return repr_attrs(self, *self.__dict__)


class _Drawn(NdarrayInitialization):
    """A built-in scheme: :meth:`draw` makes float64 values, :meth:`generate` gives them as ``floatX``."""

    _repr_attributes: tuple[str, ...] = ()

    @abstractmethod
    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        """The values in float64 (what :meth:`initialize` copies into a tensor of any dtype)."""

    def generate(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        """An array of ``shape`` drawn with ``rng``, of dtype ``config.floatX`` (as in Blocks)."""
        return numpy.asarray(self.draw(rng, shape)).astype(config.floatX)

    def __repr__(self) -> str:
        return repr_attrs(self, *self._repr_attributes)


class Constant(_Drawn):
    """Fill with a constant (a scalar or an array broadcastable to the shape).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Constant
    >>> Constant(2.0).generate(numpy.random.default_rng(0), (2,)).tolist()
    [2.0, 2.0]
    """

    _repr_attributes = ("constant",)

    def __init__(self, constant: Any) -> None:
        self.constant = constant

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        return numpy.broadcast_to(numpy.asarray(self.constant, dtype=numpy.float64), tuple(shape)).copy()


class IsotropicGaussian(_Drawn):
    """Gaussian with standard deviation ``std`` and mean ``mean`` (``std`` comes first, as in Blocks).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import IsotropicGaussian
    >>> x = IsotropicGaussian(2.0, mean=1.0).generate(numpy.random.default_rng(0), (10000,))
    >>> round(float(x.mean())), round(float(x.std()))
    (1, 2)
    """

    _repr_attributes = ("mean", "std")

    def __init__(self, std: float = 1.0, mean: float = 0.0) -> None:
        if std < 0:
            raise ValueError(f"IsotropicGaussian: std must be >= 0, got {std}")
        self.std = float(std)
        self.mean = float(mean)

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        return rng.normal(self.mean, self.std, size=tuple(shape))


class Uniform(_Drawn):
    """Uniform around ``mean`` with total ``width`` or standard deviation ``std`` (exactly one).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Uniform
    >>> x = Uniform(mean=0.0, width=2.0).generate(numpy.random.default_rng(0), (1000,))
    >>> bool(x.min() >= -1 and x.max() <= 1)
    True
    """

    _repr_attributes = ("mean", "width")

    def __init__(self, mean: float = 0.0, width: float | None = None, std: float | None = None) -> None:
        if (width is None) == (std is None):
            raise ValueError("Uniform needs exactly one of width and std")
        if std is not None:
            width = float(std) * numpy.sqrt(12)
        self.mean = float(mean)
        self.width = float(width)

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        half = self.width / 2
        return rng.uniform(self.mean - half, self.mean + half, size=tuple(shape))


def glorot_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` in the layouts of Blocks' bricks.

    A matrix is ``(input_dim, output_dim)`` (:class:`~blocks.bricks.Linear`'s
    ``W``): the fans are its rows and columns. A convolution kernel is
    ``(num_filters, num_channels, *filter_size)``: ``fan_in`` is
    ``num_channels`` times the receptive field, ``fan_out`` ``num_filters``
    times it, as in Lasagne and ``torch.nn.init``.

    Raises
    ------
    ValueError
        For fewer than two dimensions (a vector has no fan-in and fan-out).

    Examples
    --------
    >>> from blocks.initialization import glorot_fans
    >>> glorot_fans((784, 100)), glorot_fans((16, 3, 5, 5))
    ((784, 100), (75, 400))
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        raise ValueError(f"Glorot initialization needs a weight of two or more dimensions (fan-in and fan-out), "
                         f"got shape {shape}; initialize vectors with another scheme, e.g. Constant(0)")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(numpy.prod(shape[2:]))
    return shape[1] * receptive_field, shape[0] * receptive_field


class GlorotUniform(_Drawn):
    """Glorot and Bengio's (2010) uniform scheme: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    The fans come from each weight's own shape (:func:`glorot_fans`), so one
    scheme fits every layer; the bound is that of
    ``torch.nn.init.xavier_uniform_`` for the same weight (which only depends
    on ``fan_in + fan_out``). :class:`~blocks.estimator.NeuralNet` uses it for
    the weights of layers given no ``weights_init``.

    Parameters
    ----------
    gain : float
        Scale of the bound (``torch.nn.init.calculate_gain`` gives the usual
        one for a nonlinearity); default 1.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import GlorotUniform
    >>> w = GlorotUniform().generate(numpy.random.default_rng(0), (60, 40))
    >>> bound = (6 / (60 + 40)) ** 0.5
    >>> bool(abs(w).max() <= bound), round(bound, 4)
    (True, 0.2449)
    """

    _repr_attributes = ("gain",)

    def __init__(self, gain: float = 1.0) -> None:
        if not gain > 0:
            raise ValueError(f"GlorotUniform: gain must be > 0, got {gain}")
        self.gain = float(gain)

    def bound(self, shape: Sequence[int]) -> float:
        """The half-width ``a`` of the interval the values of a weight of ``shape`` are drawn from."""
        fan_in, fan_out = glorot_fans(shape)
        return self.gain * math.sqrt(6.0 / (fan_in + fan_out))

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        bound = self.bound(shape)
        return rng.uniform(-bound, bound, size=tuple(shape))


class Identity(_Drawn):
    """``mult`` times the (truncated or padded) identity matrix; 2-D only.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Identity
    >>> Identity(2).generate(numpy.random.default_rng(0), (2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    _repr_attributes = ("mult",)

    def __init__(self, mult: float = 1.0) -> None:
        self.mult = float(mult)

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Identity initialization is for matrices, got shape {tuple(shape)}")
        return self.mult * numpy.eye(*shape)


class Orthogonal(_Drawn):
    """A (scaled) random orthogonal matrix; rectangular shapes get orthonormal rows or columns. 2-D only.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Orthogonal
    >>> q = Orthogonal().generate(numpy.random.default_rng(0), (3, 3))
    >>> bool(numpy.allclose(q @ q.T, numpy.eye(3), atol=1e-6))
    True
    """

    _repr_attributes = ("scale",)

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = float(scale)

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Orthogonal initialization is for matrices, got shape {tuple(shape)}")
        rows, cols = shape
        big, small = max(rows, cols), min(rows, cols)
        a = rng.normal(size=(big, small))
        q, r = numpy.linalg.qr(a)
        q = q * numpy.sign(numpy.diag(r))
        if rows < cols:
            q = q.T
        return self.scale * q


class Sparse(_Drawn):
    """Each row gets ``num_init`` non-zero entries (an int, or a fraction of the columns rounded down) from
    ``weights_init``.

    Column choices use the given generator (Blocks used the global RNG: fixed).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Sparse, Constant
    >>> w = Sparse(num_init=2, weights_init=Constant(1.0)).generate(numpy.random.default_rng(0), (3, 5))
    >>> w.sum(axis=1).tolist()
    [2.0, 2.0, 2.0]
    """

    _repr_attributes = ("num_init", "weights_init", "sparse_init")

    def __init__(self, num_init: int | float, weights_init: NdarrayInitialization,
                 sparse_init: NdarrayInitialization | None = None) -> None:
        self.num_init = num_init
        self.weights_init = weights_init
        self.sparse_init = Constant(0.0) if sparse_init is None else sparse_init

    def _count(self, total: int) -> int:
        fraction = isinstance(self.num_init, float)
        if self.num_init <= 0 or (fraction and self.num_init > 1):
            raise ValueError(f"{self.__class__.__name__}: num_init must be a positive count or a fraction in (0, 1], "
                             f"got {self.num_init}")
        count = int(self.num_init * total) if fraction else int(self.num_init)  # Blocks rounds fractions down
        if not 0 <= count <= total:
            raise ValueError(f"{self.__class__.__name__}: num_init={self.num_init} gives {count} of {total} entries")
        return count

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Sparse initialization is for matrices, got shape {tuple(shape)}; use SparseND")
        rows, cols = shape
        values = numpy.array(_draw(self.sparse_init, rng, shape), dtype=numpy.float64)
        count = self._count(cols)
        for row in range(rows):
            chosen = rng.choice(cols, size=count, replace=False)
            values[row, chosen] = _draw(self.weights_init, rng, (count,))
        return values


class SparseND(Sparse):
    """Sparse over "units" spanning the axes ``axis``: each unit gets ``num_init`` non-zero entries.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import SparseND, Constant
    >>> w = SparseND(axis=(0,), num_init=3, weights_init=Constant(1.0)).generate(
    ...     numpy.random.default_rng(0), (2, 3, 4))
    >>> w.reshape(2, -1).sum(axis=1).tolist()
    [3.0, 3.0]
    """

    _repr_attributes = ("axis", "num_init", "weights_init", "sparse_init")

    def __init__(self, axis: int | Sequence[int], num_init: int | float, weights_init: NdarrayInitialization,
                 sparse_init: NdarrayInitialization | None = None) -> None:
        super().__init__(num_init, weights_init, sparse_init)
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)

    def draw(self, rng: Any, shape: Sequence[int]) -> numpy.ndarray:
        shape = tuple(shape)
        if any(not -len(shape) <= a < len(shape) for a in self.axis):
            raise ValueError(f"SparseND: axis {self.axis} out of range for shape {shape}")
        axes = [a % len(shape) for a in self.axis]
        others = [a for a in range(len(shape)) if a not in axes]
        perm = axes + others
        units = int(numpy.prod([shape[a] for a in axes]))
        per_unit = int(numpy.prod([shape[a] for a in others]))
        flat = Sparse(self.num_init, self.weights_init, self.sparse_init).draw(rng, (units, per_unit))
        permuted = flat.reshape([shape[a] for a in perm])
        return numpy.transpose(permuted, numpy.argsort(perm))
