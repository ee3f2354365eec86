"""The annotated graph: symbolic inputs, ComputationGraph, compile, roles, VariableFilter, Model."""

from __future__ import annotations

import numpy
import pytest
import torch
import torch.nn.functional as F

from blocks.bricks import MLP, CategoricalCrossEntropy, Linear, MisclassificationRate, Rectifier, Softmax, Tanh
from blocks.bricks.cost import AbsoluteError, BinaryCrossEntropy, SquaredError
from blocks.filter import VariableFilter, get_application_call, get_brick
from blocks.graph import ComputationGraph, Variable, as_variable, lmatrix, lvector, matrix, tensor, tensor4
from blocks.initialization import Constant, IsotropicGaussian
from blocks.model import Model
from blocks.roles import AUXILIARY, BIAS, COST, INPUT, OUTPUT, PARAMETER, WEIGHT, add_role, get_roles, has_roles


def _mlp(name="mlp"):
    return MLP([Rectifier(), Softmax()], [4, 5, 3], weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1),
               name=name)


def test_symbolic_inputs():
    x = matrix("features")
    assert isinstance(x, Variable) and x.name == "features" and x.is_input
    assert x.meta["ndim"] == 2 and x.meta["dtype"] == torch.float32
    assert lvector("targets").meta["dtype"] == torch.int64
    assert lmatrix("t").meta["ndim"] == 2 and tensor4("images").meta["ndim"] == 4
    t = tensor("x", shape=(None, 3), dtype="float64")
    assert t.static_shape == (None, 3) and t.meta["dtype"] == torch.float64
    with pytest.raises(ValueError, match="ndim"):
        tensor("x", ndim=3, shape=(1, 2))
    with pytest.raises(ValueError, match="name"):
        tensor("")


def test_graph_compiles_to_batch_function_equal_to_eager():
    mlp = _mlp()
    x, y = matrix("features"), lvector("targets")
    probs = mlp.apply(x)
    cost = CategoricalCrossEntropy().apply(y, probs)
    W = mlp.linear_transformations[0].W
    with pytest.raises(ValueError, match="as_variable"):
        cost + 5e-5 * (W ** 2).sum()  # eager arithmetic on a parameter would freeze it into the graph
    regularized = cost + 5e-5 * (as_variable(W) ** 2).sum()
    error = MisclassificationRate().apply(y, probs)
    cg = ComputationGraph([regularized, error])
    assert [v.name for v in cg.inputs] == ["features", "targets"]
    assert cg.parameters == [mlp.linear_transformations[0].W, mlp.linear_transformations[0].b,
                             mlp.linear_transformations[1].W, mlp.linear_transformations[1].b]
    assert all(isinstance(p, torch.nn.Parameter) for p in cg.parameters)
    fn = cg.compile()
    xv = numpy.random.default_rng(0).normal(size=(6, 4))  # float64 array: converted to floatX
    yv = numpy.array([0, 1, 2, 0, 1, 2])
    value, err = fn({"features": xv, "targets": yv, "unused": 1})
    eager_probs = mlp.apply(torch.as_tensor(xv, dtype=torch.float32))
    expected = F.nll_loss(torch.log(eager_probs), torch.as_tensor(yv)) + 5e-5 * (W ** 2).sum()
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(err, (eager_probs.argmax(1) != torch.as_tensor(yv)).double().mean())  # float64 rate
    value.backward()
    assert W.grad is not None and W.grad.abs().sum() > 0
    fn({"features": xv, "targets": yv})[0].backward()  # a second forward/backward works (nothing frozen)
    with pytest.raises(ValueError, match=r"\['targets'\]"):
        fn({"features": xv})


