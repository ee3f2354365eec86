"""Initialization schemes as in Blocks: floatX values, Blocks' representations, RandomState generators."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.config import config
from blocks.initialization import Constant, Identity, IsotropicGaussian, Orthogonal, Sparse, SparseND, Uniform

SCHEMES = [Constant(1.5), IsotropicGaussian(0.1), Uniform(width=1.0), Identity(2.0), Orthogonal(),
           Sparse(2, Constant(1.0)), SparseND(axis=0, num_init=2, weights_init=Constant(1.0))]


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: type(s).__name__)
def test_generate_returns_floatx(scheme):
    for rng in (numpy.random.default_rng(0), numpy.random.RandomState(0)):
        assert scheme.generate(rng, (4, 5)).dtype == numpy.dtype(config.floatX)
    with config.override(floatX="float64"):
        assert scheme.generate(numpy.random.default_rng(0), (4, 5)).dtype == numpy.float64


def test_a_float64_tensor_gets_float64_values():
    tensor = torch.empty(50, 50, dtype=torch.float64)
    IsotropicGaussian(1.0).initialize(tensor, numpy.random.default_rng(3))
    expected = numpy.random.default_rng(3).normal(0.0, 1.0, size=(50, 50))
    assert numpy.array_equal(tensor.numpy(), expected)  # not rounded through float32


def test_representations_are_blocks():
    for scheme, tail in [(Constant(1.0), " constant=1.0>"), (Identity(2.0), " mult=2.0>"),
                         (IsotropicGaussian(1.0, 2.0), " mean=2.0, std=1.0>"),
                         (Uniform(1.0, 2.0), " mean=1.0, width=2.0>"),
                         (Orthogonal(3.0), " scale=3.0>")]:
        assert repr(scheme).startswith(f"<blocks.initialization.{type(scheme).__name__} object at 0x")
        assert repr(scheme).endswith(tail) and str(scheme) == repr(scheme)


def test_sparse_fractions_round_down_and_counts_must_be_positive():
    weights = SparseND(axis=(0, 2, 3), num_init=0.5, weights_init=Constant(1.0)).generate(
        numpy.random.default_rng(0), (2, 3, 2, 6))
    assert numpy.count_nonzero(weights) == 24  # int(0.5 * 3) = 1 of the 3 entries of each of the 24 units
    assert numpy.count_nonzero(Sparse(0.3, Constant(1.0)).generate(numpy.random.default_rng(0), (4, 10))) == 12
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="num_init"):
            Sparse(bad, Constant(1.0)).generate(numpy.random.default_rng(0), (2, 2))


def test_initialize_accepts_a_random_state_and_refuses_other_rngs():
    tensor = torch.empty(3)
    Uniform(width=2.0).initialize(tensor, numpy.random.RandomState(1))
    assert bool((tensor.abs() <= 1).all())
    with pytest.raises(ValueError, match="RandomState"):
        Constant(0).initialize(tensor, 1)
