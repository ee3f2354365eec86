"""Inner graphs: the step of a recurrence, traced once symbolically (Blocks' ``scan`` inner graphs).

A recurrence is ONE node of the annotated graph (an opaque call running the time loop eagerly, as Theano's
``scan`` was one op). An opaque application may also record the *inner graph* of that node: its step traced
once on symbolic inputs, so the variables computed inside a step (an LSTM's gates, cells and states) carry
roles, bricks and names like any other. :attr:`ComputationGraph.scan_variables` lists them,
:class:`~blocks.filter.VariableFilter` selects them, and transforms rewrite them: replacing an inner variable
gives a new outer graph whose recurrence runs the rewritten step (compiled once, called at every step), while
the original graph keeps running the recurrence as before (fused kernels included). :func:`expose_inner` makes
inner values outer variables (stacked over time) so they can be monitored.

The extension point (for plugins that define recurrences): an opaque
:class:`~blocks.bricks.Application` overrides ``inner_graph(brick, args, kwargs)`` to return an
:class:`InnerGraph` made of

* ``inputs``: symbolic placeholders (:func:`blocks.graph.tensor`), one per argument of the step, named after
  the argument;
* ``outputs``: the step's outputs, computed from those placeholders only (parameters enter as usual);
* ``runner(step, num_extra)``: returns a function taking the opaque call's own arguments that runs the
  recurrence with ``step`` instead of the brick's code. ``step(**inputs)`` returns the step's outputs followed by
  ``num_extra`` further values; the function returns ``(result, extras)``: what the original call returns, and
  a tuple of ``num_extra`` tensors, each extra value of every step stacked over time (time first, in time
  order).

Every tensor the step reads (parameters, buffers) is an input of the outer node, so
:attr:`ComputationGraph.parameters` counts a parameter used only inside a step, and a transform of a parameter
(weight noise) is computed once per call of the graph and shared by every step.

Examples
--------
A loop ``h_t = tanh(h_{t-1} w + x_t)`` written the way a plugin writes a recurrence: the opaque call runs the
loop eagerly, the inner graph holds the step and a runner that runs the loop with any step.

>>> import torch
>>> from blocks.graph import ComputationGraph, InnerGraph, opaque_call, tensor
>>> w = torch.nn.Parameter(torch.tensor(0.5))
>>> def loop(x, step):
...     h, states, extra = torch.zeros_like(x[0]), [], []
...     for x_t in x:
...         h, *more = step(x=x_t, h=h)
...         states.append(h)
...         extra.append(more)
...     return torch.stack(states), tuple(torch.stack(v) for v in zip(*extra))
>>> x_t, h = tensor("x", shape=(None,)), tensor("h", shape=(None,))
>>> inner = InnerGraph([x_t, h], [torch.tanh(h * w + x_t)], lambda step, num_extra: (lambda x: loop(x, step)))
>>> y = opaque_call(lambda x: loop(x, lambda x, h: [torch.tanh(h * w + x)])[0], tensor("x", shape=(None, None)),
...                 inner=inner)
>>> cg = ComputationGraph([y.sum()])
>>> len(cg.inner_graphs), len(cg.scan_variables), len(cg.parameters)  # w: read only inside the step
(1, 6, 1)
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import torch
import torch.fx as fx

from blocks.graph.variables import (
    _TRACER,
    Variable,
    _ancestors,
    _annotated,
    _OpaqueCall,
    _swap_in,
    _swap_out,
    _unpack_kwargs,
)

if TYPE_CHECKING:
    from blocks.graph.computation_graph import ComputationGraph

__all__ = ["InnerGraph", "expose_inner"]

Runner = Callable[[Callable[..., Any], int], Callable[..., Any]]


def _sort_key(node: fx.Node) -> Any:
    return node._sort_key


class InnerGraph:
    """The step of a recurrence traced once symbolically (the inner graph of a recurrent node).

    Parameters
    ----------
    inputs : sequence of Variable
        Placeholders standing for the step's arguments (named after them).
    outputs : sequence of Variable
        The step's outputs, in the order the recurrence expects them.
    runner : callable
        ``runner(step, num_extra)``: the function the outer node runs instead of the original one (see the
        module's documentation for the contract).
    extra_outputs : sequence of Variable, optional
        Further step variables whose values the recurrence returns stacked over time (:func:`expose_inner`).

    Attributes
    ----------
    graph : ComputationGraph
        The annotated graph of the step's outputs (and extra outputs).
    variables : list of Variable
        Every variable of the step (those of nested recurrences' steps included).
    tensors : list of torch.Tensor
        The tensors (parameters, buffers, constants) the step reads.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import tensor
    >>> h = tensor("h", shape=(None, 2))
    >>> inner = InnerGraph([h], [torch.tanh(h)], runner=lambda step, n: None)
    >>> [v.name for v in inner.variables]
    ['h', None]
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], runner: Runner,
                 extra_outputs: Sequence[Variable] = ()) -> None:
        self.inputs = [_placeholder(v) for v in inputs]
        self.outputs = [_variable(v, "output") for v in outputs]
        self.extra_outputs = [_variable(v, "extra output") for v in extra_outputs]
        self.runner = runner
        self._graph: ComputationGraph | None = None
        self._compiled: _CompiledStep | None = None
        for variable in self.inputs:
            variable.node.meta["step_input"] = True
        names = [v.node.target for v in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"the inputs of an inner graph must have distinct names, got {names}")

    @property
    def graph(self) -> ComputationGraph:
        if self._graph is None:
            from blocks.graph.computation_graph import ComputationGraph

            self._graph = ComputationGraph(self.outputs + self.extra_outputs)
            allowed = {v.node for v in self.inputs}
            stray = [v.name for v in self._graph.inputs if v.node not in allowed]
            if stray:
                raise ValueError(f"a step's variables must be computed from its own inputs "
                                 f"{[v.node.target for v in self.inputs]} (and parameters); they use the symbolic "
                                 f"input(s) {stray} from outside the step")
        return self._graph

    @property
    def variables(self) -> list[Variable]:
        graph = self.graph
        return graph.variables + graph.scan_variables

    @property
    def tensors(self) -> list[torch.Tensor]:
        found: list[torch.Tensor] = []
        seen: set[int] = set()
        for node in _nodes(self):
            tensor = node.meta.get("tensor") if node.op == "get_attr" else None
            if tensor is not None and id(tensor) not in seen:
                seen.add(id(tensor))
                found.append(tensor)
        return found

    def replace(self, replacements: Mapping[Any, Any]) -> InnerGraph:
        """A new inner graph where each key variable of the step is replaced by its value."""
        new = self.graph.replace(replacements)
        count = len(self.outputs)
        result = InnerGraph(self.inputs, new.outputs[:count], self.runner, new.outputs[count:])
        result.graph  # noqa: B018 -- checks that the replacements use only the step's inputs
        return result

    def with_extra_outputs(self, variables: Sequence[Variable]) -> InnerGraph:
        """The same step also returning ``variables`` (their values are stacked over time by the runner)."""
        return InnerGraph(self.inputs, self.outputs, self.runner, self.extra_outputs + list(variables))

    def compile(self) -> _CompiledStep:
        """The step as a function of its inputs and tensors (compiled once)."""
        if self._compiled is None:
            self._compiled = _CompiledStep(self)
        return self._compiled

    def __repr__(self) -> str:
        return (f"InnerGraph(inputs={[v.node.target for v in self.inputs]}, "
                f"outputs={[v.name for v in self.outputs]}, extra_outputs={len(self.extra_outputs)})")


