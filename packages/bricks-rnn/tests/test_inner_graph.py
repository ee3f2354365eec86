"""The inner graph of recurrent bricks: step variables by role, dropout and noise inside steps, exposed values.

References are hand-written loops of the same equations in plain torch (float64). Dropout masks come from a
``torch.Generator`` injected into the transform; the reference draws the same masks from a twin generator
(same seed), following the documented draws, never from the code under test.
"""

from __future__ import annotations

import pytest
import torch

from blocks.bricks import Initializable, Logistic, Tanh, application
from blocks.config import config
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_dropout, apply_noise, expose_inner, lmatrix, matrix, tensor3
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import DROPOUT, INPUT, OUTPUT, WEIGHT
from blocks_rnn import (
    LSTM,
    Bidirectional,
    GatedRecurrent,
    RecurrentStack,
    SimpleRecurrent,
    TorchGRU,
    TorchLSTM,
    TorchRNN,
)

DT = torch.float64
T, B, D = 5, 3, 4
KEEP = 0.6


@pytest.fixture(autouse=True)
def float64():
    with config.override(floatX="float64"):
        yield


def _padding():
    mask = torch.ones(T, B, dtype=DT)
    mask[3:, 0] = 0
    mask[1:, 2] = 0
    return mask


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


def _brick(kind):
    init = {"weights_init": IsotropicGaussian(0.5), "biases_init": Constant(0.1), "seed": 2}
    return {"lstm": lambda: LSTM(dim=D, name="lstm", **init),
            "gru": lambda: GatedRecurrent(dim=D, name="gru", **init),
            "simple": lambda: SimpleRecurrent(dim=D, activation=Tanh(), name="simple", **init),
            "torch_lstm": lambda: TorchLSTM(input_dim=2, dim=D, name="torch_lstm", **init),
            "torch_gru": lambda: TorchGRU(input_dim=2, dim=D, name="torch_gru", **init),
            "torch_rnn": lambda: TorchRNN(input_dim=2, dim=D, name="torch_rnn", **init)}[kind]()


def _sequences(kind, brick):
    """Symbolic sequences of one call and a batch of values for them."""
    widths = {"lstm": {"inputs": 4 * D}, "gru": {"inputs": D, "gate_inputs": 2 * D}, "simple": {"inputs": D}}
    widths = widths.get(kind, {"inputs": 2})
    symbolic = {name: tensor3(name) for name in widths}
    values = {name: _randn(T, B, width, seed=i) for i, (name, width) in enumerate(widths.items())}
    symbolic["mask"], values["mask"] = matrix("mask"), _padding()
    return symbolic, values


def _graph(kind, **options):
    brick = _brick(kind)
    brick.initialize()
    symbolic, values = _sequences(kind, brick)
    outputs = brick.apply(**symbolic, **options, as_list=True)
    return brick, ComputationGraph([outputs[0].sum()]), values


# ---------------------------------------------------------------------------------------------- by role
@pytest.mark.parametrize("kind, inputs, outputs, weights, gates", [
    ("lstm", ["inputs", "mask", "states", "cells"], ["states", "cells"],
     ["W_state", "W_cell_to_in", "W_cell_to_forget", "W_cell_to_out"], 3),
    ("gru", ["mask", "inputs", "gate_inputs", "states"], ["states"], ["state_to_gates", "state_to_state"], 1),
    ("simple", ["inputs", "mask", "states"], ["states"], ["W"], 0),
])
def test_inner_variables_found_by_role(kind, inputs, outputs, weights, gates):
    brick, cg, _ = _graph(kind)
    inner = cg.scan_variables
    assert sorted(v.name for v in VariableFilter(roles=[INPUT], bricks=[brick])(inner)) == sorted(inputs)
    assert [v.name for v in VariableFilter(roles=[OUTPUT], bricks=[brick])(inner)] == outputs
    assert sorted(v.name for v in VariableFilter(roles=[WEIGHT], bricks=[brick])(inner)) == sorted(weights)
    assert len(VariableFilter(roles=[OUTPUT], bricks=[Logistic], under=[brick])(inner)) == gates
    assert not set(inner) & set(cg.intermediary_variables)
    if kind == "lstm":
        (forget,) = VariableFilter(roles=[OUTPUT], call_id="forget_gate")(inner)
        assert forget.meta["brick"] is brick.gate_activation


