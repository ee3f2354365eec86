"""Numerical-stability rewrites at compile time (Theano's stability optimizations) and the stable eager costs.

For each rewrite: it shows in ``graph_module.code``; where the naive expression is finite (and not clamped),
the rewritten graph gives the same values and gradients (float64, ``rtol=1e-12, atol=1e-12``); where the naive
expression overflows, underflows or loses every digit, the rewritten one gives the right finite values and
gradients (against closed forms computed with :mod:`math`).
"""

from __future__ import annotations

import logging
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Identity, Logistic, Softmax, Tanh
from blocks.bricks.cost import BinaryCrossEntropy, CategoricalCrossEntropy
from blocks.config import ConfigurationError, config
from blocks.graph import ComputationGraph, lmatrix, lvector, matrix
from blocks.graph.rewrites import apply_rewrites, resolve_rewrites
from blocks.initialization import Constant, IsotropicGaussian
from blocks.stability import REWRITES, parse_rewrites

CLOSE = {"rtol": 1e-12, "atol": 1e-12}  # float64: the rewritten form equals the naive one where that is finite


def _values_and_gradient(expression, inputs, rewrites, wrt="x"):
    """Compiled ``expression`` (of matrix inputs named in ``inputs``): its value and d(sum)/d inputs[wrt]."""
    fn = ComputationGraph([expression]).compile(rewrites=rewrites)
    leaf = inputs[wrt].detach().clone().requires_grad_()
    (value,) = fn({**inputs, wrt: leaf})
    (gradient,) = torch.autograd.grad(value.sum(), leaf)
    return fn, value.detach(), gradient


def _check_equal_where_finite(expression, inputs, name, wrt="x"):
    """float64: the rewritten graph gives the naive graph's values and gradients (``CLOSE``)."""
    fn, value, gradient = _values_and_gradient(expression, inputs, None, wrt)
    naive_fn, naive, naive_gradient = _values_and_gradient(expression, inputs, False, wrt)
    assert fn.rewrites_applied == {name: 1} and naive_fn.rewrites_applied == {}
    assert value.dtype == torch.float64
    assert torch.isfinite(naive).all() and torch.isfinite(naive_gradient).all()
    torch.testing.assert_close(value, naive, **CLOSE)
    torch.testing.assert_close(gradient, naive_gradient, **CLOSE)
    return fn


def x64(name="x"):
    return matrix(name, dtype="float64")