def test_arithmetic_argmax_and_comparisons_build_graph():
    x = matrix("x")
    expr = (x.argmax(dim=1) > 0).float().mean() + torch.eq(x, 1.0).sum() + (x >= 2).sum()
    fn = ComputationGraph(expr).compile()
    xv = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert fn({"x": xv})[0].item() == pytest.approx(0.5 + 1 + 1)
    assert x == x and x != matrix("y") and len({x, x}) == 1


def test_roles_hierarchy_and_annotations():
    mlp = _mlp()
    out = mlp.apply(matrix("x"))
    cg = ComputationGraph(out)
    weights = VariableFilter(roles=[WEIGHT])(cg.variables)
    assert [get_brick(w) for w in weights] == mlp.linear_transformations
    assert all(has_roles(w, [PARAMETER]) for w in weights)
    assert has_roles(mlp.linear_transformations[0].b, [BIAS])
    assert get_roles(out) == [OUTPUT]
    cost = out.sum()
    add_role(cost, COST)
    add_role(cost, COST)
    assert get_roles(cost) == [COST]
    aux = cg.auxiliary_variables
    assert sorted({v.name for v in aux}) == ["W_norm", "b_norm"] and all(has_roles(v, [AUXILIARY]) for v in aux)


def test_variable_filter_every_option():
    mlp = _mlp()
    x = matrix("x")
    h1 = mlp.apply(x, call_id="first")
    cg = ComputationGraph([h1])
    lin0, lin1 = mlp.linear_transformations
    relu, softmax = mlp.activations
    inputs = VariableFilter(roles=[INPUT])(cg.variables)
    assert {get_brick(v).name for v in inputs} == {"mlp", "linear_0", "linear_1", "rectifier", "softmax"}
    both = VariableFilter(roles=[INPUT, OUTPUT], each_role=True)(cg.variables)
    assert both == []
    assert VariableFilter(bricks=[lin0], roles=[OUTPUT])(cg.variables)[0].name == "output"
    assert len(VariableFilter(bricks=[Linear], roles=[OUTPUT])(cg.variables)) == 2
    assert len(VariableFilter(bricks=[mlp], roles=[WEIGHT])(cg.variables)) == 0  # exact-brick semantics
    assert len(VariableFilter(under=[mlp], roles=[WEIGHT])(cg.variables)) == 2
    assert [get_brick(v) for v in VariableFilter(name="W")(cg.variables)] == [lin0, lin1]
    assert {v.name for v in VariableFilter(name_regex="[Wb]_norm")(cg.variables)} == {"W_norm", "b_norm"}
    app_vars = VariableFilter(applications=[relu.apply])(cg.variables)
    assert {v.name for v in app_vars} == {"input_", "output"}
    assert all(get_application_call(v).brick is relu for v in app_vars)
    assert len(VariableFilter(call_id="first")(cg.variables)) == 2  # the MLP call's input and output
    assert VariableFilter(roles=[WEIGHT])(cg.parameters) == [lin0.W, lin1.W]
    assert VariableFilter(bricks=[lin1])(cg.parameters) == [lin1.W, lin1.b]
    with pytest.raises(ValueError, match="VariableRole"):
        VariableFilter(roles=["weight"])
    assert softmax in cg.bricks


def test_as_dict_as_list_and_symbolic_outputs():
    lin = Linear(input_dim=2, output_dim=2, weights_init=Constant(1), biases_init=Constant(0))
    out = lin.apply(matrix("x"), as_dict=True)
    assert list(out) == ["output"] and isinstance(out["output"], Variable)
    assert isinstance(lin.apply(torch.ones(1, 2), as_list=True), list)