def test_the_hidden_states_of_the_lstm_under_encoder():
    class Encoder(Initializable):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lstm = LSTM(dim=D, name="lstm")
            self.children = [self.lstm]

        @application(inputs=["x"], outputs=["states"])
        def apply(self, x):
            return self.lstm.apply(x)[0]

    encoder = Encoder(name="encoder", weights_init=IsotropicGaussian(0.1))
    other = LSTM(dim=D, name="other", weights_init=IsotropicGaussian(0.1))
    x = tensor3("x")
    cg = ComputationGraph([encoder.apply(x).sum() + other.apply(x)[0].sum()])
    found = VariableFilter(roles=[OUTPUT], bricks=[LSTM], name="states", under=[encoder])(cg.scan_variables)
    assert len(found) == 1 and found[0].meta["brick"] is encoder.lstm
    assert len(VariableFilter(roles=[OUTPUT], bricks=[LSTM], name="states")(cg.scan_variables)) == 2


# ---------------------------------------------------------------------------------------------- dropout
def _hand_step(kind, brick, x, h, c):
    """One step of each formulation; returns (next states, next cells or None)."""
    if kind == "lstm":
        a = h @ brick.W_state + x["inputs"]
        i = torch.sigmoid(a[:, :D] + c * brick.W_cell_to_in)
        f = torch.sigmoid(a[:, D:2 * D] + c * brick.W_cell_to_forget)
        c_new = f * c + i * torch.tanh(a[:, 2 * D:3 * D])
        o = torch.sigmoid(a[:, 3 * D:] + c_new * brick.W_cell_to_out)
        return o * torch.tanh(c_new), c_new
    if kind == "gru":
        g = torch.sigmoid(h @ brick.state_to_gates + x["gate_inputs"])
        z, r = g[:, :D], g[:, D:]
        n = torch.tanh((h * r) @ brick.state_to_state + x["inputs"])
        return z * n + (1 - z) * h, None
    return torch.tanh(x["inputs"] + h @ brick.W), None


def _initial(brick):
    """The brick's (trainable, zero-initialized) initial states repeated over the batch: (h, c or None)."""
    initial = brick.initial_states(B, as_list=True)
    return initial[0], (initial[1] if len(initial) > 1 else None)


def hand_loop(kind, brick, values, state_mask=None):
    """The recurrence with ``h_{t-1} * state_mask(t)`` where the step reads its states input (every use)."""
    h, c = _initial(brick)
    states = []
    for t in range(T):
        if state_mask is not None:
            h = h * state_mask(t)
        new_h, new_c = _hand_step(kind, brick, {k: v[t] for k, v in values.items()}, h, c)
        m = values["mask"][t][:, None]
        h = m * new_h + (1 - m) * h
        if new_c is not None:
            c = m * new_c + (1 - m) * c
        states.append(h)
    return torch.stack(states)


def _states_input(brick, cg):
    (states,) = VariableFilter(roles=[INPUT], bricks=[brick], name="states")(cg.scan_variables)
    return states


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple"])
@pytest.mark.parametrize("per", ["sequence", "step"])
def test_dropout_on_hidden_states_equals_the_hand_loop(kind, per):
    """Variational (per-sequence) and per-step masks on h_{t-1}: values and gradients, two batches."""
    brick, cg, values = _graph(kind)
    dropped = apply_dropout(cg, [_states_input(brick, cg)], 1 - KEEP, rng=torch.Generator().manual_seed(11),
                            recurrent_mask=per)
    fn = dropped.compile()
    twin = torch.Generator().manual_seed(11)
    for _ in range(2):  # a new mask (or new masks) at every call
        draws = [torch.empty(B, D, dtype=DT).bernoulli_(KEEP, generator=twin).div_(KEEP)
                 for _ in range(1 if per == "sequence" else T)]
        expected = hand_loop(kind, brick, values, lambda t: draws[0 if per == "sequence" else t]).sum()
        expected_grads = torch.autograd.grad(expected, dropped.parameters)
        (cost,) = fn(values)
        torch.testing.assert_close(cost, expected)
        for ours, theirs in zip(torch.autograd.grad(cost, dropped.parameters), expected_grads):
            torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(cg.compile()(values)[0], hand_loop(kind, brick, values).sum())  # original intact