def _random(*shape, scale=1.0, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * scale


# ------------------------------------------------------------------------------------------------ each rewrite
def test_log_softmax():
    fn = _check_equal_where_finite(torch.log(torch.softmax(x64(), dim=-1)), {"x": _random(4, 5)}, "log_softmax")
    x = matrix("x")  # float32: softmax([0, 0, 120]) rounds to [0, 0, 1]
    assert "log_softmax" in fn.graph_module.code and "torch.log(" not in fn.graph_module.code
    # saturated: log(softmax) is -inf and its gradient NaN; log_softmax is exact
    _, value, gradient = _values_and_gradient(torch.log(torch.softmax(x, dim=-1))[:, 0],
                                              {"x": torch.tensor([[0.0, 0.0, 120.0]])}, None)
    assert value.tolist() == [-120.0]
    torch.testing.assert_close(gradient, torch.tensor([[1.0, 0.0, -1.0]]))
    _, naive, naive_gradient = _values_and_gradient(torch.log(torch.softmax(x, dim=-1))[:, 0],
                                                    {"x": torch.tensor([[0.0, 0.0, 120.0]])}, False)
    assert naive.tolist() == [-math.inf] and torch.isnan(naive_gradient).any()  # what the rewrite prevents


@pytest.mark.parametrize("spelling", ["function", "method", "functional", "dim0"])
def test_log_softmax_spellings(spelling):
    x = x64()
    expression = {"function": lambda: torch.softmax(x, dim=-1).log(),
                  "method": lambda: torch.log(x.softmax(-1)),
                  "functional": lambda: torch.log(F.softmax(x, dim=-1)),
                  "dim0": lambda: torch.log(torch.softmax(x, dim=0))}[spelling]()
    _check_equal_where_finite(expression, {"x": _random(3, 4)}, "log_softmax")


def test_categorical_crossentropy_of_a_softmax_output_uses_the_logits():
    y = lvector("y")
    inputs = {"x": _random(6, 4, scale=3.0), "y": torch.tensor([0, 1, 2, 3, 1, 0])}
    fn = _check_equal_where_finite(CategoricalCrossEntropy().apply(y, Softmax().apply(x64())), inputs,
                                   "categorical_crossentropy_softmax")
    cost = CategoricalCrossEntropy().apply(y, Softmax().apply(matrix("x")))  # float32, the case
    assert "_categorical_cross_entropy_of_logits" in fn.graph_module.code and "softmax" not in fn.graph_module.code
    # the case: logits [0, 0, 120]; confident and wrong (target 0), confident and right (target 2)
    logits = torch.tensor([[0.0, 0.0, 120.0]])
    _, wrong, wrong_gradient = _values_and_gradient(cost, {"x": logits, "y": torch.tensor([0])}, None)
    assert wrong.item() == 120.0
    assert wrong_gradient.tolist() == [[-1.0, 0.0, 1.0]]
    _, right, right_gradient = _values_and_gradient(cost, {"x": logits, "y": torch.tensor([2])}, None)
    assert right.item() == 0.0 and torch.isfinite(right_gradient).all()
    torch.testing.assert_close(right_gradient, torch.zeros(1, 3))
    _, naive, _ = _values_and_gradient(cost, {"x": logits, "y": torch.tensor([0])}, False)
    assert naive.item() == math.inf  # without the rewrite


def test_categorical_crossentropy_with_one_hot_targets_and_a_softmax_used_elsewhere():
    x, y = x64(), x64("y")
    probabilities = Softmax().apply(x)
    cost = CategoricalCrossEntropy().apply(y, probabilities)
    targets = F.one_hot(torch.tensor([2, 0, 1]), 3).double()
    inputs = {"x": _random(3, 3), "y": targets}
    _check_equal_where_finite(cost, inputs, "categorical_crossentropy_softmax")
    both = ComputationGraph([cost, probabilities]).compile()  # the softmax stays for the other output
    assert both.rewrites_applied == {"categorical_crossentropy_softmax": 1} and "softmax" in both.graph_module.code
    cost_value, probability_values = both(inputs)
    torch.testing.assert_close(probability_values, torch.softmax(inputs["x"], -1), **CLOSE)
    torch.testing.assert_close(cost_value, -(targets * torch.log_softmax(inputs["x"], -1)).sum(-1).mean(), **CLOSE)
    # saturated (float32): 0 * log(0) gave NaN; now 120 exactly
    cost = CategoricalCrossEntropy().apply(matrix("y"), Softmax().apply(matrix("x")))
    _, value, gradient = _values_and_gradient(cost, {"x": torch.tensor([[0.0, 0.0, 120.0]]),
                                                     "y": torch.tensor([[1.0, 0.0, 0.0]])}, None)
    assert value.item() == 120.0 and gradient.tolist() == [[-1.0, 0.0, 1.0]]


def test_categorical_crossentropy_of_a_softmax_over_another_axis_is_left_alone():
    x, y = matrix("x"), lvector("y")
    cost = CategoricalCrossEntropy().apply(y, torch.softmax(x, dim=0))
    fn = ComputationGraph([cost]).compile()
    assert fn.rewrites_applied == {}


def test_binary_crossentropy_of_a_sigmoid_output_uses_the_logits():
    inputs = {"x": _random(4, 3, scale=2.0), "y": (_random(4, 3, seed=1) > 0).double()}
    fn = _check_equal_where_finite(BinaryCrossEntropy().apply(x64("y"), Logistic().apply(x64())), inputs,
                                   "binary_crossentropy_sigmoid")
    cost = BinaryCrossEntropy().apply(matrix("y"), Logistic().apply(matrix("x")))
    assert "_binary_cross_entropy_of_logits" in fn.graph_module.code and "sigmoid" not in fn.graph_module.code
    # saturated: sigmoid(200) is 1.0, torch clamps log(0) to -100: cost 100 and gradient 0; exact: 200 and 1
    saturated = {"x": torch.tensor([[200.0]]), "y": torch.tensor([[0.0]])}
    _, value, gradient = _values_and_gradient(cost, saturated, None)
    assert value.item() == 200.0 and gradient.item() == 1.0
    _, naive, naive_gradient = _values_and_gradient(cost, saturated, False)
    assert naive.item() == 100.0 and naive_gradient.item() == 0.0  # clamped: what the rewrite prevents


def test_functional_binary_cross_entropy_of_a_sigmoid():
    x, y = x64(), x64("y")
    expression = F.binary_cross_entropy(torch.sigmoid(x), y, reduction="none")
    inputs = {"x": _random(4, 3), "y": torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator())}
    fn = _check_equal_where_finite(expression, inputs, "binary_crossentropy_sigmoid")
    assert "binary_cross_entropy_with_logits" in fn.graph_module.code


