"""Each rule against torch.optim on identical parameters and gradients, 100 steps, to 1e-6.

The exact mappings (Blocks formulation -> torch.optim) tested here:

* ``Scale(lr)`` = ``SGD(lr)``
* ``Momentum(lr, m)`` = ``CompositeRule([Scale(lr), BasicMomentum(m)])`` = ``SGD(lr, momentum=m)``
* ``NesterovMomentum(lr, m)`` = ``SGD(lr, momentum=m, nesterov=True)``
* ``RMSProp(lr, d, max_scaling)`` = ``RMSprop(lr, alpha=d, eps=0)`` while the RMS stays above ``1/max_scaling``
* ``AdaGrad(lr, eps)`` = ``Adagrad(lr, eps=eps)``
* ``AdaDelta(d, eps)`` = ``Adadelta(lr=1, rho=d, eps=eps)``
* ``Adam(lr, b1, b2, eps=0)`` = ``Adam(lr, betas=(b1, b2), eps=0)``; with eps=1e-8 on both, within 1e-6
* ``CompositeRule([Adam(lr, eps=0), DecoupledWeightDecay(wd, lr)])`` = ``AdamW(lr, weight_decay=wd, eps=0)``
* ``CompositeRule([StepClipping(c), Scale(lr)])`` = ``clip_grad_norm_(c)`` + ``SGD(lr)`` (torch adds 1e-6 to the norm)
"""

from __future__ import annotations

import pytest
import torch

from blocks.algorithms import CompositeRule, Scale
from blocks_step_rules import (
    AdaDelta,
    AdaGrad,
    Adam,
    BasicMomentum,
    BasicNesterovMomentum,
    BasicRMSProp,
    DecoupledWeightDecay,
    Momentum,
    NesterovMomentum,
    RMSProp,
    StepClipping,
)

STEPS = 100

CASES = {
    "sgd": (lambda: Scale(0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    "momentum": (lambda: Momentum(0.05, 0.9), lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "basic_momentum": (
        lambda: CompositeRule([Scale(0.05), BasicMomentum(0.8)]),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8),
    ),
    "nesterov": (
        lambda: NesterovMomentum(0.05, 0.9),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "basic_nesterov": (
        lambda: CompositeRule([Scale(0.02), BasicNesterovMomentum(0.7)]),
        lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.7, nesterov=True),
    ),
    "rmsprop": (
        lambda: RMSProp(0.01, decay_rate=0.9, max_scaling=1e12),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0),
    ),
    "basic_rmsprop": (
        lambda: CompositeRule([BasicRMSProp(0.95, max_scaling=1e12), Scale(0.003)]),
        lambda ps: torch.optim.RMSprop(ps, lr=0.003, alpha=0.95, eps=0.0),
    ),
    "adagrad": (lambda: AdaGrad(0.1, 1e-6), lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-6)),
    "adadelta": (lambda: AdaDelta(0.95, 1e-6), lambda ps: torch.optim.Adadelta(ps, lr=1.0, rho=0.95, eps=1e-6)),
    "adam_exact": (
        lambda: Adam(0.01, 0.9, 0.999, epsilon=0.0),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=0.0),
    ),
    "adam_default_epsilon": (
        lambda: Adam(0.01, 0.8, 0.99),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-8),
    ),
    "adamw": (
        lambda: CompositeRule([Adam(0.01, epsilon=0.0), DecoupledWeightDecay(0.1, learning_rate=0.01)]),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1, eps=0.0),
    ),
}


@pytest.mark.parametrize("path", ["compute_steps", "update_parameters"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_matches_torch_optim(case, path, problem):
    make_rule, make_optimizer = CASES[case]
    start = problem.make_parameters()
    expected = problem.run_optimizer(make_optimizer, start, STEPS)
    rule = make_rule()
    actual = problem.make_parameters()
    rule.initialize(actual)
    problem.run_rule(rule, actual, STEPS, fused=path == "update_parameters")
    # the trajectories moved (the oracle is not trivially satisfied)
    assert max((expected[n] - start[n]).abs().max().item() for n in start) > 1e-2
    problem.assert_close(actual, expected)


def test_step_clipping_matches_clip_grad_norm(problem):
    start = problem.make_parameters()
    expected = problem.run_optimizer(
        lambda ps: torch.optim.SGD(ps, lr=0.05),
        start,
        STEPS,
        before_step=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.5),
    )
    rule = CompositeRule([StepClipping(1.5), Scale(0.05)])
    actual = problem.make_parameters()
    rule.initialize(actual)
    problem.run_rule(rule, actual, STEPS)
    problem.assert_close(actual, expected)


@pytest.mark.parametrize("fused", [False, True])
def test_step_clipping_against_clip_grad_norm_then_adam_float32(fused, problem):
    """The benchmarked chain in float32: CompositeRule([StepClipping, Adam]) vs clip_grad_norm_ + Adam(foreach)."""
    start = problem.make_parameters(dtype=torch.float32)
    expected = problem.run_optimizer(
        lambda ps: torch.optim.Adam(ps, lr=0.01, eps=0.0, foreach=True),
        start,
        STEPS,
        before_step=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0),
    )
    rule = CompositeRule([StepClipping(1.0), Adam(0.01, epsilon=0.0)])
    actual = problem.make_parameters(dtype=torch.float32)
    rule.initialize(actual)
    problem.run_rule(rule, actual, STEPS, fused=fused)
    problem.assert_close(actual, expected, tol=1e-5)