def test_masks_of_several_step_variables_are_drawn_in_the_order_given():
    brick, cg, values = _graph("lstm")
    (cells,) = VariableFilter(roles=[INPUT], bricks=[brick], name="cells")(cg.scan_variables)
    dropped = apply_dropout(cg, [_states_input(brick, cg), cells], 1 - KEEP,
                            rng=torch.Generator().manual_seed(5), recurrent_mask="sequence")
    twin = torch.Generator().manual_seed(5)
    h_mask, c_mask = (torch.empty(B, D, dtype=DT).bernoulli_(KEEP, generator=twin).div_(KEEP) for _ in range(2))
    h, c = _initial(brick)
    states = []
    for t in range(T):
        h, c = h * h_mask, c * c_mask
        new_h, new_c = _hand_step("lstm", brick, {k: v[t] for k, v in values.items()}, h, c)
        m = values["mask"][t][:, None]
        h, c = m * new_h + (1 - m) * h, m * new_c + (1 - m) * c
        states.append(h)
    torch.testing.assert_close(dropped.compile()(values)[0], torch.stack(states).sum())
    assert len(VariableFilter(roles=[DROPOUT])(dropped.scan_variables)) == 2


# ---------------------------------------------------------------------------------------------- noise
def test_weight_noise_inside_steps_is_drawn_once_per_batch_and_shared_across_steps():
    brick, cg, values = _graph("lstm")
    (w_state,) = VariableFilter(roles=[WEIGHT], name="W_state")(cg.scan_variables)  # the step's weight
    noisy = apply_noise(cg, [w_state], 0.1, rng=torch.Generator().manual_seed(3))
    both = apply_dropout(noisy, [_states_input(brick, noisy)], 1 - KEEP, rng=torch.Generator().manual_seed(4),
                         recurrent_mask="sequence")
    fns = noisy.compile(), both.compile()  # one noise node, one generator: the calls draw in turn
    twin = torch.Generator().manual_seed(3)
    mask_twin = torch.Generator().manual_seed(4)
    original = brick.W_state.detach().clone()
    for _ in range(2):
        expected = []
        for with_dropout in (False, True):
            noise = torch.randn(tuple(original.shape), generator=twin, dtype=DT)
            mask = torch.empty(B, D, dtype=DT).bernoulli_(KEEP, generator=mask_twin).div_(KEEP) if with_dropout \
                else None
            with torch.no_grad():
                brick.W_state.copy_(original + 0.1 * noise)
            expected.append(hand_loop("lstm", brick, values, None if mask is None else (lambda t, m=mask: m)).sum())
            with torch.no_grad():
                brick.W_state.copy_(original)
        for fn, value in zip(fns, expected):
            torch.testing.assert_close(fn(values)[0], value.detach())


# ---------------------------------------------------------------------------------------------- equivalence
def _identity_rewrite(cg, variables):
    """Dropout with drop_prob 0: every mask is 1, so the rewritten recurrence must compute the same values."""
    return apply_dropout(cg, variables, 0.0, recurrent_mask="step")


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple", "torch_lstm", "torch_gru", "torch_rnn"])
@pytest.mark.parametrize("options", [{}, {"reverse": True, "return_initial_states": True}])
def test_a_rewritten_step_computes_what_the_fused_kernel_does(kind, options):
    brick, cg, values = _graph(kind, **options)
    outputs = VariableFilter(roles=[OUTPUT], bricks=[brick])(cg.scan_variables)
    rewritten = _identity_rewrite(cg, outputs)
    (ours,), (reference,) = rewritten.compile()(values), cg.compile()(values)
    torch.testing.assert_close(ours, reference)
    for a, b in zip(torch.autograd.grad(ours, rewritten.parameters), torch.autograd.grad(reference, cg.parameters)):
        torch.testing.assert_close(a, b)


