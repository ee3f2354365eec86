"""Blocks' algorithm API: ``UpdatesAlgorithm``."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from blocks.algorithms import UpdatesAlgorithm
from blocks.graph import as_variable, scalar
from blocks.utils import shared_floatx


def test_updates_are_computed_from_the_old_values_then_assigned():
    n, m = shared_floatx(1), shared_floatx(0)
    algorithm = UpdatesAlgorithm(updates=[(n, as_variable(n) + 1)])
    algorithm.add_updates([(m, as_variable(n) % 2)])
    assert len(algorithm.updates) == 2
    algorithm.initialize()
    algorithm.process_batch({})
    assert (n.item(), m.item()) == (2.0, 1.0)  # m read n before n was updated
    algorithm.process_batch({})
    assert (n.item(), m.item()) == (3.0, 0.0)


def test_updates_read_batch_sources():
    n = shared_floatx(1)
    m = scalar("m")
    algorithm = UpdatesAlgorithm(updates=OrderedDict([(n, m + 1)]))
    algorithm.initialize()
    assert [v.name for v in algorithm.inputs] == ["m"]
    algorithm.process_batch({"m": 5})
    assert n.item() == 6.0
    with pytest.raises(ValueError, match="lacks the source"):
        algorithm.process_batch({})
    with pytest.raises(ValueError, match="not inputs of the graph"):
        algorithm.process_batch({"m": 1, "other": 2})
    UpdatesAlgorithm(updates=[(n, m + 1)], on_unused_sources="ignore")


def test_updates_after_initialize_are_compiled_in():
    n, m = shared_floatx(1), shared_floatx(5)
    algorithm = UpdatesAlgorithm(updates=[(n, as_variable(n) * 2)])
    algorithm.initialize()
    algorithm.add_updates([(m, 7.0)])
    algorithm.process_batch({})
    assert (n.item(), m.item()) == (2.0, 7.0)


def test_bad_updates_are_refused():
    n = shared_floatx(1)
    with pytest.raises(ValueError, match="OrderedDict, not a dict"):
        UpdatesAlgorithm(updates={n: as_variable(n) + 1})
    with pytest.raises(ValueError, match="pair"):
        UpdatesAlgorithm(updates=[(n,)])
    with pytest.raises(ValueError, match="target must be a tensor"):
        UpdatesAlgorithm(updates=[(3, as_variable(n))])
    with pytest.raises(ValueError, match="on_unused_sources"):
        UpdatesAlgorithm(on_unused_sources="maybe")
    with pytest.raises(ValueError, match="initialize"):
        UpdatesAlgorithm().process_batch({})
    algorithm = UpdatesAlgorithm()
    with pytest.raises(ValueError, match="list of"):
        algorithm.add_updates({n: 1})
    algorithm.initialize()
    algorithm.process_batch({})  # nothing to do
    assert torch.equal(n.detach(), torch.tensor(1.0))


def _weights():
    return shared_floatx([[1, 2], [3, 4]], name="W")


def test_gradient_descent_takes_gradients_as_expressions():
    from blocks.algorithms import GradientDescent

    for pairs in (OrderedDict, list):
        W = _weights()
        start = W.detach().clone()
        algorithm = GradientDescent(gradients=pairs([(W, 2 * as_variable(W))]))  # d/dW sum(W ** 2)
        algorithm.step_rule.learning_rate.fill_(0.75)
        algorithm.initialize()
        algorithm.process_batch({})
        assert torch.allclose(W.detach(), -0.5 * start) and algorithm.parameters == [W]


def test_given_gradients_are_used_exactly_and_must_fit_their_parameter():
    from blocks.algorithms import GradientDescent

    W = _weights()
    m = scalar("m")
    algorithm = GradientDescent(gradients=[(W, as_variable(W) * 0 + m)])  # a gradient read from the batch
    algorithm.initialize()
    algorithm.process_batch({"m": 0.5})
    assert torch.equal(W.detach(), torch.tensor([[0.5, 1.5], [2.5, 3.5]]))
    wrong = GradientDescent(gradients=[(W, as_variable(W).sum())])
    wrong.initialize()
    with pytest.raises(ValueError, match="shape"):
        wrong.process_batch({})


def test_gradients_follow_blocks_ordering_rules():
    from blocks.algorithms import GradientDescent

    W, z = _weights(), shared_floatx(5.0)
    with pytest.raises(ValueError, match="no cost"):
        GradientDescent(parameters=[W])
    with pytest.raises(ValueError, match="fixed order"):
        GradientDescent(gradients={W: 2 * as_variable(W)})
    with pytest.raises(ValueError, match="fixed order"):
        GradientDescent(parameters=[z], gradients={W: 2 * as_variable(W)})
    assert GradientDescent(parameters=[z], gradients=OrderedDict([(W, as_variable(W) / 2)])).parameters == [W]
    assert GradientDescent(parameters=[W], gradients={W: as_variable(W) / 2}).parameters == [W]  # same set
    with pytest.raises(ValueError, match="keys of gradients must be the parameters"):
        GradientDescent(gradients=[(3, as_variable(W))])


def test_gradient_descent_extra_updates_and_inputs():
    from blocks.algorithms import GradientDescent

    W, n, z = _weights(), shared_floatx(1.0), shared_floatx(5.0)
    m = scalar("m")
    cost = (as_variable(W) ** 2).sum()
    algorithm = GradientDescent(cost=cost, parameters=[W], updates=[(z, as_variable(z) + 1)])
    algorithm.add_updates([(n, as_variable(n) + m)])
    assert [target for target, _ in algorithm.updates] == [z, n]
    algorithm.initialize()
    assert [v.name for v in algorithm.inputs] == ["m"]
    algorithm.process_batch({"m": 2.0})
    assert (z.item(), n.item()) == (6.0, 3.0)
    with pytest.raises(ValueError, match="lacks the source"):
        algorithm.process_batch({})
