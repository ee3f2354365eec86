"""``ComputationGraph``: the part of the tape that some outputs need, and its compilation."""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy
import torch
import torch.fx as fx

from blocks.graph.inner import lift_inner_replacements, recurrences, refuse_step_values, scan_variables
from blocks.graph.rewrites import apply_rewrites, resolve_rewrites
from blocks.graph.variables import _TRACER, Variable, _ancestors, _annotated, as_variable, current_tensor
from blocks.roles import AUXILIARY, has_roles

__all__ = ["CompiledGraph", "ComputationGraph"]

logger = logging.getLogger(__name__)


def _sort_key(node: fx.Node) -> Any:
    return node._sort_key


_CPU = torch.device("cpu")


class CompiledGraph:
    """A callable computing graph variables from a batch of named tensors.

    Built by :meth:`ComputationGraph.compile`. ``fn(batch)`` takes a mapping
    from input (data source) names to tensors or arrays (extra keys are
    ignored), runs one forward pass and returns the values of the requested
    variables as a list of tensors.

    Attributes
    ----------
    graph_module : torch.fx.GraphModule
        The generated module (``print(fn.graph_module.code)`` shows the code).
    input_names : list of str
        Names of the inputs the function reads.
    rewrites : tuple of str
        The stability rewrites that were in force when it was compiled.
    rewrites_applied : dict of str to int
        How many times each of them replaced an expression.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import matrix, ComputationGraph
    >>> x = matrix("features")
    >>> fn = ComputationGraph([x * 2]).compile()
    >>> fn({"features": torch.ones(1, 2), "other": 0})
    [tensor([[2., 2.]])]
    """

    def __init__(self, graph_module: fx.GraphModule, inputs: list[tuple[str, torch.dtype | None]],
                 updates: Sequence[tuple[torch.Tensor, int]] = (), num_outputs: int = 0,
                 use_torch_compile: bool = False) -> None:
        self.graph_module = graph_module
        self.input_names = [name for name, _ in inputs]
        self._inputs = inputs
        self._updates = list(updates)
        self._num_outputs = num_outputs
        self._forward: Callable[..., Any] = torch.compile(graph_module) if use_torch_compile else graph_module.forward
        self._tensors = [t for t in vars(graph_module).values() if isinstance(t, torch.Tensor)]
        self._tensors += [*graph_module.parameters(), *graph_module.buffers()]
        self.rewrites: tuple[str, ...] = ()
        self.rewrites_applied: dict[str, int] = {}

    @property
    def tensors(self) -> list[torch.Tensor]:
        """Every tensor the graph reads besides its inputs (parameters, buffers, other attributes)."""
        return list(self._tensors)

    @property
    def device(self) -> torch.device:
        """Where the graph's parameters live; batches are moved there (CPU for a graph without any)."""
        for tensor in self._tensors:
            return tensor.device
        return _CPU

    def set_forward(self, forward: Callable[..., Any]) -> None:
        """Run ``forward(*inputs)`` instead of the graph module (e.g. the module wrapped in
        DistributedDataParallel); it must compute what :attr:`graph_module` computes."""
        self._forward = forward

    def __call__(self, batch: Mapping[str, Any]) -> list[torch.Tensor]:
        args = []
        tensors = self._tensors
        device = tensors[0].device if tensors else _CPU
        for name, dtype in self._inputs:
            try:
                value = batch[name]
            except KeyError:
                missing = [n for n, _ in self._inputs if n not in batch]
                raise ValueError(f"the batch lacks the input(s) {missing} of this graph; it has "
                                 f"{sorted(map(str, batch))}. Batch sources must match input names.") from None
            except TypeError:
                raise ValueError(f"a batch must be a mapping from input names {self.input_names} to "
                                 f"tensors, got {type(batch).__name__}") from None
            if type(value) is numpy.ndarray:  # the common case (Fuel batches): no copy, about 1 µs
                try:
                    value = torch.from_numpy(value)
                except TypeError:  # a dtype torch has no counterpart for: let as_tensor say which
                    value = torch.as_tensor(value)
                except ValueError:  # negative strides (a reversed view, ``x[::-1]``): torch needs a copy
                    value = torch.from_numpy(numpy.ascontiguousarray(value))
            elif not isinstance(value, torch.Tensor):
                value = torch.as_tensor(numpy.asarray(value))
            if dtype is not None and value.dtype is not dtype:
                value = value.to(dtype)
            if value.device != device:  # a host batch for a graph on a GPU: one script for any device
                value = value.to(device, non_blocking=True)
            args.append(value)
        try:
            values = self._forward(*args)
        except (RuntimeError, IndexError) as error:
            self._explain(args, error)
            raise
        if self._updates:
            with torch.no_grad():
                for buffer, index in self._updates:
                    buffer.copy_(values[index])
            values = values[: self._num_outputs]
        return list(values)


    def _explain(self, args: list[torch.Tensor], error: Exception) -> None:
        """Re-run node by node to name the brick application that failed (error path only)."""
        failed: list[Any] = []

        class _Finder(fx.Interpreter):
            def run_node(self, node: fx.Node) -> Any:
                try:
                    return super().run_node(node)
                except Exception:
                    if not failed:
                        failed.append((node, self.fetch_args_kwargs_from_env(node)))
                    raise

        try:
            with torch.no_grad():
                _Finder(self.graph_module).run(*args)
        except Exception:
            pass
        if not failed:
            return
        node, (node_args, node_kwargs) = failed[0]
        call = node.meta.get("within")
        if call is None:
            return
        brick, application = call.brick, call.application
        message = brick._input_mismatch(application, tuple(node_args[:1]), {})
        if not message:
            shapes = [tuple(a.shape) for a in node_args if isinstance(a, torch.Tensor)]
            message = f"{error} (argument shapes {shapes})"
        raise ValueError(f"brick {brick.get_unique_path()} ({type(brick).__name__}).{application.name}: "
                         f"{message}") from error