def test_log_sigmoid():
    x = x64()
    for expression in (torch.log(torch.sigmoid(x)), x.sigmoid().log(), torch.log(torch.special.expit(x))):
        fn = _check_equal_where_finite(expression, {"x": _random(3, 4, scale=4.0)}, "log_sigmoid")
        assert "log_sigmoid" in fn.graph_module.code
    x = matrix("x")
    _, value, gradient = _values_and_gradient(torch.log(torch.sigmoid(x)), {"x": torch.tensor([[-200.0]])}, None)
    assert value.item() == -200.0 and gradient.item() == 1.0  # naive: log(0) = -inf


def test_log1p():
    x = x64()
    for expression in (torch.log(1 + x), torch.log(x + 1), (x + 1.0).log(), torch.log(torch.add(x, 1))):
        fn = _check_equal_where_finite(expression, {"x": _random(3, 4).abs() + 0.5}, "log1p")
        assert "log1p" in fn.graph_module.code
    x = matrix("x")
    tiny = torch.tensor([[1e-10]])  # float32: 1 + 1e-10 == 1, so log gives 0 (every digit lost)
    _, value, gradient = _values_and_gradient(torch.log(1 + x), {"x": tiny}, None)
    assert value.item() == pytest.approx(math.log1p(1e-10), rel=1e-6) and gradient.item() == pytest.approx(1.0)
    assert _values_and_gradient(torch.log(1 + x), {"x": tiny}, False)[1].item() == 0.0
    for other in (torch.log(2 + x), torch.log(x + x), torch.log(torch.add(x, 1, alpha=2))):  # not log(1 + x)
        assert ComputationGraph([other]).compile().rewrites_applied == {}


def test_expm1():
    x = x64()
    for expression in (torch.exp(x) - 1, x.exp() - 1.0, torch.sub(torch.exp(x), 1), -1 + torch.exp(x)):
        fn = _check_equal_where_finite(expression, {"x": _random(3, 4)}, "expm1")
        assert "expm1" in fn.graph_module.code
    x = matrix("x")
    tiny = torch.tensor([[1e-10]])
    _, value, gradient = _values_and_gradient(torch.exp(x) - 1, {"x": tiny}, None)
    assert value.item() == pytest.approx(math.expm1(1e-10), rel=1e-6) and gradient.item() == pytest.approx(1.0)
    assert _values_and_gradient(torch.exp(x) - 1, {"x": tiny}, False)[1].item() == 0.0
    assert ComputationGraph([1 - torch.exp(x)]).compile().rewrites_applied == {}