def test_replace_and_snapshot():
    x = matrix("x")
    mlp = _mlp()
    hidden = mlp.linear_transformations[0].apply(x)
    out = Tanh().apply(hidden)
    cg = ComputationGraph(out)
    cg2 = cg.replace({hidden: hidden * 0})
    batch = {"x": torch.ones(2, 4)}
    assert torch.equal(cg2.compile()(batch)[0], torch.zeros(2, 5))
    assert cg.compile()(batch)[0].abs().sum() > 0
    snapshot = cg.get_snapshot(batch)
    assert any(v.name == "W_norm" for v in snapshot) and out in snapshot
    assert not any(v.node.op == "get_attr" for v in snapshot)  # Blocks left shared variables (parameters) out
    W = mlp.linear_transformations[0].W
    cg3 = cg.replace({W: as_variable(W) * 0})
    assert torch.allclose(cg3.compile()(batch)[0], torch.tanh(mlp.linear_transformations[0].b).expand(2, 5))


def test_costs_match_references():
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    p = torch.tensor([[0.8, 0.3], [0.4, 0.9]], dtype=torch.float64)
    torch.testing.assert_close(BinaryCrossEntropy().apply(y, p),
                               F.binary_cross_entropy(p, y, reduction="none").sum(1).mean())
    torch.testing.assert_close(SquaredError().apply(y, p), ((y - p) ** 2).sum(1).mean())
    torch.testing.assert_close(AbsoluteError().apply(y, p), (y - p).abs().sum(1).mean())
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.4, 0.2]])
    targets = torch.tensor([1, 0, 1])
    torch.testing.assert_close(CategoricalCrossEntropy().apply(targets, probs),
                               F.nll_loss(torch.log(probs), targets))
    assert MisclassificationRate().apply(targets, probs).item() == pytest.approx(1.0)
    # top-2: row 0 target ranked 2nd -> ok; row 1 tied for 2nd with another -> pessimistic error; row 2 tie -> error
    assert MisclassificationRate(top_k=2).apply(targets, probs).item() == pytest.approx(1 / 3)
    assert MisclassificationRate(top_k=3).apply(targets, probs).item() == 0.0


def test_model_parameter_dict_round_trip_and_errors():
    mlp = _mlp()
    model = Model(CategoricalCrossEntropy().apply(lvector("y"), mlp.apply(matrix("x"))))
    assert model.top_bricks[0] is mlp
    names = list(model.get_parameter_dict())
    assert names == ["/mlp/linear_0.W", "/mlp/linear_0.b", "/mlp/linear_1.W", "/mlp/linear_1.b"]
    values = model.get_parameter_values()
    values = {k: v + 1 for k, v in values.items()}
    model.set_parameter_values(values)
    for name, parameter in model.get_parameter_dict().items():
        numpy.testing.assert_allclose(parameter.detach().numpy(), values[name])
    with pytest.raises(ValueError) as info:
        model.set_parameter_values({"/mlp/linear_0.W": numpy.zeros((1, 1)), "/nope.W": numpy.zeros(1)})
    assert "/nope.W" in str(info.value) and "expected shape (4, 5), got (1, 1)" in str(info.value)
    assert list(model.get_persistent_dict()) == names


def test_model_rejects_same_named_top_bricks():
    a, b = _mlp("net"), _mlp("net")
    x = matrix("x")
    with pytest.raises(ValueError, match="net"):
        Model([a.apply(x).sum() + b.apply(x).sum()])


def test_graph_built_before_initialization_compiles_only_once_parameters_are_set():
    mlp = MLP([Tanh()], [3, 2])  # no initialization settings
    x = matrix("x")
    model = Model(mlp.apply(x))
    with pytest.raises(ValueError, match=r"/mlp/linear_0 .*weights_init.*set_parameter_values"):
        model.compile()
    model.set_parameter_values({"/mlp/linear_0.W": numpy.ones((3, 2)), "/mlp/linear_0.b": numpy.zeros(2)})
    out = model.compile()({"x": torch.ones(1, 3)})[0]
    torch.testing.assert_close(out, torch.tanh(torch.full((1, 2), 3.0)))
    late = MLP([Tanh()], [3, 2])
    graph = ComputationGraph(late.apply(x))
    late.weights_init, late.biases_init = Constant(0.0), Constant(0.0)
    assert graph.compile()({"x": torch.ones(1, 3)})[0].abs().sum() == 0  # initialized at compile time