class ComputationGraph:
    """The annotated computation graph of some outputs (Blocks' ``ComputationGraph``).

    Parameters
    ----------
    outputs : Variable or sequence of Variable
        The variables of interest; everything they depend on (plus the
        auxiliary variables of the application calls involved) is in the graph.

    Attributes
    ----------
    outputs : list of Variable
    variables : list of Variable
        Every variable, topologically ordered, auxiliary variables included.
    inputs : list of Variable
        The symbolic inputs (``.name`` is the data source).
    parameters : list of torch.nn.Parameter
        The parameters the outputs depend on, in order of first use (not those
        read only by auxiliary variables, nor the initial states of a
        recurrence given its states explicitly).
    scan_variables : list of Variable
        The variables inside the steps of the graph's recurrences (Blocks'
        ``scan_variables``): each recurrent application records its step
        traced once symbolically; ``VariableFilter`` selects them and
        transforms rewrite them (see :mod:`blocks.graph.inner`).
    inner_graphs : list of InnerGraph
        Those steps, one per recurrence of the graph, in graph order.
    auxiliary_variables, intermediary_variables : list of Variable
    updates : list of (torch.Tensor, Variable)
        Pairs ``(buffer, new_value)`` to apply after a forward pass (e.g. batch
        normalization's population statistics in training mode).
    bricks : list of Brick
        The bricks whose applications or parameters appear in the graph.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MLP, Tanh, Identity
    >>> from blocks.graph import matrix, ComputationGraph
    >>> from blocks.filter import VariableFilter
    >>> from blocks.initialization import Constant, IsotropicGaussian
    >>> from blocks.roles import WEIGHT
    >>> mlp = MLP([Tanh(), Identity()], [4, 3, 2], weights_init=IsotropicGaussian(0.1),
    ...           biases_init=Constant(0))
    >>> x = matrix("features")
    >>> cost = mlp.apply(x).sum()
    >>> cg = ComputationGraph([cost])
    >>> [v.name for v in VariableFilter(roles=[WEIGHT])(cg.variables)]
    ['W', 'W']
    >>> fn = cg.compile()
    >>> fn({"features": torch.zeros(5, 4)})[0].shape
    torch.Size([])
    """

    def __init__(self, outputs: Variable | Sequence[Variable]) -> None:
        if isinstance(outputs, (Variable, torch.Tensor)):
            outputs = [outputs]
        self.outputs: list[Variable] = [as_variable(o) for o in outputs]
        self._collect()

    # ------------------------------------------------------------------ building
    def _collect(self) -> None:
        nodes: set[fx.Node] = set()
        calls: dict[int, Any] = {}
        stack = [o.node for o in self.outputs]
        while stack:
            node = stack.pop()
            if node in nodes:
                continue
            nodes.add(node)
            stack.extend(node.all_input_nodes)
            call = node.meta.get("application_call")
            if call is not None and id(call) not in calls:
                calls[id(call)] = call
                stack.extend(v.node for v in call.auxiliary_variables)
                stack.extend(v.node for _, v in call.updates)
        self._nodes = sorted(nodes, key=_sort_key)
        self._calls = sorted(calls.values(), key=lambda c: _sort_key(c.order_node) if c.order_node else ())
        self.variables = [Variable(n) for n in self._nodes]
        self.inputs = [v for v in self.variables if v.node.op == "placeholder"]
        self.parameters = _parameters_reached([o.node for o in self.outputs])
        names: dict[str, Variable] = {}
        for variable in self.inputs:
            other = names.setdefault(variable.name, variable)
            if other is not variable:
                raise ValueError(f"two different symbolic inputs are named {variable.name!r}; input names must be "
                                 "unique within a graph (they are matched to batch sources by name)")
        self._updates = [u for call in self._calls for u in call.updates]

    @property
    def updates(self) -> list[tuple[torch.Tensor, Variable]]:
        return [(current_tensor(buffer), value) for buffer, value in self._updates]

    @property
    def scan_variables(self) -> list[Variable]:
        return scan_variables(self)

    @property
    def inner_graphs(self) -> list[Any]:
        return [inner for _, inner in recurrences(self)]

    @property
    def auxiliary_variables(self) -> list[Variable]:
        return [v for v in self.variables if has_roles(v, [AUXILIARY])]

    @property
    def intermediary_variables(self) -> list[Variable]:
        outputs = set(self.outputs)
        return [v for v in self.variables
                if v.node.op not in ("placeholder", "get_attr") and v not in outputs and not has_roles(v, [AUXILIARY])]

    @property
    def shared_variables(self) -> list[torch.Tensor]:
        """Every tensor (parameters, buffers, constants) the graph reads."""
        return [current_tensor(n.meta["tensor"]) for n in self._nodes if n.op == "get_attr"]

    @property
    def bricks(self) -> list[Any]:
        bricks: list[Any] = []
        seen: set[int] = set()
        for node in self._nodes:
            brick = node.meta.get("brick")
            if brick is not None and id(brick) not in seen:
                seen.add(id(brick))
                bricks.append(brick)
        return bricks

    @property
    def application_calls(self) -> list[Any]:
        """The :class:`blocks.bricks.ApplicationCall` objects recorded in this graph."""
        return list(self._calls)

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.variables)

    def dict_of_inputs(self) -> dict[str, Variable]:
        """Inputs by name."""
        return {v.name: v for v in self.inputs}

    def has_inputs(self, variable: Variable) -> bool:
        """Whether ``variable`` depends on a symbolic input."""
        stack, seen = [as_variable(variable).node], set()
        while stack:
            node = stack.pop()
            if node.op == "placeholder":
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(node.all_input_nodes)
        return False

    # ------------------------------------------------------------------ rewriting
    def replace(self, replacements: Mapping[Any, Any] | Sequence[tuple[Any, Any]]) -> ComputationGraph:
        """A new graph where each key variable is replaced by its value.

        The original graph is untouched and keeps working; the new one shares
        its parameters. Keys may be variables or the tensors (parameters) they
        stand for, or variables of the steps of the graph's recurrences
        (:attr:`scan_variables`): their recurrences then run the rewritten
        step. A key that is in neither is an error (Blocks only warned: a
        replacement that does nothing is a mistake). ``replacements`` is a
        mapping or, as in Blocks, a list of pairs; replacing an auxiliary
        variable warns, as in Blocks.

        Examples
        --------
        >>> import torch
        >>> from blocks.graph import matrix, ComputationGraph
        >>> x = matrix("x")
        >>> h = torch.tanh(x)
        >>> y = h * 2
        >>> cg = ComputationGraph([y])
        >>> cg2 = cg.replace({h: h + 1})
        >>> batch = {"x": torch.zeros(1, 1)}
        >>> cg.compile()(batch)[0].item(), cg2.compile()(batch)[0].item()
        (0.0, 2.0)
        """
        if not isinstance(replacements, Mapping):
            replacements = OrderedDict(replacements)
        for old in replacements:
            if isinstance(old, Variable) and has_roles(old, [AUXILIARY]):
                warnings.warn(f"replace was asked to replace {old!r}, which is an auxiliary variable", stacklevel=2)
        replacements = lift_inner_replacements(self, replacements)
        env: dict[fx.Node, fx.Node] = {}
        pairs = sorted(((self._node_of(old), as_variable(new).node) for old, new in replacements.items()),
                       key=lambda pair: _sort_key(pair[0]))
        keys = {old for old, _ in pairs}
        for old_node, new_node in pairs:
            # Dependent replacements (Blocks' rule): a replacement built on another replaced variable
            # sees that variable replaced too.
            env[old_node] = _clone_dependents(new_node, env) if env else new_node
        for node in self._nodes:
            if node not in env and any(inp in env for inp in node.all_input_nodes):
                env[node] = _copy_node(node, env)
        # Cloned annotated nodes get their own application calls, whose auxiliary variables and
        # updates are mapped (and cloned where they depend on replaced variables).
        calls: dict[int, Any] = {}
        for node in [n for n in env if n not in keys] + [n for n in self._nodes if n in keys]:
            call = node.meta.get("application_call")
            if call is not None:
                calls.setdefault(id(call), call)
        for call in self._calls:
            if any(v.node in env for v in call.auxiliary_variables) or any(v.node in env for _, v in call.updates):
                calls.setdefault(id(call), call)
        cloned_calls: dict[int, Any] = {}
        for call in list(calls.values()):
            cloned_calls[id(call)] = call.copy_with(lambda v: Variable(env[v.node] if v.node in env
                                                                        else _clone_dependents(v.node, env)))
        for old, node in env.items():
            if old in keys:
                continue
            call = node.meta.get("application_call")
            if call is not None and id(call) in cloned_calls:
                node.meta = dict(node.meta)
                node.meta["application_call"] = cloned_calls[id(call)]
        for clone in cloned_calls.values():
            clone.nodes = [env.get(n, n) for n in clone.nodes]
        outputs = [Variable(env.get(o.node, o.node)) for o in self.outputs]
        for old_out, new_out in zip(self.outputs, outputs):
            if new_out.node is not old_out.node:
                new_out.node.meta.setdefault("replacement_of", old_out)
        return ComputationGraph(outputs)

    def _node_of(self, value: Any) -> fx.Node:
        if isinstance(value, Variable):
            return value.node
        if isinstance(value, torch.Tensor):
            for node in self._nodes:
                if node.op == "get_attr" and node.meta.get("tensor") is value:
                    return node
            raise ValueError("the tensor to replace is not used by this graph")
        raise ValueError(f"replacement keys must be Variables or tensors of the graph, got {type(value).__name__}")

    # ------------------------------------------------------------------ compilation
    def compile(self, outputs: Sequence[Variable] | None = None, *, use_torch_compile: bool = False,
                apply_updates: bool = False, rewrites: Any = None) -> CompiledGraph:
        """Compile into ``fn(batch) -> list[Tensor]`` (one forward pass).

        Parameters
        ----------
        outputs : sequence of Variable, optional
            Variables to compute (default: :attr:`outputs`); they must belong
            to this graph or depend only on its inputs.
        use_torch_compile : bool
            Wrap the generated module with ``torch.compile`` (opt-in: the
            first call compiles, which takes long on CPU).
        apply_updates : bool
            After each call, copy the values of :attr:`updates` into their
            buffers (no gradient), e.g. batch-norm population statistics.
        rewrites : bool, str or sequence of str, optional
            The numerical-stability rewrites to apply (``log(softmax(x))`` →
            ``log_softmax(x)``, ...; :data:`blocks.stability.REWRITES` lists
            them): ``True``/``"all"``, ``False``/``"none"``, names, or
            ``"all -name"``. Default: the ``stability_rewrites``
            configuration option (all of them unless configured otherwise).
            The compiled function's ``rewrites`` and ``rewrites_applied`` say
            which were in force and which fired.
        """
        outputs = self.outputs if outputs is None else [as_variable(o) for o in outputs]
        updates = self.updates if apply_updates else []
        wanted = [o.node for o in outputs] + [v.node for _, v in updates]
        refuse_step_values(wanted)
        _check_initialized(wanted)
        return _compile(wanted, len(outputs), [b for b, _ in updates], use_torch_compile,
                        resolve_rewrites(rewrites))

    def get_snapshot(self, batch: Mapping[str, Any]) -> OrderedDict[Variable, torch.Tensor]:
        """Values of every role-carrying variable (and every output) for one batch.

        Parameters and other tensors are left out, as Blocks left out shared
        variables: their values are at hand.
        """
        chosen = [v for v in self.variables
                  if (v.meta.get("roles") or v in self.outputs) and v.node.op != "get_attr"]
        with torch.no_grad():
            values = self.compile(chosen)(batch)
        return OrderedDict(zip(chosen, values))