@pytest.mark.parametrize("form", ["all", "dim", "method_dims", "keepdim"])
def test_logsumexp(form):
    x = x64()
    expression = {"all": lambda: torch.log(torch.sum(torch.exp(x))),
                  "dim": lambda: torch.log(torch.exp(x).sum(1)),
                  "method_dims": lambda: x.exp().sum(dim=(0, 1)).log(),
                  "keepdim": lambda: torch.log(torch.sum(torch.exp(x), dim=0, keepdim=True))}[form]()
    fn = _check_equal_where_finite(expression, {"x": _random(3, 4)}, "logsumexp")
    assert "logsumexp" in fn.graph_module.code
    big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], dtype=torch.float64)
    _, value, gradient = _values_and_gradient(expression, {"x": big}, None)
    assert torch.isfinite(value).all() and torch.isfinite(gradient).all()
    expected = {"all": [1000 + math.log(2)], "method_dims": [1000 + math.log(2)],  # e^-2000 adds nothing
                "dim": [1000 + math.log(2), -1000 + math.log(2)], "keepdim": [1000.0, 1000.0]}[form]
    assert value.reshape(-1).tolist() == pytest.approx(expected, rel=1e-15)
    if form == "dim":
        torch.testing.assert_close(gradient, torch.full((2, 2), 0.5, dtype=torch.float64))
    _, naive, _ = _values_and_gradient(expression, {"x": big}, False)
    assert not torch.isfinite(naive).all()


def test_a_sum_with_a_dtype_is_left_alone():
    x = matrix("x")
    assert ComputationGraph([torch.log(torch.exp(x).sum(dtype=torch.float64))]).compile().rewrites_applied == {}


# ------------------------------------------------------------------------------------------------ switches
def test_documented_list_and_switches():
    assert list(REWRITES) == ["log_softmax", "categorical_crossentropy_softmax", "binary_crossentropy_sigmoid",
                              "log_sigmoid", "log1p", "expm1", "logsumexp"]
    x = matrix("x")
    cg = ComputationGraph([torch.log(1 + x), torch.exp(x) - 1])
    assert cg.compile().rewrites == tuple(REWRITES)  # on by default
    assert cg.compile(rewrites=False).rewrites_applied == {}
    assert cg.compile(rewrites="all -expm1").rewrites_applied == {"log1p": 1}
    assert cg.compile(rewrites=["expm1"]).rewrites_applied == {"expm1": 1}
    with config.override(stability_rewrites="none"):
        assert cg.compile().rewrites_applied == {}
        assert cg.compile(rewrites=True).rewrites_applied == {"log1p": 1, "expm1": 1}  # per compile wins
    with pytest.raises(ValueError, match="unknown stability rewrite.*valid names: log_softmax"):
        cg.compile(rewrites=["log1p", "logsoftmax"])
    with pytest.raises(ValueError, match="only names to leave out"):
        parse_rewrites("all log1p")
    assert parse_rewrites("log1p, expm1") == ("log1p", "expm1") == resolve_rewrites(("expm1", "log1p"))


def test_config_precedence_code_over_env_over_file(tmp_path, monkeypatch):
    rc = tmp_path / "blocksrc.yaml"
    rc.write_text("stability_rewrites: [log1p]\n")
    monkeypatch.setenv("BLOCKS_CONFIG", str(rc))
    monkeypatch.delenv("BLOCKS_STABILITY_REWRITES", raising=False)
    config.reset()
    try:
        assert config.stability_rewrites == ("log1p",) and config.source("stability_rewrites") == "file"
        monkeypatch.setenv("BLOCKS_STABILITY_REWRITES", "none")
        assert config.stability_rewrites == ()
        with config.override(stability_rewrites="all -logsumexp"):
            assert config.stability_rewrites == tuple(REWRITES)[:-1]
        monkeypatch.setenv("BLOCKS_STABILITY_REWRITES", "log_softmaxx")
        with pytest.raises(ConfigurationError, match="log_softmaxx"):
            config.stability_rewrites
    finally:
        monkeypatch.delenv("BLOCKS_CONFIG")
        config.reset()


def test_the_annotated_graph_is_untouched_and_rewrites_run_once_per_compile():
    x, y = matrix("x"), lvector("y")
    probabilities = Softmax().apply(x)
    cost = CategoricalCrossEntropy().apply(y, probabilities)
    cg = ComputationGraph([cost])
    before = [v.node for v in cg.variables]
    fn = cg.compile()
    assert [v.node for v in cg.variables] == before and any(v == probabilities for v in cg.variables)
    fn.graph_module.graph.lint()
    batch = {"x": _random(2, 3).float(), "y": torch.tensor([0, 1])}
    assert torch.isfinite(fn(batch)[0])
    assert cg.compile(rewrites=False)(batch)[0].item() == pytest.approx(fn(batch)[0].item(), rel=1e-6)


