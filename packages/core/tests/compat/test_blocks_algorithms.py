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
