"""Momentum and NesterovMomentum have their own state; the composite layout they used to save still loads.

Before they were plain step rules, ``Momentum(lr, m)`` was ``CompositeRule([Scale(lr), BasicMomentum(m)])``
(and Nesterov likewise), so a checkpoint written then holds exactly that composite's state. The tests write
that layout with the composite itself, through the real checkpoint code, and resume it into the new rules.
"""

from __future__ import annotations

import copy
import json
import tarfile

import numpy
import pytest
import torch

from blocks.algorithms import CompositeRule, GradientDescent, Scale
from blocks_step_rules import BasicMomentum, BasicNesterovMomentum, Momentum, NesterovMomentum

PAIRS = {
    "momentum": (lambda: CompositeRule([Scale(0.05), BasicMomentum(0.9)]), lambda: Momentum(0.05, 0.9)),
    "nesterov_momentum": (
        lambda: CompositeRule([Scale(0.05), BasicNesterovMomentum(0.9)]),
        lambda: NesterovMomentum(0.05, 0.9),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_fused_rule_has_its_own_flat_state(name):
    rule = PAIRS[name][1]()
    rule.initialize({"w": torch.zeros(3)})
    state = rule.state_dict()
    assert "components" not in state
    assert sorted(state["hyperparameters"]) == ["learning_rate", "momentum"]
    assert sorted(state["buffers"]) == ["velocity"]
    assert not isinstance(rule, CompositeRule)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_fused_rule_computes_the_composites_steps(name, fused, problem):
    make_composite, make_rule = PAIRS[name]
    expected = problem.make_parameters()
    composite = make_composite()
    composite.initialize(expected)
    problem.run_rule(composite, expected, 50, fused=fused)
    actual = problem.make_parameters()
    rule = make_rule()
    rule.initialize(actual)
    problem.run_rule(rule, actual, 50, fused=fused)
    for key in expected:
        if fused:  # the fused update scales inside the velocity update: equal up to rounding
            torch.testing.assert_close(actual[key], expected[key], rtol=1e-12, atol=1e-12)
        else:
            assert torch.equal(actual[key], expected[key]), key


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_old_composite_state_resumes_into_fused_rule(name, problem):
    make_composite, make_rule = PAIRS[name]
    parameters = problem.make_parameters()
    composite = make_composite()
    composite.initialize(parameters)
    problem.run_rule(composite, parameters, 30)
    old_state = copy.deepcopy(composite.state_dict())
    assert "components" in old_state
    snapshot = copy.deepcopy(parameters)
    problem.run_rule(composite, parameters, 30, start=30)

    rule = make_rule()
    restored = copy.deepcopy(snapshot)
    rule.initialize(restored)
    rule.load_state_dict(old_state)
    assert rule.learning_rate.item() == 0.05 and rule.momentum.item() == 0.9
    problem.run_rule(rule, restored, 30, start=30)
    for key in parameters:
        assert torch.equal(parameters[key], restored[key]), key


def _composite_state():
    composite = CompositeRule([Scale(0.05), BasicMomentum(0.9)])
    composite.initialize({"w": torch.zeros(3)})
    return copy.deepcopy(composite.state_dict())


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s["components"].pop(),
        lambda s: s["components"].reverse(),
        lambda s: s["components"][1]["buffers"].pop("velocity"),
        lambda s: s["components"][0]["hyperparameters"].pop("learning_rate"),
        lambda s: s.__setitem__("components", "not a list"),
        lambda s: s["components"].__setitem__(0, 3),
        lambda s: s["hyperparameters"].__setitem__("extra", torch.tensor(1.0)),
    ],
)
def test_malformed_composite_layout_is_refused_without_change(damage):
    state = _composite_state()
    state["components"][1]["buffers"]["velocity"]["w"] = torch.ones(3)
    damage(state)
    rule = Momentum(0.5, 0.5)
    rule.initialize({"w": torch.zeros(3)})
    with pytest.raises(ValueError, match="Momentum"):
        rule.load_state_dict(state)
    assert rule.learning_rate.item() == 0.5 and torch.equal(rule.buffer_list("velocity")[0], torch.zeros(3))


def _training(step_rule, extensions):
    from blocks.bricks import Linear
    from blocks.bricks.cost import SquaredError
    from blocks.graph import matrix
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import ShuffledScheme
    from fuel.streams import DataStream

    rng = numpy.random.default_rng(0)
    features = rng.normal(size=(24, 3)).astype("float32")
    targets = numpy.sin(features.sum(axis=1, keepdims=True)).astype("float32")
    x, y = matrix("features"), matrix("targets")
    linear = Linear(3, 1, weights_init=IsotropicGaussian(0.3), biases_init=Constant(0.1), seed=1)
    linear.initialize()
    cost = SquaredError().apply(y, linear.apply(x))
    cost.name = "cost"
    model = Model(cost)
    stream = DataStream(IndexableDataset({"features": features, "targets": targets}),
                        iteration_scheme=ShuffledScheme(24, batch_size=4, rng=3))
    loop = MainLoop(GradientDescent(cost=cost, step_rule=step_rule), stream, model=model, extensions=extensions)
    return loop, model


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_checkpoint_written_with_composite_layout_resumes_exactly(name, tmp_path):
    """A real checkpoint in the layout Momentum/NesterovMomentum saved before they were plain rules resumes."""
    from blocks.extensions import Checkpoint, FinishAfter

    make_composite, make_rule = PAIRS[name]
    path = str(tmp_path / "old.tar")
    uninterrupted, model = _training(make_composite(), [FinishAfter(after_n_batches=14)])
    uninterrupted.run()
    expected = model.get_parameter_values()

    old, _ = _training(make_composite(), [Checkpoint(path, after_training=True), FinishAfter(after_n_batches=9)])
    old.run()
    with tarfile.open(path) as tar:
        saved = json.loads(tar.extractfile("state.json").read())
    assert "components" in saved["main_loop"]["algorithm"]["step_rule"]  # the old layout

    resumed, model = _training(make_rule(), [FinishAfter(after_n_batches=14)])
    resumed.resume(path)
    resumed.run()
    assert resumed.status["iterations_done"] == 14
    for key, value in model.get_parameter_values().items():
        numpy.testing.assert_allclose(value, expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