def test_apply_rewrites_on_a_bare_graph_removes_the_dead_pattern():
    import torch.fx as fx

    graph = fx.Graph()
    x = graph.placeholder("x")
    softmax = graph.call_function(torch.softmax, (x,), {"dim": -1})
    graph.output(graph.call_function(torch.log, (softmax,)))
    assert apply_rewrites(graph, tuple(REWRITES)) == {"log_softmax": 1}
    assert [n.target for n in graph.nodes if n.op == "call_function"] == [torch.log_softmax]


# ------------------------------------------------------------------------------------------------ eager costs
def test_eager_categorical_crossentropy_of_a_softmax_output_is_stable():
    logits = torch.tensor([[0.0, 0.0, 120.0]], requires_grad=True)
    probabilities = Softmax().apply(logits)
    wrong = CategoricalCrossEntropy().apply(torch.tensor([0]), probabilities)
    (gradient,) = torch.autograd.grad(wrong, logits)
    assert wrong.item() == 120.0 and gradient.tolist() == [[-1.0, 0.0, 1.0]]
    right = CategoricalCrossEntropy().apply(torch.tensor([2]), Softmax().apply(logits))
    (gradient,) = torch.autograd.grad(right, logits)
    assert right.item() == 0.0 and gradient.tolist() == [[0.0, 0.0, 0.0]]


def test_eager_categorical_crossentropy_of_plain_probabilities_gathers_before_the_log():
    logits = torch.tensor([[0.0, 0.0, 120.0]], requires_grad=True)
    probabilities = torch.softmax(logits, -1)  # not the Softmax brick: no logits known
    right = CategoricalCrossEntropy().apply(torch.tensor([2]), probabilities)
    (gradient,) = torch.autograd.grad(right, logits)
    assert right.item() == 0.0 and torch.isfinite(gradient).all()  # was [[nan, nan, nan]]
    one_hot = CategoricalCrossEntropy().apply(torch.tensor([[0.0, 0.0, 1.0]]), torch.softmax(logits, -1))
    (gradient,) = torch.autograd.grad(one_hot, logits)
    assert one_hot.item() == 0.0 and torch.isfinite(gradient).all()
    p = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    y = torch.tensor([1])
    torch.testing.assert_close(CategoricalCrossEntropy().apply(y, p), -torch.log(p[0, 1]), **CLOSE)


def test_eager_tag_is_dropped_when_either_tensor_changes_in_place():
    logits = torch.tensor([[0.0, 0.0, 120.0]])
    probabilities = Softmax().apply(logits)
    probabilities.mul_(1.0)  # edited: the costs must use what the tensor holds now
    assert CategoricalCrossEntropy().apply(torch.tensor([0]), probabilities).item() == math.inf
    logits = torch.tensor([[0.0, 0.0, 120.0]])
    probabilities = Softmax().apply(logits)
    logits.zero_()
    assert CategoricalCrossEntropy().apply(torch.tensor([0]), probabilities).item() == math.inf


