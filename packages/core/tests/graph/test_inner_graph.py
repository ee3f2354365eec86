"""Inner graphs of opaque calls (blocks.graph.inner), through the public extension point a plugin uses.

The recurrence here is written in the test the way a plugin writes one: an opaque application whose
``inner_graph`` traces its step on symbolic placeholders and whose runner runs the time loop with whatever step
it is given. The reference for every rewritten graph is the same loop written by hand with plain tensors.
"""

from __future__ import annotations

import functools

import pytest
import torch

from blocks.bricks import Application, Initializable, Linear, Tanh, application
from blocks.config import config
from blocks.filter import VariableFilter
from blocks.graph import (
    ComputationGraph,
    InnerGraph,
    apply_dropout,
    apply_noise,
    expose_inner,
    matrix,
    tensor,
    tensor3,
)
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import DROPOUT, INPUT, OUTPUT, WEIGHT
from blocks.serialization.graph_rng import graph_random_ops

DIM, T, B = 3, 4, 2


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


def _loop(x, step):
    """``h_t = step(x_t, h_{t-1})[0]`` from zeros; extra step outputs are stacked over time too."""
    h, states, extras = x.new_zeros(x.shape[1:]), [], []
    for t in range(x.shape[0]):
        h, *extra = step(x=x[t], h=h)
        states.append(h)
        extras.append(extra)
    return torch.stack(states), tuple(torch.stack(values) for values in zip(*extras))


class LoopApplication(Application):
    """What a recurrence plugin provides: the step, traced once, and a runner taking any step."""

    def inner_graph(self, brick, args, kwargs):
        x_t, h = tensor("x", shape=(None, DIM)), tensor("h", shape=(None, DIM))
        return InnerGraph([x_t, h], [brick.step(x_t, h)], lambda step, num_extra: functools.partial(_loop, step=step))


def _apply(self, x):
    return _loop(x, lambda x, h: [self.step(x, h)])[0]


class Recurrence(Initializable):
    """``h_t = tanh(h_{t-1} W + x_t) * s * c``: ``s`` belongs to another brick (not a child), ``c`` to none."""

    def __init__(self, scale_owner, **kwargs):
        super().__init__(**kwargs)
        self.tanh = Tanh()
        self.children = [self.tanh]
        self.scale_owner = [scale_owner]  # a plain list: not a child, not a submodule
        self.constant = [torch.ones(DIM, dtype=torch.float64)]  # a tensor no module holds

    def _allocate(self):
        self.new_parameter("W", (DIM, DIM), WEIGHT)

    def _initialize(self):
        self.weights_init.initialize(self.W, self.rng)

    @application(inputs=["x", "h"], outputs=["h"])
    def step(self, x, h):
        return self.tanh.apply(h.matmul(self.W) + x) * self.scale_owner[0].b * self.constant[0]

    apply = LoopApplication(_apply, opaque=True, inputs=["x"], outputs=["h"])


@pytest.fixture
def model():
    owner = Linear(DIM, DIM, name="owner", weights_init=Constant(0.0), biases_init=Constant(0.9))
    owner.initialize()
    rnn = Recurrence(owner, name="rnn", weights_init=IsotropicGaussian(0.5), seed=3)
    rnn.initialize()
    x = tensor3("x")
    cg = ComputationGraph([rnn.apply(x).sum()])
    batch = {"x": torch.randn(T, B, DIM, generator=torch.Generator().manual_seed(0), dtype=torch.float64)}
    return rnn, owner, cg, batch


def hand(rnn, owner, x, states_mask=None, pre_noise=None):
    """The same recurrence with plain tensors; masks multiply h_{t-1} where the step reads it."""
    h, out = x.new_zeros(x.shape[1:]), []
    for t in range(x.shape[0]):
        mask = states_mask(t) if states_mask is not None else 1
        h = torch.tanh((h * mask) @ rnn.W + x[t]) * owner.b * rnn.constant[0]
        out.append(h)
    return torch.stack(out)


def test_scan_variables_are_annotated_and_filterable(model):
    rnn, owner, cg, _ = model
    assert len(cg.inner_graphs) == 1
    inner = cg.scan_variables
    assert not set(inner) & set(cg.intermediary_variables)  # kept apart, as Blocks' scan_variables
    step_inputs = VariableFilter(roles=[INPUT], bricks=[rnn], applications=[rnn.step])(inner)
    assert [v.name for v in step_inputs] == ["x", "h"]
    tanh_out = VariableFilter(roles=[OUTPUT], bricks=[Tanh])(inner)
    assert len(tanh_out) == 1 and VariableFilter(roles=[OUTPUT], under=[rnn])(inner)[-1].name == "h"
    assert VariableFilter(roles=[WEIGHT])(inner) == VariableFilter(roles=[WEIGHT], bricks=[rnn])(cg.variables)


