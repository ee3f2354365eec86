"""Initialization schemes: values, statistics, reproducibility from explicit generators."""

from __future__ import annotations

import math

import numpy
import pytest
import torch

from blocks.initialization import (
    Constant,
    GlorotUniform,
    Identity,
    IsotropicGaussian,
    Orthogonal,
    Sparse,
    SparseND,
    Uniform,
    glorot_fans,
)


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


# (shape in Blocks' layout, the same weight in torch's layout): Linear's W is (input, output), torch's (out, in);
# convolution kernels are (filters, channels, *size) in both
GLOROT_SHAPES = [((300, 200), (200, 300)), ((64, 3, 5, 5), (64, 3, 5, 5)), ((64, 32, 9), (64, 32, 9))]


@pytest.mark.parametrize(("shape", "torch_shape"), GLOROT_SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_glorot_uniform_matches_torch_xavier_uniform(shape, torch_shape, gain):
    ours = GlorotUniform(gain=gain).generate(rng(), shape)
    reference = torch.empty(torch_shape, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(reference, gain=gain, generator=torch.Generator().manual_seed(0))
    reference = reference.numpy()
    fan_in, fan_out = glorot_fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert GlorotUniform(gain=gain).bound(shape) == pytest.approx(bound, rel=1e-12)
    for values in (ours, reference):  # both fill [-bound, bound] uniformly
        assert numpy.abs(values).max() <= bound * (1 + 1e-6)
        assert numpy.abs(values).max() > 0.99 * bound
        assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
        assert abs(values.mean()) < 0.02 * bound
    assert ours.dtype == numpy.float32 and ours.shape == shape


def test_glorot_uniform_draws_uniform_values_with_the_formula_bound():
    fan_in, fan_out = 16 * 3 * 3, 32 * 3 * 3  # a (32 filters, 16 channels, 3, 3) kernel
    assert glorot_fans((32, 16, 3, 3)) == (fan_in, fan_out)
    assert glorot_fans((784, 100)) == (784, 100)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    expected = rng(7).uniform(-bound, bound, size=(32, 16, 3, 3))
    assert numpy.array_equal(GlorotUniform().draw(rng(7), (32, 16, 3, 3)), expected)
    tensor = torch.empty(32, 16, 3, 3, dtype=torch.float64)
    GlorotUniform().initialize(tensor, rng(7))
    assert numpy.array_equal(tensor.numpy(), expected)


def test_glorot_uniform_refuses_vectors_and_bad_gains():
    with pytest.raises(ValueError, match="two or more dimensions.*shape \\(5,\\)"):
        GlorotUniform().generate(rng(), (5,))
    with pytest.raises(ValueError, match="two or more dimensions"):
        glorot_fans(())
    for gain in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="gain"):
            GlorotUniform(gain=gain)
    assert "GlorotUniform" in repr(GlorotUniform(2.0)) and "gain=2.0" in repr(GlorotUniform(2.0))