def _placeholder(value: Any) -> Variable:
    if not isinstance(value, Variable) or value.node.op != "placeholder":
        raise ValueError(f"the inputs of an inner graph must be symbolic inputs (blocks.graph.tensor), got {value!r}")
    return value


def _variable(value: Any, what: str) -> Variable:
    if not isinstance(value, Variable):
        raise ValueError(f"every {what} of an inner graph must be a symbolic variable, got {type(value).__name__}")
    return value


def _nodes(inner: InnerGraph) -> list[fx.Node]:
    """The nodes of a step and of the steps of its nested recurrences."""
    nodes = list(inner.graph._nodes)
    for _, nested in recurrences(inner.graph):
        nodes.extend(_nodes(nested))
    return nodes


class _CompiledStep:
    """A step compiled into ``forward(*inputs, *tensors) -> tuple`` (tensors are fed, not baked in)."""

    def __init__(self, inner: InnerGraph) -> None:
        wanted = [v.node for v in inner.outputs + inner.extra_outputs]
        needed = _ancestors(wanted)
        allowed = {v.node for v in inner.inputs}
        stray = [n.target for n in needed if n.op == "placeholder" and n not in allowed]
        if stray:
            raise ValueError(f"the step uses symbolic input(s) {stray} that are not among its inputs")
        graph = fx.Graph()
        env: dict[fx.Node, Any] = {}
        self.names = [v.node.target for v in inner.inputs]
        for i, variable in enumerate(inner.inputs):
            env[variable.node] = graph.placeholder(f"input_{i}")
        self.tensors: list[torch.Tensor] = []
        self.sequence_ops: list[tuple[Any, Any]] = []
        ordered = sorted(needed, key=_sort_key)
        for node in ordered:
            if node.op == "get_attr":
                env[node] = graph.placeholder(f"tensor_{len(self.tensors)}")
                self.tensors.append(node.meta["tensor"])
        for node in ordered:
            if node.op in ("placeholder", "get_attr"):
                continue
            if node.op == "call_function" and node.target is _annotated:
                env[node] = env[node.args[0]] if isinstance(node.args[0], fx.Node) else node.args[0]
                continue
            env[node] = graph.node_copy(node, lambda n: env[n])
            env[node].meta = {}
            if node.op == "call_function" and callable(getattr(node.target, "begin", None)):
                self.sequence_ops.append((node.target, node.args[1] if len(node.args) > 1 else None))
        graph.output(tuple(env[n] for n in wanted))
        self.module = fx.GraphModule(torch.nn.Module(), graph)

    def bind(self, tensors: Sequence[torch.Tensor]) -> Callable[..., tuple]:
        """``step(**inputs)`` reading ``tensors`` (values of :attr:`tensors`); starts a new sequence."""
        for op, key in self.sequence_ops:
            op.begin(key)
        forward = self.module.forward
        names = self.names
        values = tuple(tensors)

        def step(**inputs: Any) -> tuple:
            return forward(*[inputs[name] for name in names], *values)

        return step


