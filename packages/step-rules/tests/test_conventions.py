"""Hyper-parameter conventions: Blocks' that changed (Adam's betas) and values never sensible in ours."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import pytest
import torch

from blocks_step_rules import (
    AdaDelta,
    Adam,
    BasicMomentum,
    BasicNesterovMomentum,
    BasicRMSProp,
    Momentum,
    NesterovMomentum,
    RMSProp,
)


def test_adam_in_the_complement_convention_of_blocks_releases_is_an_error_that_says_what_to_write():
    with pytest.raises(ValueError, match=r"beta2=0\.001.*never sensible.*Adam\(beta1=0\.9, beta2=0\.999\)"):
        Adam(beta1=0.1, beta2=0.001)
    with pytest.raises(ValueError, match=r"Adam\(beta1=0\.1, beta2=0\.9\)"):
        Adam(beta2=0.1)  # beta1 left at 0.9: the literal conversion of what was written
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta1=0.0, beta2=0.49)


@pytest.mark.parametrize("beta1", [0.0, 0.5, 0.9, 0.99])
def test_adam_accepts_sensible_betas_silently(beta1):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Adam(beta1=beta1, beta2=0.5)
        Adam(beta1=beta1, beta2=0.999)


def test_adam_warns_of_a_small_beta1_with_the_conversion():
    with pytest.warns(UserWarning, match=r"beta1=0\.1.*Adam\(beta1=0\.9, beta2=0\.001\)"):
        Adam(beta1=0.1)


def _blocks_adam(gradients, learning_rate, beta1, beta2, epsilon, decay_factor):
    """Blocks' Adam.compute_step (master since January 2017), one parameter, in Python floats."""
    mean = variance = 0.0
    steps = []
    for t, g in enumerate(gradients, start=1):
        beta_1_decayed = beta1 * decay_factor ** (t - 1)
        rate = learning_rate * math.sqrt(1.0 - beta2**t) / (1.0 - beta_1_decayed**t)
        mean = beta_1_decayed * mean + (1.0 - beta_1_decayed) * g
        variance = beta2 * variance + (1.0 - beta2) * g * g
        steps.append(rate * mean / (math.sqrt(variance) + epsilon))
    return steps


@pytest.mark.parametrize("decay_factor", [1.0, 0.9, 0.5])
def test_adam_decay_factor_as_blocks(decay_factor):
    gradients = [0.3, -1.2, 0.7, 2.0, -0.1, 0.4]
    rule = Adam(0.01, 0.8, 0.99, epsilon=1e-3, decay_factor=decay_factor)
    rule.initialize(OrderedDict(w=torch.zeros(1, dtype=torch.float64)))
    ours = [rule.compute_steps([torch.zeros(1, dtype=torch.float64)], [torch.full((1,), g, dtype=torch.float64)])[0]
            .item() for g in gradients]
    expected = _blocks_adam(gradients, 0.01, 0.8, 0.99, 1e-3, decay_factor)
    assert ours == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="decay_factor"):
        Adam(decay_factor=0.0)
    with pytest.raises(ValueError, match="decay_factor"):
        Adam(decay_factor=1.5)


@pytest.mark.parametrize("make", [lambda m: Momentum(0.1, m), BasicMomentum, lambda m: NesterovMomentum(0.1, m),
                                  BasicNesterovMomentum])
def test_momentum_is_the_coefficient_and_below_one(make):
    for momentum in (1.0, 1.1, -1.0, 9.0):
        with pytest.raises(ValueError, match=r"momentum.*grow without bound"):
            make(momentum)
    for momentum in (0.0, 0.9, 0.99, -0.5):  # negative momentum has uses (games, GANs)
        make(momentum)


@pytest.mark.parametrize("make", [AdaDelta, BasicRMSProp, lambda rate: RMSProp(0.01, decay_rate=rate)])
def test_a_decay_rate_of_one_is_an_error(make):
    with pytest.raises(ValueError, match=r"decay_rate must be in \[0, 1\)"):
        make(1.0)
    make(0.0)
    make(0.95)