def test_stacks_and_bidirectional_rewrite_too():
    init = {"weights_init": IsotropicGaussian(0.5), "biases_init": Constant(0.1), "seed": 1}
    stack = RecurrentStack([SimpleRecurrent(dim=D, activation=Tanh()), SimpleRecurrent(dim=D, activation=Tanh())],
                           **init)
    bidir = Bidirectional(SimpleRecurrent(dim=D, activation=Tanh()), **init)
    x, mask = tensor3("inputs"), matrix("mask")
    cost = (stack.apply(x, mask=mask, low_memory=True)[1].sum() + stack.apply(x, mask=mask)[1].sum()
            + bidir.apply(x, mask=mask).sum())
    cg = ComputationGraph([cost])
    assert len(cg.inner_graphs) == 5  # one for the low-memory stack, two for each of the others
    values = {"inputs": _randn(T, B, D), "mask": _padding()}
    rewritten = _identity_rewrite(cg, VariableFilter(roles=[OUTPUT], bricks=[SimpleRecurrent])(cg.scan_variables))
    torch.testing.assert_close(rewritten.compile()(values)[0], cg.compile()(values)[0])


def test_the_original_graph_keeps_the_fused_kernel(monkeypatch):
    import blocks_rnn._lstm as lstm_module

    calls = []
    kernel = lstm_module.peephole_lstm
    monkeypatch.setattr(lstm_module, "peephole_lstm", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    brick, cg, values = _graph("lstm")
    dropped = apply_dropout(cg, [_states_input(brick, cg)], 0.5, seed=1, recurrent_mask="sequence")
    dropped.compile()(values)
    assert calls == []  # the rewritten step runs in the Python loop
    before = brick.apply(**{k: v for k, v in values.items()})[0].sum()
    assert calls == [1]
    torch.testing.assert_close(cg.compile()(values)[0], before)
    assert calls == [1, 1]
    assert [id(p) for p in dropped.parameters] == [id(p) for p in cg.parameters]


# ---------------------------------------------------------------------------------------------- monitoring
def test_expose_the_forget_gate_over_time():
    brick, cg, values = _graph("lstm")
    (forget,) = VariableFilter(roles=[OUTPUT], call_id="forget_gate")(cg.scan_variables)
    exposed_cg, (gates,) = expose_inner(cg, [forget])
    cost, over_time = ComputationGraph([exposed_cg.outputs[0], gates]).compile()(values)
    h, c = _initial(brick)
    expected = []
    for t in range(T):
        a = h @ brick.W_state + values["inputs"][t]
        expected.append(torch.sigmoid(a[:, D:2 * D] + c * brick.W_cell_to_forget))
        new_h, new_c = _hand_step("lstm", brick, {"inputs": values["inputs"][t]}, h, c)
        m = values["mask"][t][:, None]
        h, c = m * new_h + (1 - m) * h, m * new_c + (1 - m) * c
    torch.testing.assert_close(over_time, torch.stack(expected))
    torch.testing.assert_close(cost, cg.compile()(values)[0])


# ---------------------------------------------------------------------------------------------- generators
def test_dropout_inside_the_attention_recurrence_of_a_sequence_generator():
    from blocks_rnn import LookupFeedback, Readout, SequenceContentAttention, SequenceGenerator, SoftmaxEmitter

    transition = SimpleRecurrent(dim=D, activation=Tanh(), name="decoder")
    attention = SequenceContentAttention(state_names=["states"], attended_dim=3, match_dim=D, name="attention")
    readout = Readout(readout_dim=6, source_names=["states", "feedback", "weighted_averages"],
                      emitter=SoftmaxEmitter(seed=1), feedback_brick=LookupFeedback(6, D))
    generator = SequenceGenerator(readout, transition, attention=attention, weights_init=IsotropicGaussian(0.3),
                                  biases_init=Constant(0), seed=1)
    generator.initialize()
    targets, targets_mask = lmatrix("targets"), matrix("targets_mask")
    attended, attended_mask = tensor3("attended"), matrix("attended_mask")
    cost = generator.cost(targets, mask=targets_mask, attended=attended, attended_mask=attended_mask)
    cg = ComputationGraph([cost])
    (states,) = VariableFilter(roles=[INPUT], bricks=[transition], name="states")(cg.scan_variables)
    batch = {"targets": torch.randint(0, 6, (T, B), generator=torch.Generator().manual_seed(0)),
             "targets_mask": _padding(), "attended": _randn(7, B, 3), "attended_mask": torch.ones(7, B, dtype=DT)}
    identity = apply_dropout(cg, [states], 0.0, recurrent_mask="sequence")
    torch.testing.assert_close(identity.compile()(batch)[0], cg.compile()(batch)[0])
    dropped = apply_dropout(cg, [states], 0.5, seed=3, recurrent_mask="sequence")
    (value,) = dropped.compile()(batch)
    assert not torch.isclose(value, cg.compile()(batch)[0])
    assert [id(p) for p in dropped.parameters] == [id(p) for p in cg.parameters]
    grads = torch.autograd.grad(value, dropped.parameters, allow_unused=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# ---------------------------------------------------------------------------------------------- resume
class _Killed(Exception):
    pass


def _training(kill_at=None):
    """LSTM language-model-like training with per-sequence dropout and weight noise inside the steps."""
    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import Linear
    from blocks.extensions import Checkpoint, FinishAfter, SimpleExtension
    from blocks.main_loop import MainLoop
    from blocks.model import Model
    from fuel.datasets import IndexableDataset
    from fuel.schemes import ShuffledScheme
    from fuel.streams import DataStream

    class Kill(SimpleExtension):
        def __init__(self):
            super().__init__(after_batch=True)

        def do(self, which_callback, *args):
            if self.main_loop.status["iterations_done"] == kill_at:
                raise _Killed()

    data = {"x": _randn(12, T, 2, seed=7)}
    stream = DataStream(IndexableDataset(data), iteration_scheme=ShuffledScheme(12, 4, rng=3))
    fork = Linear(2, 4 * D, name="fork", weights_init=IsotropicGaussian(0.3), biases_init=Constant(0), seed=1)
    lstm = LSTM(dim=D, name="lstm", weights_init=IsotropicGaussian(0.3), seed=2)
    x = tensor3("x")
    states, _ = lstm.apply(fork.apply(x).transpose(0, 1))
    cost = (states ** 2).mean()
    cost.name = "cost"
    cg = ComputationGraph([cost])
    cg = apply_dropout(cg, VariableFilter(roles=[INPUT], bricks=[lstm], name="states")(cg.scan_variables), 0.4,
                       seed=5, recurrent_mask="sequence")
    cg = apply_noise(cg, VariableFilter(roles=[WEIGHT], bricks=[lstm])(cg.scan_variables), 0.05, seed=6)
    algorithm = GradientDescent(cost=cg.outputs[0], parameters=cg.parameters, step_rule=Scale(0.5))
    extensions = [Checkpoint("inner.tar", every_n_batches=2), FinishAfter(after_n_batches=7)]
    if kill_at is not None:
        extensions.append(Kill())
    return MainLoop(algorithm, stream, model=Model(cost), extensions=extensions)


def test_resume_with_inner_masks_is_bitwise_exact(tmp_path, monkeypatch):
    """The per-sequence masks' and the step weights' noise generators are in the checkpoint."""
    monkeypatch.chdir(tmp_path)
    reference = _training()
    reference.run()
    expected = {k: v.detach().clone() for k, v in reference.model.get_persistent_dict().items()}
    first = _training(kill_at=4)
    with pytest.raises(_Killed):
        first.run()
    resumed = _training()
    resumed.resume("inner.tar")
    resumed.run()
    assert resumed.status["iterations_done"] == 7
    for name, value in resumed.model.get_persistent_dict().items():
        assert torch.equal(value, expected[name]), name


# ---------------------------------------------------------------------------------------------- memory
def test_inner_graphs_of_dropped_models_are_freed():
    """Steps, rewritten steps and exposed values live with their model, not on the process-wide tape."""
    import gc
    import weakref

    import torch.fx as fx

    from blocks.graph import get_tape

    def live_tape_nodes():
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is fx.Node and o.graph is get_tape())

    def model():
        brick, cg, values = _graph("lstm")
        dropped = apply_dropout(cg, [_states_input(brick, cg)], 0.5, seed=1, recurrent_mask="sequence")
        (forget,) = VariableFilter(roles=[OUTPUT], call_id="forget_gate")(dropped.scan_variables)
        exposed, _ = expose_inner(dropped, [forget])
        exposed.compile()(values)
        return weakref.ref(brick)

    model()
    matrix("newest")  # the tape keeps its newest node (and what it uses)
    before = live_tape_nodes()
    bricks = [model() for _ in range(3)]
    matrix("newest")
    gc.collect()
    assert all(ref() is None for ref in bricks)
    assert live_tape_nodes() <= before


def test_a_step_that_cannot_be_traced_is_reported_and_the_recurrence_still_runs(caplog):
    from blocks_rnn import BaseRecurrent, recurrent

    class Branchy(BaseRecurrent):
        @recurrent(sequences=["inputs"], states=["states"], outputs=["states"], contexts=[])
        def apply(self, inputs, states):
            if bool((states > 1e9).any()):  # Python control flow on a value
                return states
            return torch.tanh(states + inputs)

        def get_dim(self, name):
            return D if name in ("inputs", "states") else super().get_dim(name)

    brick = Branchy(name="branchy")
    with caplog.at_level("WARNING", logger="blocks_rnn._inner"):
        cg = ComputationGraph([brick.apply(tensor3("inputs")).sum()])
        ComputationGraph([brick.apply(tensor3("inputs")).sum()])
    warnings = [r.getMessage() for r in caplog.records if "could not be traced" in r.getMessage()]
    assert len(warnings) == 1 and "branchy.apply (Branchy)" in warnings[0]
    assert cg.inner_graphs == [] and cg.scan_variables == []
    values = _randn(T, B, D)
    expected = torch.zeros(B, D, dtype=DT)
    total = 0
    for t in range(T):
        expected = torch.tanh(expected + values[t])
        total = total + expected.sum()
    torch.testing.assert_close(cg.compile()({"inputs": values})[0], total)


def test_a_step_reading_an_outer_variable_is_not_traced_and_still_runs(caplog):
    """The step closes over a symbolic variable of the outer graph: no inner graph, the recurrence works."""
    from blocks_rnn import BaseRecurrent, recurrent

    outer = matrix("bias")

    class Closure(BaseRecurrent):
        @recurrent(sequences=["inputs"], states=["states"], outputs=["states"], contexts=[])
        def apply(self, inputs, states):
            return torch.tanh(states + inputs + self.bias)

        def get_dim(self, name):
            return D if name in ("inputs", "states") else super().get_dim(name)

    brick = Closure(name="closure")
    brick.bias = torch.zeros(B, D, dtype=DT)  # eagerly a tensor; while tracing, the outer variable
    real_bias = brick.bias
    brick.bias = outer
    with caplog.at_level("WARNING", logger="blocks_rnn._inner"):
        inner_call = brick.apply.application.inner_graph(brick, (tensor3("inputs"),), {})
    brick.bias = real_bias
    assert inner_call is None and any("from outside the step" in r.getMessage() for r in caplog.records)