def test_parameters_read_only_inside_the_step_are_graph_parameters(model):
    """A parameter the step reads (of a brick outside the recurrent brick's tree) counts and gets gradients."""
    rnn, owner, cg, batch = model
    assert {id(p) for p in cg.parameters} == {id(rnn.W), id(owner.b)}
    cg.compile()(batch)[0].backward()
    assert owner.b.grad is not None and owner.b.grad.abs().sum() > 0


@pytest.mark.parametrize("per", ["sequence", "step"])
def test_dropout_inside_the_step_equals_the_hand_loop(model, per):
    rnn, owner, cg, batch = model
    h_in = VariableFilter(roles=[INPUT], bricks=[rnn], name="h")(cg.scan_variables)
    dropped = apply_dropout(cg, h_in, 0.5, rng=torch.Generator().manual_seed(7), recurrent_mask=per)
    twin = torch.Generator().manual_seed(7)  # the masks the documented draws give, from an equal generator
    draws = [torch.empty(B, DIM, dtype=torch.float64).bernoulli_(0.5, generator=twin).div_(0.5)
             for _ in range(1 if per == "sequence" else T)]
    expected = hand(rnn, owner, batch["x"], states_mask=lambda t: draws[0 if per == "sequence" else t])
    (value,) = dropped.compile()(batch)
    torch.testing.assert_close(value, expected.sum())
    assert len(VariableFilter(roles=[DROPOUT])(dropped.scan_variables)) == 1
    torch.testing.assert_close(cg.compile()(batch)[0], hand(rnn, owner, batch["x"]).sum())  # original unchanged
    assert [id(p) for p in dropped.parameters] == [id(p) for p in cg.parameters]


def test_noise_on_a_parameter_of_the_step_is_drawn_once_per_call(model):
    rnn, owner, cg, batch = model
    noisy = apply_noise(cg, [owner.b], 0.1, rng=torch.Generator().manual_seed(4))
    twin = torch.Generator().manual_seed(4)
    fn = noisy.compile()
    for _ in range(2):  # a new draw per call, the same at every step of that call
        noise = torch.randn(DIM, generator=twin, dtype=torch.float64)
        b = owner.b.detach().clone()
        with torch.no_grad():
            owner.b.add_(0.1 * noise)
        expected = hand(rnn, owner, batch["x"]).sum()
        with torch.no_grad():
            owner.b.copy_(b)
        torch.testing.assert_close(fn(batch)[0], expected)


