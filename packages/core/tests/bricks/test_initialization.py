"""Initialization schemes: values, statistics, reproducibility from explicit generators."""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.initialization import Constant, Identity, IsotropicGaussian, Orthogonal, Sparse, SparseND, Uniform


def rng(seed=0):
    return numpy.random.default_rng(seed)


def test_constant_and_broadcasting():
    assert Constant(2).generate(rng(), (2, 2)).tolist() == [[2, 2], [2, 2]]
    assert Constant([1, 2]).generate(rng(), (2, 2)).tolist() == [[1, 2], [1, 2]]
    tensor = torch.empty(3, dtype=torch.float64)
    Constant(0.5).initialize(tensor, rng())
    assert tensor.tolist() == [0.5] * 3


def test_gaussian_and_uniform_statistics():
    g = IsotropicGaussian(0.5, mean=2.0).generate(rng(), (200, 200))
    assert abs(g.mean() - 2.0) < 0.01 and abs(g.std() - 0.5) < 0.01
    u = Uniform(mean=1.0, width=4.0).generate(rng(), (100000,))
    assert u.min() >= -1 and u.max() <= 3 and abs(u.mean() - 1) < 0.02
    s = Uniform(std=0.3).generate(rng(), (100000,))
    assert abs(s.std() - 0.3) < 0.005
    with pytest.raises(ValueError, match="exactly one"):
        Uniform(width=1, std=1)
    with pytest.raises(ValueError, match="std"):
        IsotropicGaussian(-1)


def test_identity_and_orthogonal():
    assert numpy.array_equal(Identity().generate(rng(), (3, 2)), numpy.eye(3, 2))
    for shape in [(4, 4), (3, 5), (5, 3)]:
        q = Orthogonal(scale=2.0).generate(rng(), shape)
        small = min(shape)
        gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
        numpy.testing.assert_allclose(gram, 4 * numpy.eye(small), atol=1e-5)  # floatX (float32) values
        exact = torch.empty(shape, dtype=torch.float64)
        Orthogonal(scale=2.0).initialize(exact, rng())  # a float64 tensor gets float64 values
        q = exact.numpy()
        gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
        numpy.testing.assert_allclose(gram, 4 * numpy.eye(small), atol=1e-10)
    with pytest.raises(ValueError, match="matrices"):
        Orthogonal().generate(rng(), (2, 2, 2))


def test_sparse_is_reproducible_and_never_uses_global_rng():
    numpy.random.seed(123)
    state = numpy.random.get_state()[1].copy()
    init = Sparse(num_init=3, weights_init=IsotropicGaussian(1.0))
    a, b = init.generate(rng(7), (5, 10)), init.generate(rng(7), (5, 10))
    assert numpy.array_equal(a, b)
    assert ((a != 0).sum(axis=1) == 3).all()
    assert numpy.array_equal(numpy.random.get_state()[1], state)  # global RNG untouched
    fraction = Sparse(num_init=0.5, weights_init=Constant(1.0)).generate(rng(), (4, 10))
    assert (fraction.sum(axis=1) == 5).all()
    nd = SparseND(axis=(0, 1), num_init=2, weights_init=Constant(1.0)).generate(rng(), (2, 3, 4, 5))
    assert (nd.reshape(6, 20).sum(axis=1) == 2).all()
    with pytest.raises(ValueError, match="num_init"):
        Sparse(num_init=20, weights_init=Constant(1.0)).generate(rng(), (2, 5))


def test_bad_rng_and_shape_mismatch_are_errors():
    with pytest.raises(ValueError, match="Generator"):
        Constant(0).initialize(torch.empty(2), object())
    with pytest.raises(ValueError, match="does not match"):
        Constant(0).initialize(torch.empty(2), rng(), shape=(3,))