def test_input_names_that_are_not_python_identifiers_or_clash():
    a, b, c = matrix("self"), matrix("t0"), matrix("my-source")
    lin = Linear(input_dim=2, output_dim=2, weights_init=Constant(1), biases_init=Constant(0))
    fn = ComputationGraph(lin.apply(a) + b + c).compile()
    assert fn.input_names == ["self", "t0", "my-source"]
    one = torch.ones(1, 2)
    torch.testing.assert_close(fn({"self": one, "t0": one, "my-source": one})[0], torch.full((1, 2), 4.0))


def test_variable_filter_each_role_positive():
    mlp = _mlp()
    cg = ComputationGraph(mlp.apply(matrix("x")))
    both = VariableFilter(roles=[PARAMETER, WEIGHT], each_role=True)(cg.variables)
    assert [v.tensor for v in both] == [lin.W for lin in mlp.linear_transformations]


def test_compiled_function_names_the_brick_when_shapes_do_not_fit():
    mlp = _mlp()
    fn = ComputationGraph(mlp.apply(matrix("features"))).compile()  # the input's shape is unknown
    with pytest.raises(ValueError, match=r"/mlp/linear_0 \(Linear\)\.apply: expected inputs of shape \(\.\.\., 4\)"
                                         r".*got shape \(2, 7\)"):
        fn({"features": torch.ones(2, 7)})


def test_compiled_graph_follows_parameters_moved_or_replaced():
    # the compiled code reads parameters from the module's instance dict (no nn.Module.__getattr__ per batch)
    linear = Linear(input_dim=3, output_dim=2, weights_init=Constant(1.0), biases_init=Constant(0.5))
    linear.initialize()
    x = matrix("x")
    fn = ComputationGraph([linear.apply(x)]).compile()
    module = fn.graph_module
    named = dict(module.named_parameters())
    assert {id(p) for p in named.values()} == {id(linear.W), id(linear.b)}
    assert all(module.__dict__[name] is parameter for name, parameter in named.items())
    batch = {"x": numpy.ones((1, 3), dtype="float32")}
    torch.testing.assert_close(fn(batch)[0], torch.full((1, 2), 3.5))
    linear.W.data = torch.zeros(3, 2)  # what backends and checkpoint loading do: the same Parameter, new data
    torch.testing.assert_close(fn(batch)[0], torch.full((1, 2), 0.5))
    name = next(n for n, p in named.items() if p is linear.b)
    setattr(module, name, torch.nn.Parameter(torch.full((2,), 2.0)))  # replaced through the module API
    assert dict(module.named_parameters())[name] is module.__dict__.get(name, module._parameters[name])
    torch.testing.assert_close(fn(batch)[0], torch.full((1, 2), 2.0))


def test_parameters_read_only_by_auxiliary_variables_are_not_graph_parameters():
    # ComputationGraph.parameters: what the outputs depend on (GradientDescent trains exactly these)
    from blocks.bricks import Brick, application
    from blocks.graph import as_variable

    class Scaled(Brick):
        def _allocate(self):
            self.new_parameter("scale", (1,))
            self.new_parameter("watched", (1,))

        def _initialize(self):
            with torch.no_grad():
                self.scale.fill_(1)
                self.watched.fill_(1)

        @application(inputs=["x"], outputs=["y"])
        def apply(self, x, application_call):
            application_call.add_auxiliary_variable(as_variable(self.watched) * 2, name="watched")
            return x * self.scale

    brick = Scaled()
    cg = ComputationGraph([brick.apply(matrix("x")).sum()])
    assert cg.parameters == [brick.scale]
    assert [v.name for v in cg.auxiliary_variables] == ["watched"]  # still a graph variable, monitorable
    assert any(v.tensor is brick.watched for v in cg.variables)