class _InnerCall(_OpaqueCall):
    """Node target of a rewritten recurrence: runs ``inner``'s compiled step through its runner.

    Returns ``(result, extras)``. ``recorded`` are the tensors whose values the node receives (in order); the
    step's tensors are looked up among them by identity.
    """

    def __init__(self, inner: InnerGraph, slots: list[tuple[torch.nn.Module, str, str]], name: str,
                 recorded: list[torch.Tensor]) -> None:
        super().__init__(None, slots, name, recorded=recorded, inner=inner)
        self._positions: list[int] | None = None

    def __call__(self, tensors: Sequence[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        inner = self.inner
        compiled = inner.compile()
        if self._positions is None:
            index = {id(t): i for i, t in enumerate(self.recorded)}
            self._positions = [index[id(t)] for t in compiled.tensors]
        step = compiled.bind([tensors[i] for i in self._positions])
        function = inner.runner(step, len(inner.extra_outputs))
        swapped = _swap_in(self.slots, tensors)
        try:
            return function(*args, **_unpack_kwargs(kwargs))
        finally:
            _swap_out(swapped)

    def __repr__(self) -> str:
        return f"<rewritten recurrence {self.__name__}>"


# ---------------------------------------------------------------------------------------------- outer graphs
def recurrences(cg: ComputationGraph) -> list[tuple[fx.Node, InnerGraph]]:
    """``(node, inner graph)`` of every recurrence of ``cg`` that recorded its step, in graph order."""
    return [(node, node.target.inner) for node in cg._nodes
            if node.op == "call_function" and getattr(node.target, "inner", None) is not None]


def scan_variables(cg: ComputationGraph) -> list[Variable]:
    """The variables of the steps of ``cg``'s recurrences, recurrence by recurrence."""
    result: list[Variable] = []
    for _, inner in recurrences(cg):
        result.extend(inner.variables)
    return result


def refuse_step_values(nodes: Iterable[fx.Node]) -> None:
    """Raise if ``nodes`` depend on a step's placeholders: values inside a step are not outer values."""
    stack, seen = list(nodes), set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.op == "placeholder" and node.meta.get("step_input"):
            raise ValueError(f"a variable to compute is inside the step of a recurrence (it depends on the step's "
                             f"input {node.target!r}); its values over time are blocks.graph.expose_inner(cg, "
                             "[variable])'s outer variables")
        stack.extend(node.all_input_nodes)


def _index(cg: ComputationGraph) -> dict[fx.Node, list[fx.Node]]:
    """Inner node -> the outer recurrence nodes whose step holds it."""
    index: dict[fx.Node, list[fx.Node]] = {}
    for node, inner in recurrences(cg):
        for inner_node in _nodes(inner):
            index.setdefault(inner_node, []).append(node)
    return index


def inner_nodes(cg: ComputationGraph) -> set[fx.Node]:
    """Nodes that are in a step of ``cg``'s recurrences and not in ``cg`` itself."""
    outer = set(cg._nodes)
    return {node for node in _index(cg) if node not in outer}


def lift_inner_replacements(cg: ComputationGraph, replacements: Mapping[Any, Any]) -> dict[Any, Any]:
    """Turn replacements of step variables into replacements of the recurrences running those steps.

    Keys of ``cg`` itself are returned unchanged; keys inside a step are grouped by recurrence, each
    recurrence's step is rewritten (:meth:`InnerGraph.replace`) and the recurrence node is replaced by one
    running the rewritten step. A key that is neither in the graph nor in one of its steps is an error.
    """
    outer = set(cg._nodes)
    result: dict[Any, Any] = {}
    grouped: dict[fx.Node, dict[Any, Any]] = {}
    for key, value in replacements.items():
        if not isinstance(key, Variable) or key.node in outer:
            result[key] = value
    _rewire_unswappable(cg, result)
    if len(result) == len(replacements):
        return result
    index = _index(cg)
    for key, value in replacements.items():
        if not isinstance(key, Variable) or key.node in outer:
            continue
        owners = index.get(key.node)
        if not owners:
            raise ValueError(f"{key!r} is neither a variable of this graph nor of the step of one of its "
                             "recurrences; select variables from this graph's variables or scan_variables")
        for owner in owners:
            grouped.setdefault(owner, {})[key] = value
    for node, inner_replacements in grouped.items():
        new_inner = node.target.inner.replace(inner_replacements)
        result.update(_rewire(cg, node, new_inner))
    return result


def _rewire_unswappable(cg: ComputationGraph, result: dict[Any, Any]) -> None:
    """Recurrences reading a replaced tensor they cannot swap into a module run their compiled step instead."""
    keys = {cg._node_of(key) for key in result}
    for node, inner in recurrences(cg):
        if isinstance(node.target, _InnerCall):
            continue
        unswappable = node.args[0][len(node.target.slots):]
        if any(arg in keys for arg in unswappable):
            result.update(_rewire(cg, node, inner))


def _rewire(cg: ComputationGraph, node: fx.Node, inner: InnerGraph) -> dict[Variable, Variable]:
    """Replacement of recurrence ``node`` by a node running ``inner`` (``(result, extras)`` node: same shape)."""
    new = _new_call(node, inner)
    if isinstance(node.target, _InnerCall):
        return {Variable(node): Variable(new)}
    return {Variable(node): Variable(_TRACER.graph.create_node("call_function", operator.getitem, (new, 0), {}))}


def _new_call(node: fx.Node, inner: InnerGraph) -> fx.Node:
    old = node.target
    recorded = list(old.recorded)
    tensors = list(node.args[0])
    known = {id(t) for t in recorded}
    for tensor in inner.tensors:
        if id(tensor) not in known:
            known.add(id(tensor))
            recorded.append(tensor)
            tensors.append(_TRACER.tensor_node(tensor))
    target = _InnerCall(inner, old.slots, old.__name__, recorded)
    new = _TRACER.graph.create_node("call_function", target, (tuple(tensors), *node.args[1:]), dict(node.kwargs))
    new.meta.update({key: value for key, value in node.meta.items() if key == "within"})
    return new


def expose_inner(computation_graph: ComputationGraph, variables: Iterable[Variable]) -> \
        tuple[ComputationGraph, list[Variable]]:
    """A graph whose recurrences also return ``variables`` (of their steps), and those values over time.

    Each variable of a step (from :attr:`ComputationGraph.scan_variables`) becomes an outer variable holding
    its value at every step, stacked on a new leading time axis (in time order, one value per step, masked
    steps included). The new graph computes the same outputs with the recurrences that hold these variables
    running their step in a Python loop (the fused kernels cannot return inner values); compile its outputs
    together with the exposed variables to compute everything in one pass, e.g. to monitor the mean
    activation of an LSTM's forget gate. Apply other transforms first: a transform of the returned graph
    does not change the exposed variables.

    Parameters
    ----------
    computation_graph : ComputationGraph
    variables : iterable of Variable
        Variables of the steps of the graph's recurrences.

    Returns
    -------
    (ComputationGraph, list of Variable)
        The new graph and one outer variable per requested variable (same name and brick).

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import ComputationGraph, InnerGraph, opaque_call, tensor
    >>> def loop(x, step):  # h_t = tanh(h_{t-1} + x_t); extra step values stacked over time too
    ...     h, states, extra = torch.zeros_like(x[0]), [], []
    ...     for x_t in x:
    ...         h, *more = step(x=x_t, h=h)
    ...         states.append(h)
    ...         extra.append(more)
    ...     return torch.stack(states), tuple(torch.stack(v) for v in zip(*extra))
    >>> x_t, h = tensor("x", shape=(None,)), tensor("h", shape=(None,))
    >>> pre = h + x_t
    >>> inner = InnerGraph([x_t, h], [torch.tanh(pre)], lambda step, num_extra: (lambda x: loop(x, step)))
    >>> y = opaque_call(lambda x: loop(x, lambda x, h: [torch.tanh(h + x)])[0], tensor("x", shape=(None, None)),
    ...                 inner=inner)
    >>> cg = ComputationGraph([y.sum()])
    >>> new_cg, (pre_over_time,) = expose_inner(cg, [pre])
    >>> cost, values = ComputationGraph([new_cg.outputs[0], pre_over_time]).compile()({"x": torch.ones(3, 1)})
    >>> values.view(-1)
    tensor([1.0000, 1.7616, 1.9427])
    """
    cg = computation_graph
    variables = [_variable(v, "exposed variable") for v in variables]
    if not variables:
        raise ValueError("expose_inner needs at least one variable of a recurrence's step (cg.scan_variables)")
    index = _index(cg)
    outer = set(cg._nodes)
    grouped: dict[fx.Node, list[Variable]] = {}
    for variable in variables:
        owners = index.get(variable.node)
        if not owners or variable.node in outer:
            raise ValueError(f"{variable!r} is not a variable of the step of a recurrence of this graph; select it "
                             "from cg.scan_variables")
        if len(owners) > 1:
            raise ValueError(f"{variable!r} is in the step of {len(owners)} recurrences of this graph (a graph "
                             "holding a recurrence and a transformed copy of it); expose it on a graph of one of them")
        grouped.setdefault(owners[0], []).append(variable)
    replacements: dict[Variable, Variable] = {}
    exposed: dict[Variable, Variable] = {}
    for node, chosen in grouped.items():
        inner = node.target.inner
        first = len(inner.extra_outputs)
        new_inner = inner.with_extra_outputs(chosen)
        new_inner.graph  # noqa: B018 -- validates
        replacements.update(_rewire(cg, node, new_inner))
        call = _find_call(replacements, node)
        extras = _TRACER.graph.create_node("call_function", operator.getitem, (call, 1), {})
        for i, variable in enumerate(chosen):
            value = _TRACER.graph.create_node("call_function", operator.getitem, (extras, first + i), {})
            value.meta["name"] = variable.name
            value.meta["roles"] = []
            value.meta["inner_variable"] = variable
            if variable.meta.get("brick") is not None:
                value.meta["brick"] = variable.meta["brick"]
            exposed[variable] = Variable(value)
    return cg.replace(replacements), [exposed[v] for v in variables]


def _find_call(replacements: Mapping[Variable, Variable], node: fx.Node) -> fx.Node:
    new = replacements[Variable(node)].node
    return new.args[0] if new.target is operator.getitem and isinstance(new.args[0].target, _InnerCall) else new