def test_noise_on_a_constant_only_the_step_reads_reaches_the_step(model):
    """No module holds the constant, so it cannot be swapped in: the recurrence runs its compiled step."""
    rnn, owner, cg, batch = model
    constant = rnn.constant[0]
    noisy = apply_noise(cg, [constant], 0.1, rng=torch.Generator().manual_seed(4))
    noise = torch.randn(DIM, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    rnn.constant[0] = constant + 0.1 * noise
    expected = hand(rnn, owner, batch["x"]).sum()
    rnn.constant[0] = constant
    torch.testing.assert_close(noisy.compile()(batch)[0], expected)
    torch.testing.assert_close(cg.compile()(batch)[0], hand(rnn, owner, batch["x"]).sum())


def test_transforms_compose_in_either_order(model):
    rnn, owner, cg, batch = model

    def h_in(graph):
        return VariableFilter(roles=[INPUT], bricks=[rnn], name="h")(graph.scan_variables)

    a = apply_noise(apply_dropout(cg, h_in(cg), 0.5, seed=1, recurrent_mask="sequence"), [owner.b], 0.1, seed=2)
    b = apply_dropout(apply_noise(cg, [owner.b], 0.1, seed=2), h_in(cg), 0.5, seed=1, recurrent_mask="sequence")
    torch.testing.assert_close(a.compile()(batch)[0], b.compile()(batch)[0])
    assert graph_random_ops(type("Loop", (), {"algorithm": type("A", (), {"graph": a})})) != []


def test_expose_inner_stacks_values_over_time(model):
    rnn, owner, cg, batch = model
    (pre,) = VariableFilter(roles=[OUTPUT], bricks=[Tanh])(cg.scan_variables)
    exposed_cg, (activations,) = expose_inner(cg, [pre])
    cost, values = ComputationGraph([exposed_cg.outputs[0], activations]).compile()(batch)
    states = hand(rnn, owner, batch["x"])
    torch.testing.assert_close(values, states / owner.b.detach())
    torch.testing.assert_close(cost, states.sum())
    assert activations.name == "output" and activations.meta["brick"] is rnn.tanh
    with pytest.raises(ValueError, match="scan_variables"):
        expose_inner(cg, [cg.outputs[0]])
    with pytest.raises(ValueError, match="inside the step of a recurrence.*expose_inner"):
        ComputationGraph([pre.mean()]).compile()  # a step value is not an outer value


def test_inner_random_ops_are_found_for_checkpoints(model):
    rnn, owner, cg, batch = model
    h_in = VariableFilter(roles=[INPUT], bricks=[rnn], name="h")(cg.scan_variables)
    dropped = apply_dropout(cg, h_in, 0.5, seed=3, recurrent_mask="step")
    loop = type("Loop", (), {"algorithm": type("A", (), {"graph": dropped})})
    (op,) = graph_random_ops(loop)
    fn = dropped.compile()
    fn(batch)
    state = op.state_dict()
    first = fn(batch)[0]
    op.load_state_dict(state)
    assert torch.equal(fn(batch)[0], first)


def test_clear_errors(model):
    rnn, owner, cg, batch = model
    h_in = VariableFilter(roles=[INPUT], bricks=[rnn], name="h")(cg.scan_variables)
    with pytest.raises(ValueError, match="recurrent_mask='sequence'"):
        apply_dropout(cg, h_in, 0.5)
    with pytest.raises(ValueError, match="recurrent_mask applies to variables inside"):
        apply_dropout(cg, cg.outputs, 0.5, recurrent_mask="sequence")
    with pytest.raises(ValueError, match="'sequence' .* or 'step'"):
        apply_dropout(cg, h_in, 0.5, recurrent_mask="time")
    with pytest.raises(ValueError, match="torch.Generator"):
        apply_dropout(cg, h_in, 0.5, rng=123, recurrent_mask="step")
    other = matrix("other")
    with pytest.raises(ValueError, match="neither a variable of this graph"):
        cg.replace({other: other * 2})
    with pytest.raises(ValueError, match="from outside the step"):  # a step cannot read an outer input
        cg.replace({h_in[0]: h_in[0] * other})
    dropped = apply_dropout(cg, h_in, 0.5, rng=torch.Generator(), recurrent_mask="step")
    (op,) = graph_random_ops(type("Loop", (), {"algorithm": type("A", (), {"graph": dropped})}))
    with pytest.raises(ValueError, match="give a generator on that device"):  # values on another device
        op.generator(torch.device("meta"))


def test_a_dropped_recurrence_and_its_step_are_freed():
    """Before: fx's lookup table kept an entry keyed by each opaque call's target, and so its brick, forever."""
    import gc
    import weakref

    def build():
        owner = Linear(DIM, DIM, weights_init=Constant(0.0), biases_init=Constant(0.9))
        owner.initialize()
        rnn = Recurrence(owner, weights_init=IsotropicGaussian(0.5))
        cg = ComputationGraph([rnn.apply(tensor3("x")).sum()])
        h_in = VariableFilter(roles=[INPUT], bricks=[rnn], name="h")(cg.scan_variables)
        apply_dropout(cg, h_in, 0.5, seed=1, recurrent_mask="step").compile()({"x": torch.ones(T, B, DIM)})
        return weakref.ref(rnn), weakref.ref(owner)

    refs = [build() for _ in range(2)]
    matrix("newest")  # the tape keeps its newest node (and what that node uses)
    gc.collect()
    assert all(ref() is None for pair in refs for ref in pair)


def test_expose_refuses_a_step_shared_by_two_recurrences_of_one_graph(model):
    rnn, owner, cg, batch = model
    noisy = apply_noise(cg, [owner.b], 0.1, seed=1)  # a copy of the recurrence node, sharing its step
    both = ComputationGraph([cg.outputs[0], noisy.outputs[0]])
    (pre,) = VariableFilter(roles=[OUTPUT], bricks=[Tanh])(both.scan_variables[:len(cg.scan_variables)])
    with pytest.raises(ValueError, match="in the step of 2 recurrences"):
        expose_inner(both, [pre])
