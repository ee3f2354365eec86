"""The process-wide tape does not keep the graphs of models nobody holds (node counts, not time).

Before, every node ever recorded stayed on the tape, and with it every model's parameters and bricks: memory grew
by ~0.1 MB per small model built. Now a graph lives as long as something holds it (a variable, a computation
graph, a compiled function's algorithm, a replacement built on it); held graphs keep working.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.fx as fx

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, BatchNormalizedMLP, Softmax, Tanh
from blocks.bricks.cost import CategoricalCrossEntropy
from blocks.filter import VariableFilter
from blocks.graph import (
    ComputationGraph,
    apply_batch_normalization,
    apply_dropout,
    apply_noise,
    as_variable,
    get_tape,
    lmatrix,
    matrix,
)
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import INPUT, WEIGHT

BATCH = {"features": torch.linspace(-1, 1, 12).reshape(3, 4), "targets": torch.tensor([[0], [2], [1]])}


def _tape_nodes() -> int:
    """Nodes recorded on the tape that are alive, counted by the garbage collector (no API of the tape)."""
    gc.collect()
    tape = get_tape()
    return sum(1 for o in gc.get_objects() if type(o) is fx.Node and o.graph is tape)


def _model(mlp_class=MLP):
    x, y = matrix("features"), lmatrix("targets").flatten()
    mlp = mlp_class([Tanh(), Softmax()], [4, 5, 3], weights_init=IsotropicGaussian(0.3), biases_init=Constant(0.1))
    cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
    cost.name = "cost"
    return mlp, cost


def _train_one(cost):
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))
    algorithm.initialize()
    algorithm.process_batch(BATCH)
    return algorithm


def test_graphs_of_dropped_models_are_freed():
    for _ in range(3):
        _train_one(_model()[1])
    few = _tape_nodes()
    for _ in range(12):
        _train_one(_model()[1])
    assert _tape_nodes() <= few  # was: grows by one model's nodes per model (about 40 each)
    assert len(get_tape().nodes) <= 1
    assert get_tape().live_nodes() <= few


def test_parameters_and_bricks_of_a_dropped_model_are_freed():
    mlp, cost = _model()
    algorithm = _train_one(cost)
    weight = weakref.ref(mlp.linear_transformations[0].W)
    brick = weakref.ref(mlp)
    del mlp, cost, algorithm
    _model()  # the tape keeps its newest node: record something else
    gc.collect()
    assert weight() is None and brick() is None


def test_held_graphs_keep_working_while_others_are_freed():
    mlp, cost = _model()
    cg = ComputationGraph([cost])
    expected = cg.compile()(BATCH)[0].item()
    cost_inputs = VariableFilter(roles=[INPUT], bricks=[CategoricalCrossEntropy])(cg.variables)
    del cg
    for _ in range(5):
        _train_one(_model()[1])
    gc.collect()
    rebuilt = ComputationGraph([cost])  # from the variable alone: its whole graph is still there
    assert rebuilt.compile()(BATCH)[0].item() == expected
    assert rebuilt.parameters == [p for lin in mlp.linear_transformations for p in (lin.W, lin.b)]
    assert [v.name for v in rebuilt.auxiliary_variables] == ["W_norm", "b_norm", "W_norm", "b_norm"]
    assert len(cost_inputs) == 2 and all(v in rebuilt.variables for v in cost_inputs)
    algorithm = _train_one(cost)
    assert algorithm.parameters == rebuilt.parameters


def test_transformed_graphs_keep_the_original_alive_and_each_works_alone():
    mlp, cost = _model()
    cg = ComputationGraph([cost])
    clean = cg.compile()(BATCH)[0].item()
    weights = VariableFilter(roles=[WEIGHT])(cg.variables)
    noisy = apply_noise(apply_dropout(cg, VariableFilter(roles=[INPUT], bricks=[Tanh])(cg.variables), 0.5, seed=1),
                        weights, 0.1, seed=2)
    noisy_value = noisy.compile()(BATCH)[0].item()
    del cg, weights
    _model()
    gc.collect()
    assert noisy.compile()(BATCH)[0].item() != clean  # a fresh draw, but the graph is whole
    original = noisy.outputs[0].meta["replacement_of"]
    assert ComputationGraph([original]).compile()(BATCH)[0].item() == clean
    assert isinstance(noisy_value, float)
    batch_normalized = apply_batch_normalization(ComputationGraph([_model(BatchNormalizedMLP)[1]]))
    gc.collect()
    assert len(batch_normalized.updates) == 4 and torch.isfinite(batch_normalized.compile()(BATCH)[0])


def test_a_parameter_keeps_one_node_while_graphs_use_it_and_a_new_one_after():
    mlp, _ = _model()
    linear = mlp.linear_transformations[0]
    first = linear.apply(matrix("features")).sum()
    second = (linear.apply(matrix("features")) ** 2).sum()
    nodes = [n for cg in (ComputationGraph([first]), ComputationGraph([second])) for n in cg._nodes
             if n.op == "get_attr" and n.meta["tensor"] is linear.W]
    assert len(nodes) == 2 and nodes[0] is nodes[1]  # one node per tensor while it is alive
    del first, second, nodes
    _model()
    gc.collect()
    again = ComputationGraph([linear.apply(matrix("features")).sum()])
    replaced = again.replace({linear.W: as_variable(linear.W) * 2})  # tensor keys still find the parameter's node
    value, doubled = again.compile()(BATCH)[0].item(), replaced.compile()(BATCH)[0].item()
    # sum(x W) once more; both sides cancel float32 sums of order 1, so their error is absolute (about 1e-7)
    assert doubled - value == pytest.approx(value - 3 * linear.b.sum().item(), rel=1e-4, abs=1e-5)


def test_a_recurrent_graph_survives_collection():
    rnn = pytest.importorskip("blocks_rnn")
    from blocks.bricks import Linear
    from blocks.graph import tensor3

    lstm = rnn.LSTM(dim=3, weights_init=IsotropicGaussian(0.3), name="lstm")
    fork = Linear(2, 12, weights_init=IsotropicGaussian(0.3), biases_init=Constant(0), name="fork")
    states, _ = lstm.apply(fork.apply(tensor3("x")))
    cost = states.pow(2).mean()
    sequences = {"x": torch.ones(4, 2, 2)}
    expected = ComputationGraph([cost]).compile()(sequences)[0].item()
    for _ in range(3):
        _train_one(_model()[1])
    gc.collect()
    assert ComputationGraph([cost]).compile()(sequences)[0].item() == expected
    assert {p._blocks_name for p in ComputationGraph([cost]).parameters} >= {"W_state", "initial_state"}