def _parameters_reached(outputs: list[fx.Node]) -> list[torch.nn.Parameter]:
    """The parameters ``outputs`` depend on (not those only auxiliary variables or updates read), in node order."""
    reached = _ancestors(outputs)
    parameters: list[torch.nn.Parameter] = []
    seen: set[int] = set()
    for node in sorted((n for n in reached if n.op == "get_attr"), key=_sort_key):
        tensor = node.meta.get("tensor")
        if isinstance(tensor, torch.nn.Parameter) and id(tensor) not in seen:
            seen.add(id(tensor))
            parameters.append(tensor)
    return parameters


def _copy_node(node: fx.Node, env: dict[fx.Node, fx.Node]) -> fx.Node:
    clone = _TRACER.graph.node_copy(node, lambda n: env.get(n, n))
    if "roles" in clone.meta:
        clone.meta["roles"] = list(clone.meta["roles"])
    return clone


def _clone_dependents(node: fx.Node, env: dict[fx.Node, fx.Node]) -> fx.Node:
    """``node`` with its ancestors that depend on keys of ``env`` cloned (clones are added to ``env``)."""
    ancestors: set[fx.Node] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current in ancestors or current in env:
            continue
        ancestors.add(current)
        stack.extend(current.all_input_nodes)
    for current in sorted(ancestors, key=_sort_key):
        if any(inp in env for inp in current.all_input_nodes):
            env[current] = _copy_node(current, env)
    return env.get(node, node)