def test_eager_binary_crossentropy_of_a_logistic_output_is_stable():
    logits = torch.tensor([[200.0, -200.0]], requires_grad=True)
    cost = BinaryCrossEntropy().apply(torch.tensor([[0.0, 1.0]]), Logistic().apply(logits))
    (gradient,) = torch.autograd.grad(cost, logits)
    assert cost.item() == 400.0 and gradient.tolist() == [[1.0, -1.0]]
    probabilities = torch.tensor([[0.25, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(BinaryCrossEntropy().apply(torch.tensor([[0.0, 1.0]], dtype=torch.float64),
                                                          probabilities),
                               -(math.log(0.75) + math.log(0.5)) * torch.ones((), dtype=torch.float64), **CLOSE)


# ------------------------------------------------------------------------------------------------ training state
def _mlp_cost():
    mlp = MLP([Tanh(), Identity()], [3, 4, 3], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    probabilities = Softmax().apply(mlp.apply(matrix("x")))
    return CategoricalCrossEntropy().apply(lvector("y"), probabilities)


def test_gradient_descent_records_the_rewrites_and_warns_on_another_set():
    cost = _mlp_cost()
    batch = {"x": torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), "y": torch.tensor([0, 1, 2, 0, 1])}
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))
    algorithm.initialize()
    algorithm.process_batch(batch)
    state = algorithm.state_dict()
    assert state["rewrites"] == list(REWRITES)
    assert algorithm._function.rewrites_applied == {"categorical_crossentropy_softmax": 1}
    same = GradientDescent(cost, step_rule=Scale(0.1))
    same.initialize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same.load_state_dict(state)
    other = GradientDescent(cost, step_rule=Scale(0.1), rewrites="all -log1p")
    other.initialize()
    with pytest.warns(UserWarning) as caught:
        other.load_state_dict(state)
    (message,) = [str(w.message) for w in caught]
    assert f"rewrites [{', '.join(REWRITES)}], this run" in message
    assert "expm1, logsumexp]" in message and "log1p" not in message.split("this run")[1]
    assert "BLOCKS_STABILITY_REWRITES" in message
    old = {k: v for k, v in state.items() if k != "rewrites"}  # a checkpoint from before the rewrites existed
    with pytest.warns(UserWarning, match="predates the stability rewrites"):
        same.load_state_dict(old)
    with pytest.raises(ValueError, match="unknown stability rewrite"):
        GradientDescent(cost, rewrites="log1p expm2")


def _main_loop(rewrites, batches):
    from blocks.extensions import FinishAfter
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream

    generator = torch.Generator().manual_seed(1)
    dataset = IndexableDataset({"x": torch.randn(12, 3, generator=generator).numpy(),
                                "y": torch.randint(0, 3, (12,), generator=generator).numpy()})
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(12, 4))
    cost = _mlp_cost()
    algorithm = GradientDescent(cost, step_rule=Scale(0.1), rewrites=rewrites)
    return MainLoop(algorithm, stream, model=Model(cost), extensions=[FinishAfter(after_n_batches=batches)])


def test_checkpoints_record_the_rewrites_and_resuming_under_another_set_warns(tmp_path):
    import json
    import tarfile

    from blocks.serialization import load_main_loop_state, save_checkpoint

    loop = _main_loop(None, 2)
    loop.run()
    path = tmp_path / "run.tar"
    save_checkpoint(path, loop)
    with tarfile.open(path) as archive:
        document = json.load(archive.extractfile("state.json"))
    assert document["main_loop"]["algorithm"]["rewrites"] == list(REWRITES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        same = _main_loop(None, 3)
        load_main_loop_state(same, path)
        same.run()
    other = _main_loop(False, 3)
    load_main_loop_state(other, path)
    with pytest.warns(UserWarning, match=r"rewrites \[log_softmax.*\], this run compiles the cost with \[none\]"):
        other.run()
    assert other.status["iterations_done"] == 3


def test_a_graph_that_changes_tensors_in_place_is_not_rewritten_and_says_so(caplog):
    x = matrix("x")
    probabilities = torch.softmax(x, dim=-1)
    clamped = probabilities.clamp_(0.25, 1.0)  # changes the softmax output the log then reads
    with caplog.at_level(logging.WARNING, logger="blocks.graph.rewrites"):
        fn = ComputationGraph([torch.log(probabilities), clamped]).compile()
    assert fn.rewrites_applied == {} and "log_softmax" not in fn.graph_module.code
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "log_softmax x1 would have fired" in warned[0] and "clamp_" in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="blocks.graph.rewrites"):  # nothing to lose: nothing to say
        ComputationGraph([(x * 2).clamp_(0.0, 1.0)]).compile()
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    logits = torch.tensor([[0.0, 0.0, 120.0]])
    torch.testing.assert_close(fn({"x": logits})[0], torch.log(torch.tensor([[0.25, 0.25, 1.0]])))


def test_log_sigmoid_of_integers_works_as_the_naive_form():
    x = lmatrix("x")
    expression = torch.log(torch.sigmoid(x))
    fn = ComputationGraph([expression]).compile()
    assert fn.rewrites_applied == {"log_sigmoid": 1}
    values = torch.tensor([[-3, 0, 2]])
    torch.testing.assert_close(fn({"x": values})[0], torch.log(torch.sigmoid(values)))
