"""Initialization schemes (Blocks' ``blocks.initialization``), reproducible from explicit seeds.

Every scheme generates a numpy array with ``generate(rng, shape)`` from an
explicit ``numpy.random.Generator`` (bricks pass theirs, derived from
``config.default_seed`` or their ``seed``) and copies it into a tensor with
``initialize(tensor, rng)``. Nothing uses the global numpy RNG.

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

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy
import torch

__all__ = [
    "Constant",
    "Identity",
    "IsotropicGaussian",
    "NdarrayInitialization",
    "Orthogonal",
    "Sparse",
    "SparseND",
    "Uniform",
]


def _check_rng(rng: Any) -> numpy.random.Generator:
    if not isinstance(rng, numpy.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


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
        values = numpy.asarray(self.generate(_check_rng(rng), shape))
        if values.shape != shape:
            raise ValueError(f"{self!r} generated an array of shape {values.shape}, expected {shape}")
        with torch.no_grad():
            tensor.copy_(torch.from_numpy(numpy.ascontiguousarray(values)).to(tensor.dtype))

    def __repr__(self) -> str:
        args = ", ".join(f"{v!r}" for v in self.__dict__.values())
        return f"{self.__class__.__name__}({args})"


class Constant(NdarrayInitialization):
    """Fill with a constant (a scalar or an array broadcastable to the shape).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Constant
    >>> Constant(2.0).generate(numpy.random.default_rng(0), (2,)).tolist()
    [2.0, 2.0]
    """

    def __init__(self, constant: Any) -> None:
        self.constant = constant

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        return numpy.broadcast_to(numpy.asarray(self.constant, dtype=numpy.float64), tuple(shape)).copy()


class IsotropicGaussian(NdarrayInitialization):
    """Gaussian with standard deviation ``std`` and mean ``mean`` (``std`` comes first, as in Blocks).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import IsotropicGaussian
    >>> x = IsotropicGaussian(2.0, mean=1.0).generate(numpy.random.default_rng(0), (10000,))
    >>> round(float(x.mean())), round(float(x.std()))
    (1, 2)
    """

    def __init__(self, std: float = 1.0, mean: float = 0.0) -> None:
        if std < 0:
            raise ValueError(f"IsotropicGaussian: std must be >= 0, got {std}")
        self.std = float(std)
        self.mean = float(mean)

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        return rng.normal(self.mean, self.std, size=tuple(shape))


class Uniform(NdarrayInitialization):
    """Uniform around ``mean`` with total ``width`` or standard deviation ``std`` (exactly one).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Uniform
    >>> x = Uniform(mean=0.0, width=2.0).generate(numpy.random.default_rng(0), (1000,))
    >>> bool(x.min() >= -1 and x.max() <= 1)
    True
    """

    def __init__(self, mean: float = 0.0, width: float | None = None, std: float | None = None) -> None:
        if (width is None) == (std is None):
            raise ValueError("Uniform needs exactly one of width and std")
        if std is not None:
            width = float(std) * numpy.sqrt(12)
        self.mean = float(mean)
        self.width = float(width)

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        half = self.width / 2
        return rng.uniform(self.mean - half, self.mean + half, size=tuple(shape))


class Identity(NdarrayInitialization):
    """``mult`` times the (truncated or padded) identity matrix; 2-D only.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Identity
    >>> Identity(2).generate(numpy.random.default_rng(0), (2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    def __init__(self, mult: float = 1.0) -> None:
        self.mult = float(mult)

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Identity initialization is for matrices, got shape {tuple(shape)}")
        return self.mult * numpy.eye(*shape)


class Orthogonal(NdarrayInitialization):
    """A (scaled) random orthogonal matrix; rectangular shapes get orthonormal rows or columns. 2-D only.

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Orthogonal
    >>> q = Orthogonal().generate(numpy.random.default_rng(0), (3, 3))
    >>> bool(numpy.allclose(q @ q.T, numpy.eye(3)))
    True
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = float(scale)

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
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


class Sparse(NdarrayInitialization):
    """Each row gets ``num_init`` non-zero entries (an int, or a fraction of the columns) from ``weights_init``.

    Column choices use the given generator (Blocks used the global RNG: fixed).

    Examples
    --------
    >>> import numpy
    >>> from blocks.initialization import Sparse, Constant
    >>> w = Sparse(num_init=2, weights_init=Constant(1.0)).generate(numpy.random.default_rng(0), (3, 5))
    >>> w.sum(axis=1).tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, num_init: int | float, weights_init: NdarrayInitialization,
                 sparse_init: NdarrayInitialization | None = None) -> None:
        self.num_init = num_init
        self.weights_init = weights_init
        self.sparse_init = Constant(0.0) if sparse_init is None else sparse_init

    def _count(self, total: int) -> int:
        count = int(round(self.num_init * total)) if isinstance(self.num_init, float) else int(self.num_init)
        if not 0 <= count <= total:
            raise ValueError(f"{self.__class__.__name__}: num_init={self.num_init} gives {count} of {total} entries")
        return count

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Sparse initialization is for matrices, got shape {tuple(shape)}; use SparseND")
        rows, cols = shape
        values = numpy.array(self.sparse_init.generate(rng, shape), dtype=numpy.float64)
        count = self._count(cols)
        for row in range(rows):
            chosen = rng.choice(cols, size=count, replace=False)
            values[row, chosen] = self.weights_init.generate(rng, (count,))
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

    def __init__(self, axis: int | Sequence[int], num_init: int | float, weights_init: NdarrayInitialization,
                 sparse_init: NdarrayInitialization | None = None) -> None:
        super().__init__(num_init, weights_init, sparse_init)
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)

    def generate(self, rng: numpy.random.Generator, shape: Sequence[int]) -> numpy.ndarray:
        shape = tuple(shape)
        if any(not -len(shape) <= a < len(shape) for a in self.axis):
            raise ValueError(f"SparseND: axis {self.axis} out of range for shape {shape}")
        axes = [a % len(shape) for a in self.axis]
        others = [a for a in range(len(shape)) if a not in axes]
        perm = axes + others
        units = int(numpy.prod([shape[a] for a in axes]))
        per_unit = int(numpy.prod([shape[a] for a in others]))
        flat = Sparse(self.num_init, self.weights_init, self.sparse_init).generate(rng, (units, per_unit))
        permuted = flat.reshape([shape[a] for a in perm])
        return numpy.transpose(permuted, numpy.argsort(perm))