def _check_initialized(wanted: list[fx.Node]) -> None:
    """Initialize bricks whose parameters the nodes use, or fail naming them (no NaN parameters)."""
    needed: set[fx.Node] = set()
    stack = list(wanted)
    bricks: dict[int, Any] = {}
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(node.all_input_nodes)
        brick = getattr(node.meta.get("tensor"), "_blocks_brick", None) if node.op == "get_attr" else None
        if brick is not None and not getattr(brick, "initialized", True):
            bricks[id(brick)] = brick
    failed = []
    for brick in bricks.values():
        try:
            brick.initialize(strict=False)
        except ValueError:
            try:  # settings may have been given to a parent after the graph was built: push them again
                for ancestor in brick._ancestors():
                    ancestor.push_initialization_config()
                brick.initialize(strict=False)
            except ValueError as error:
                failed.append(f"{brick.get_unique_path()} ({error})")
    if failed:
        raise ValueError("cannot compile: parameters of these bricks are not initialized: " + "; ".join(failed) +
                         ". Give them weights_init/biases_init (or a parent), or load values with "
                         "Model.set_parameter_values / load_state_dict.")


def _compile(wanted: list[fx.Node], num_outputs: int, buffers: list[torch.Tensor],
             use_torch_compile: bool, rewrites: tuple[str, ...] = ()) -> CompiledGraph:
    needed = _ancestors(wanted)
    graph = fx.Graph()
    env: dict[fx.Node, Any] = {}
    root: dict[str, Any] = {}
    inputs: list[tuple[str, torch.dtype | None]] = []
    ordered = sorted(needed, key=_sort_key)
    for node in ordered:
        if node.op == "placeholder":
            name = node.name if node.name not in ("self", "args", "kwargs") else f"{node.name}_input"
            env[node] = graph.placeholder(name)
            inputs.append((node.target, node.meta.get("dtype")))
    for node in ordered:
        if node.op == "placeholder":
            continue
        if node.op == "get_attr":
            target = f"t{len(root)}"
            root[target] = current_tensor(node.meta["tensor"])
            env[node] = graph.get_attr(target)
        elif node.op == "call_function" and node.target is _annotated:
            env[node] = env[node.args[0]] if isinstance(node.args[0], fx.Node) else node.args[0]
        else:
            env[node] = graph.node_copy(node, lambda n: env[n])
            env[node].meta = {"within": node.meta["within"]} if "within" in node.meta else {}
    graph.output(tuple(env[n] for n in wanted))
    applied = apply_rewrites(graph, rewrites)
    module = fx.GraphModule(root, graph)
    if not use_torch_compile:
        # The generated code reads ``self.t0``...: a parameter lives in ``_parameters`` and each read goes
        # through nn.Module.__getattr__, a Python call per parameter per batch. The same object in the
        # instance dict is found first. Parameters are only ever moved in place (``.data``), and
        # nn.Module.__setattr__ removes the entry if one is replaced, so the two never disagree.
        module.__dict__.update(module._parameters)
    updates = [(buffer, num_outputs + i) for i, buffer in enumerate(buffers)]
    compiled = CompiledGraph(module, inputs, updates, num_outputs, use_torch_compile)
    compiled.rewrites, compiled.rewrites_applied = rewrites, applied
    return compiled
