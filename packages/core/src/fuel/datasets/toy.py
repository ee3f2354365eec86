"""Generated toy datasets: Spiral and SwissRoll (as in Fuel).

Both are seeded (default ``fuel.config.default_seed``), so the same arguments
always give the same data.

Examples
--------
>>> Spiral(num_examples=10, classes=2, seed=0).sources
('features', 'position', 'label')
>>> SwissRoll(num_examples=5, seed=0).features.shape
(5, 3)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from fuel.datasets.base import IndexableDataset

__all__ = ["Spiral", "SwissRoll"]


def _seed_and_dtype(seed: int | None) -> tuple[int, str]:
    from fuel import config

    dtype = config.floatX if config.floatX != "bfloat16" else "float32"
    return (int(config.default_seed) if seed is None else int(seed)), dtype


class Spiral(IndexableDataset):
    """Points on ``classes`` interleaved 2-D spiral arms.

    Parameters
    ----------
    num_examples : int
        Number of points.
    classes : int
        Number of arms (labels ``0..classes-1``).
    cycles : float
        Turns of each arm.
    noise : float
        Standard deviation of Gaussian noise added to the points.
    seed : int, optional
        Default ``fuel.config.default_seed``.
    **kwargs
        Passed to :class:`IndexableDataset` (``sources``, ``start``, ``stop``).

    Examples
    --------
    >>> ds = Spiral(num_examples=4, seed=1)
    >>> ds.features.shape, ds.label.tolist()
    ((4, 2), [0, 0, 0, 0])
    """

    def __init__(
        self,
        num_examples: int = 1000,
        classes: int = 1,
        cycles: float = 1.0,
        noise: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ):
        if num_examples < 1 or classes < 1:
            raise ValueError(f"num_examples and classes must be >= 1, got {num_examples} and {classes}")
        seed, dtype = _seed_and_dtype(seed)
        rng = np.random.default_rng(seed)
        position = rng.uniform(0, cycles, size=num_examples)
        label = rng.integers(0, classes, size=num_examples)
        radius = (2 * position + 1) / 3.0
        phase = 2 * np.pi * (position + label / classes)
        features = np.stack([radius * np.sin(phase), radius * np.cos(phase)], axis=1)
        features = features + noise * rng.standard_normal((num_examples, 2))
        data = OrderedDict([("features", features.astype(dtype)), ("position", position), ("label", label)])
        labels = {"features": ("batch", "feature"), "position": ("batch",), "label": ("batch",)}
        kwargs.setdefault("axis_labels", labels)
        super().__init__(data, **kwargs)


class SwissRoll(IndexableDataset):
    """Points on a 3-D swiss roll.

    Sources: ``features``, the ``(x, y, z)`` points, and ``position``, their
    ``(radial position in [0, 1], height in [-1, 1])`` on the manifold (noise
    free), as in Fuel.

    Parameters
    ----------
    num_examples : int
        Number of points.
    noise : float
        Standard deviation of Gaussian noise added to the points.
    seed : int, optional
        Default ``fuel.config.default_seed``.
    **kwargs
        Passed to :class:`IndexableDataset`.

    Examples
    --------
    >>> ds = SwissRoll(num_examples=3, seed=2)
    >>> ds.position.shape, bool((ds.position[:, 0] >= 0).all() and (ds.position[:, 0] <= 1).all())
    ((3, 2), True)
    """

    def __init__(self, num_examples: int = 1000, noise: float = 0.0, seed: int | None = None, **kwargs: Any):
        if num_examples < 1:
            raise ValueError(f"num_examples must be >= 1, got {num_examples}")
        seed, dtype = _seed_and_dtype(seed)
        rng = np.random.default_rng(seed)
        cycles = 1.5
        position = rng.uniform(0, 1, size=num_examples)
        phi = cycles * np.pi * (1 + 2 * position)
        radius = (1 + 2 * position) / 3.0
        height = rng.uniform(-1, 1, size=num_examples)
        features = np.stack([radius * np.cos(phi), radius * np.sin(phi), height], axis=1)
        features = features + noise * rng.standard_normal((num_examples, 3))
        data = OrderedDict([("features", features.astype(dtype)), ("position", np.stack([position, height], axis=1))])
        kwargs.setdefault("axis_labels", {"features": ("batch", "feature"), "position": ("batch", "feature")})
        super().__init__(data, **kwargs)
