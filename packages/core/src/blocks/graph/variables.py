"""Symbolic variables on torch.fx: the recording side of the annotated graph.

Every symbolic value is a :class:`Variable`, an ``fx.Proxy`` over a node of one
process-wide ``fx.Graph`` (the *tape*, like Theano's implicit graph). The tape
does not hold its nodes: a graph lives as long as its variables (or a
``ComputationGraph`` of them) do, so building many models in one process does
not grow its memory. Symbolic
inputs are placeholders named after data sources (:func:`matrix` ``('features')``);
arithmetic and torch functions on variables append nodes through
``__torch_function__``; tensors that meet a variable (parameters, buffers,
constants) become ``get_attr`` nodes that keep a reference to the tensor object,
its roles and its brick. :class:`blocks.graph.ComputationGraph` selects the part
of the tape an output needs and compiles it into a ``GraphModule``.

Annotation nodes (inputs/outputs/auxiliary variables of application calls)
are identity calls carrying ``node.meta`` (``roles``, ``name``, ``brick``,
``application_call``); compilation removes them, so they cost nothing at run
time.

Notes
-----
``==`` and ``!=`` on variables compare identity (as Theano's did) so variables
can be used in lists, sets and dicts; the variable of a parameter equals the
parameter (``W == VariableFilter(roles=[WEIGHT])(cg.variables)[0]``). Use ``torch.eq(a, b)`` / ``torch.ne`` (or
:func:`eq` / :func:`neq`) for element-wise comparison. ``<``, ``>``, ``<=``,
``>=`` are symbolic.

Examples
--------
>>> import torch
>>> from blocks.graph import matrix, lvector
>>> x = matrix("features")
>>> y = lvector("targets")
>>> z = (x * 2).sum(dim=1) + torch.tanh(x).mean()
>>> x.name, z.name is None
('features', True)
"""

from __future__ import annotations

import functools
import keyword
import operator
import weakref
from typing import Any, Callable, Sequence

import torch
import torch.fx as fx

from blocks.config import config

__all__ = [
    "Variable",
    "annotate",
    "as_variable",
    "call",
    "eq",
    "get_tape",
    "iscalar",
    "imatrix",
    "is_symbolic",
    "ivector",
    "lmatrix",
    "lscalar",
    "ltensor3",
    "lvector",
    "matrix",
    "neq",
    "opaque_call",
    "scalar",
    "tensor",
    "tensor3",
    "tensor4",
    "vector",
]


_IDENTITY_COMPARISONS = {torch.Tensor.__eq__: True, torch.Tensor.eq: True, torch.Tensor.__ne__: False,
                         torch.Tensor.ne: False}
"""``tensor == variable`` compares identity, as ``variable == tensor`` does (``torch.eq`` stays element-wise)."""


def _ancestors(nodes: Any) -> set[fx.Node]:
    """``nodes`` and every node they are computed from (the closure over ``all_input_nodes``)."""
    reached: set[fx.Node] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node not in reached:
            reached.add(node)
            stack.extend(node.all_input_nodes)
    return reached


def _annotated(x: Any) -> Any:
    """Identity: the target of annotation nodes (removed by compilation)."""
    return x


_CALL_STACK: list[Any] = []
"""Application calls being recorded (innermost last); nodes remember the call they were made in."""


class _Lookup(fx.graph._FindNodesLookupTable):
    """fx's node lookup table, except that asking whether a node is in it adds no entry.

    ``fx.Node.__setattr__`` asks on every attribute change (``node.meta = ...``,
    the list pointers); fx's table is a ``defaultdict`` and kept an empty entry
    keyed by the node's target, holding an opaque call's brick forever.
    """

    def __contains__(self, node: fx.Node) -> bool:
        entry = self.table.get(self._key(node))
        return entry is not None and node in entry


class _Tape(fx.Graph):
    """The process-wide graph nodes are created in; it holds none of them.

    A node lives as long as something holds it: a :class:`Variable`, a
    ``ComputationGraph``, an application call, or a live node that uses it
    (nodes hold their inputs, not their users). The graph of a model nobody
    holds any more is freed with it, so a process building many models (a
    grid search, a notebook, a test suite) does not grow.

    To that end every new node is let go of at once: it is not entered in
    the graph's name table or lookup table, its inputs do not list it among
    their ``users``, and only the newest node stays in the node list (new
    nodes take their ``_sort_key`` -- the topological order -- from it).
    So ``node.users`` is empty on the tape, the tape's ``nodes`` lists one
    node at most, and tape nodes must not be erased or have their arguments
    changed (copy them into a graph of your own, as compilation does).
    """

    def __init__(self) -> None:
        super().__init__()
        self._find_nodes_lookup_table = _Lookup()
        self._alive: weakref.WeakSet[fx.Node] = weakref.WeakSet()

    def live_nodes(self) -> int:
        """How many nodes made on the tape are still alive (held by something)."""
        return len(self._alive)

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        self._alive.add(node)
        for used in node._input_nodes:
            used.users.pop(node, None)
        namespace = self._graph_namespace
        namespace._obj_to_name.pop(node, None)
        namespace._used_names.discard(node.name)  # names need not be unique here; compiled graphs rename
        lookup = self._find_nodes_lookup_table
        key = lookup._key(node)
        entry = lookup.table.get(key)
        if entry is not None:
            entry.pop(node, None)
            if not entry:  # the key holds the target (an opaque call holds its brick)
                del lookup.table[key]
        previous = node._prev
        if previous is not self._root:
            previous._remove_from_list()
            previous._prev = previous._next = self._root  # no chain from node to node through the list
            self._len -= 1
        return node


class _Tracer(fx.Tracer):
    """Tracer appending to the process-wide tape; tensors become ``get_attr`` nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.graph = _Tape()
        # id(tensor) -> (tensor, node), both weak: the node lives while graphs use it, the tensor while the node does
        self._tensor_nodes: dict[int, tuple[weakref.ref, weakref.ref]] = {}
        self._counter = 0

    def proxy(self, node: fx.Node) -> Variable:
        return Variable(node, self)

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        if _CALL_STACK:
            node.meta["within"] = _CALL_STACK[-1]
        return node

    def create_arg(self, a: Any) -> Any:
        if isinstance(a, torch.Tensor):
            return self.tensor_node(a)
        if isinstance(a, Variable):
            return a.node
        return super().create_arg(a)

    def tensor_node(self, tensor: torch.Tensor) -> fx.Node:
        """The ``get_attr`` node standing for ``tensor`` (created once per tensor)."""
        entry = self._tensor_nodes.get(id(tensor))
        if entry is not None and entry[0]() is tensor:
            node = entry[1]()
            if node is not None:
                return node
        if tensor.grad_fn is not None:
            raise ValueError(
                "a tensor computed eagerly from parameters (it has a grad_fn) met a symbolic variable: in the graph "
                "it would be a frozen constant. Lift the parameters first, e.g. "
                "blocks.graph.as_variable(brick.W) ** 2, or take them from VariableFilter(...)(cg.variables).")
        from blocks.roles import PARAMETER, _role_list, add_role

        if isinstance(tensor, torch.nn.Parameter) and not _role_list(tensor, create=False):
            add_role(tensor, PARAMETER)
        self._counter += 1
        node = self.graph.create_node("get_attr", f"_tensor_{self._counter}", (), {},
                                      name=f"{getattr(tensor, '_blocks_name', 'tensor')}_{self._counter}")
        node.meta["tensor"] = tensor
        roles = _role_list(tensor, create=False)
        if roles is not None:
            node.meta["roles"] = roles  # shared with the tensor
        else:
            node.meta["roles"] = []
        node.meta["name"] = getattr(tensor, "_blocks_name", None)
        brick = getattr(tensor, "_blocks_brick", None)
        if brick is not None:
            node.meta["brick"] = brick
        key = id(tensor)
        self._tensor_nodes[key] = (weakref.ref(tensor), weakref.ref(node, functools.partial(self._forget, key)))
        return node

    def _forget(self, key: int, dead: weakref.ref) -> None:
        entry = self._tensor_nodes.get(key)
        if entry is not None and entry[1] is dead:
            del self._tensor_nodes[key]


_TRACER = _Tracer()


def get_tape() -> fx.Graph:
    """Return the process-wide ``fx.Graph`` symbolic operations are recorded in.

    It holds none of its nodes (see the module notes): a graph lives as long
    as its variables, and ``get_tape().nodes`` lists the newest node only.
    """
    return _TRACER.graph


class Variable(fx.Proxy):
    """A symbolic value: an ``fx.Proxy`` over a node of the tape, with Blocks' metadata.

    Parameters
    ----------
    node : torch.fx.Node
        The node this variable stands for.
    tracer : torch.fx.Tracer, optional
        The recording tracer (the process-wide one by default).

    Attributes
    ----------
    name : str or None
        Blocks' short name (the data source for inputs, ``"output"``, ``"W"``,
        or whatever the user assigns, e.g. ``cost.name = "cost"``).

    Examples
    --------
    >>> from blocks.graph import matrix
    >>> from blocks.roles import add_role, has_roles, COST
    >>> x = matrix("features")
    >>> cost = (x ** 2).mean()
    >>> cost.name = "cost"
    >>> add_role(cost, COST)
    >>> has_roles(cost, [COST]), cost.name
    (True, 'cost')
    """

    def __new__(cls, node: fx.Node, tracer: fx.Tracer | None = None) -> Variable:
        # One Python object per node, as Theano had one per variable: ``cg.variables[i] is x`` holds.
        ref = node.meta.get("_blocks_variable")
        existing = ref() if ref is not None else None
        if existing is not None and existing.node is node and type(existing) is cls:
            return existing
        variable = super().__new__(cls)
        node.meta["_blocks_variable"] = weakref.ref(variable)
        return variable

    def __init__(self, node: fx.Node, tracer: fx.Tracer | None = None) -> None:
        super().__init__(node, tracer if tracer is not None else _TRACER)

    @property
    def _blocks_node(self) -> fx.Node:
        return self.node

    @property
    def name(self) -> str | None:
        return self.node.meta.get("name")

    @name.setter
    def name(self, value: str | None) -> None:
        self.node.meta["name"] = value

    @property
    def meta(self) -> dict[str, Any]:
        """The node's metadata (roles, brick, application call, shape, ...)."""
        return self.node.meta

    @property
    def is_input(self) -> bool:
        """Whether this is a symbolic input (a placeholder)."""
        return self.node.op == "placeholder"

    @property
    def tensor(self) -> torch.Tensor | None:
        """The tensor a parameter/buffer/constant variable stands for (else ``None``)."""
        return self.node.meta.get("tensor")

    @property
    def static_shape(self) -> tuple[int | None, ...] | None:
        """The shape declared for an input (``None`` entries are free), if known."""
        tensor = self.node.meta.get("tensor")
        if tensor is not None:
            return tuple(tensor.shape)
        return self.node.meta.get("shape")

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if isinstance(other, torch.Tensor):  # the variable of a parameter is its parameter, as in Theano
            return self.node.op == "get_attr" and self.node.meta.get("tensor") is other
        return isinstance(other, Variable) and other.node is self.node

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in _IDENTITY_COMPARISONS and not kwargs and len(args) == 2 and isinstance(args[0], torch.Tensor):
            equal = isinstance(args[1], Variable) and args[1].__eq__(args[0])  # ``parameter == variable``
            return equal if _IDENTITY_COMPARISONS[func] else not equal
        return super().__torch_function__(func, types, args, kwargs)

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.node)

    def __repr__(self) -> str:
        return f"Variable({self.name or self.node.name})"

    def __deepcopy__(self, memo: dict) -> Variable:
        return self

    def __copy__(self) -> Variable:
        return self


def current_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor a brick holds now under the name of ``tensor`` (buffers are replaced by ``.to()``)."""
    brick = getattr(tensor, "_blocks_brick", None)
    if brick is not None and not isinstance(tensor, torch.nn.Parameter):
        name = getattr(tensor, "_blocks_name", None)
        value = brick._buffers.get(name)
        if value is None and name and "." in name:
            try:
                value = brick.get_buffer(f"module.{name}")
            except AttributeError:
                value = None
        if value is not None:
            return value
    return tensor


def as_variable(value: Any) -> Variable:
    """Return ``value`` as a :class:`Variable` (tensors become constant/parameter nodes)."""
    if isinstance(value, Variable):
        return value
    if isinstance(value, torch.Tensor):
        return Variable(_TRACER.tensor_node(value))
    raise ValueError(f"expected a blocks.graph.Variable or a torch.Tensor, got {type(value).__name__}")


def is_symbolic(*values: Any) -> bool:
    """Whether any of ``values`` (or of the items of list/tuple/dict values) is a :class:`Variable`."""
    for value in values:
        if isinstance(value, Variable):
            return True
        if isinstance(value, (list, tuple)) and is_symbolic(*value):
            return True
        if isinstance(value, dict) and is_symbolic(*value.values()):
            return True
    return False


def tensor(name: str, ndim: int | None = None, shape: Sequence[int | None] | None = None,
           dtype: torch.dtype | str | None = None) -> Variable:
    """A symbolic input named after a data source.

    Parameters
    ----------
    name : str
        The data source this input is fed from (``"features"``).
    ndim : int, optional
        Number of dimensions (taken from ``shape`` when omitted).
    shape : sequence of int or None, optional
        Known sizes (``None`` for free axes such as the batch axis); lets
        bricks infer their input dimensions.
    dtype : torch.dtype or str, optional
        The dtype batches are converted to (``config.floatX`` by default).

    Examples
    --------
    >>> from blocks.graph import tensor
    >>> x = tensor("features", shape=(None, 784))
    >>> x.name, x.static_shape, x.meta["ndim"]
    ('features', (None, 784), 2)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a symbolic input needs a non-empty str name (its data source), got {name!r}")
    if shape is not None:
        shape = tuple(None if s is None else int(s) for s in shape)
        if ndim is not None and ndim != len(shape):
            raise ValueError(f"input {name!r}: ndim={ndim} does not match shape {shape}")
        ndim = len(shape)
    if dtype is None:
        dtype = getattr(torch, config.floatX)
    elif isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"input {name!r}: unknown dtype {dtype!r}; use e.g. 'float32', 'int64'")
        dtype = getattr(torch, dtype)
    graph = _TRACER.graph
    node = graph.create_node("placeholder", name, (), {}, name=_identifier(name))
    node.meta.update({"name": name, "roles": [], "ndim": ndim, "shape": shape, "dtype": dtype})
    return Variable(node)


def _identifier(name: str) -> str:
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return ident if ident and not ident[0].isdigit() else f"input_{ident}"


def _shorthand(ndim: int, integer: bool, bits: int = 64) -> Callable[..., Variable]:
    def make(name: str, dtype: torch.dtype | str | None = None) -> Variable:
        if dtype is None and integer:
            dtype = torch.int64 if bits == 64 else torch.int32
        return tensor(name, ndim=ndim, dtype=dtype)

    kind = f"int{bits}" if integer else "floatX"
    make.__doc__ = f"A symbolic {ndim}-d {kind} input named after a data source (Theano-style shorthand)."
    return make


scalar = _shorthand(0, False)
vector = _shorthand(1, False)
matrix = _shorthand(2, False)
tensor3 = _shorthand(3, False)
tensor4 = _shorthand(4, False)
lscalar = _shorthand(0, True)
lvector = _shorthand(1, True)
lmatrix = _shorthand(2, True)
ltensor3 = _shorthand(3, True)
iscalar = _shorthand(0, True, 32)
ivector = _shorthand(1, True, 32)
imatrix = _shorthand(2, True, 32)
for _fn, _name in [(scalar, "scalar"), (vector, "vector"), (matrix, "matrix"), (tensor3, "tensor3"),
                   (tensor4, "tensor4"), (lscalar, "lscalar"), (lvector, "lvector"), (lmatrix, "lmatrix"),
                   (ltensor3, "ltensor3"), (iscalar, "iscalar"), (ivector, "ivector"), (imatrix, "imatrix")]:
    _fn.__name__ = _fn.__qualname__ = _name


def eq(a: Any, b: Any) -> Any:
    """Element-wise equality (``==`` on variables compares identity)."""
    return torch.eq(a, b)


def neq(a: Any, b: Any) -> Any:
    """Element-wise inequality (``!=`` on variables compares identity)."""
    return torch.ne(a, b)


_PACKED_KWARGS = "blocks_packed_kwargs"
"""Node keyword holding the keyword arguments whose names are not identifiers (``inputs#1`` of a RecurrentStack).

torch.fx writes a node's keyword arguments as ``name=value`` in generated code, so such names go in one dict.
"""


def _pack_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the names that are not identifiers moved into one ``blocks_packed_kwargs`` dict."""
    odd = {k: v for k, v in kwargs.items() if not k.isidentifier() or keyword.iskeyword(k)}
    if not odd:
        return kwargs
    packed = {k: v for k, v in kwargs.items() if k not in odd}
    packed[_PACKED_KWARGS] = odd
    return packed


def _unpack_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_pack_kwargs`."""
    if _PACKED_KWARGS not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    kwargs.update(kwargs.pop(_PACKED_KWARGS))
    return kwargs


class _KeywordCall:
    """Node target calling ``function`` with packed keyword arguments unpacked (see :func:`_pack_kwargs`)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__name__ = self.__qualname__ = _identifier(getattr(function, "__name__", "call"))
        self.__module__ = __name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **_unpack_kwargs(kwargs))


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Variable:
    """Record ``function(*args, **kwargs)`` as ONE node of the tape.

    Variables in the arguments become the node's inputs, tensors become
    ``get_attr`` nodes (so graph transforms can replace parameters), other
    values are stored as constants. The function runs only when the compiled
    graph runs.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import matrix, call, ComputationGraph
    >>> x = matrix("x")
    >>> y = call(torch.nn.functional.gelu, x)
    >>> ComputationGraph([y]).compile()({"x": torch.zeros(1, 2)})[0].shape
    torch.Size([1, 2])
    """
    packed = _pack_kwargs(kwargs)
    if packed is not kwargs:
        function = _KeywordCall(function)
    return _TRACER.create_proxy("call_function", function, args, packed)


def annotate(value: Any, name: str | None = None, roles: Sequence[Any] = (), brick: Any = None,
             application_call: Any = None) -> Variable:
    """Record an annotated copy of ``value`` (an identity node carrying Blocks' metadata)."""
    node = _TRACER.graph.create_node("call_function", _annotated, (_TRACER.create_arg(value),), {},
                                     name=name if name and name.isidentifier() else None)
    node.meta["name"] = name
    node.meta["roles"] = []
    if isinstance(value, Variable):
        # what describes the value travels with it (Blocks annotated the variable itself, keeping its tag)
        for key in ("shape", "dtype", "ndim", "aggregation_scheme"):
            if key in value.node.meta:
                node.meta[key] = value.node.meta[key]
    if brick is not None:
        node.meta["brick"] = brick
    if application_call is not None:
        node.meta["application_call"] = application_call
    variable = Variable(node)
    if roles:
        from blocks.roles import add_role

        for role in roles:
            add_role(variable, role)
    return variable


class _OpaqueCall:
    """Callable node target running ``function`` eagerly with its tensors swapped in.

    ``tensors`` are ``(module, attribute, kind)`` slots whose current values the
    node receives as arguments; when a graph transform replaced one (e.g. weight
    noise), the replacement is swapped into the module for the duration of the call.
    ``recorded`` are the tensors the node receives, in order (the slots' tensors,
    then those only the inner graph reads); ``inner`` is the recorded
    :class:`blocks.graph.inner.InnerGraph` of a recurrence, if any.
    """

    def __init__(self, function: Callable[..., Any], slots: list[tuple[torch.nn.Module, str, str]],
                 name: str, recorded: Sequence[torch.Tensor] = (), inner: Any = None) -> None:
        self.function = function
        self.slots = slots
        self.recorded = list(recorded)
        self.inner = inner
        self.__name__ = self.__qualname__ = name
        self.__module__ = __name__

    def __call__(self, tensors: Sequence[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        swapped = _swap_in(self.slots, tensors)
        try:
            return self.function(*args, **_unpack_kwargs(kwargs))
        finally:
            _swap_out(swapped)

    def __repr__(self) -> str:
        return f"<opaque call {self.__name__}>"


def _swap_in(slots: Sequence[tuple[torch.nn.Module, str, str]], tensors: Sequence[torch.Tensor]) -> list[Any]:
    """Put replaced tensors (``tensors`` differing from the slots' current values) into their modules."""
    swapped = []
    try:
        for (module, attr, kind), value in zip(slots, tensors):
            store = module._parameters if kind == "parameter" else module._buffers
            original = store[attr]
            if original is not value:
                store[attr] = value
                swapped.append((store, attr, original))
    except BaseException:
        _swap_out(swapped)
        raise
    return swapped


def _swap_out(swapped: list[Any]) -> None:
    for store, attr, original in swapped:
        store[attr] = original


_CONSTANTS = (int, float, bool, str, type(None), torch.dtype, torch.device, slice, range, torch.Tensor, fx.Proxy)


def _owner_slot(tensor: torch.Tensor) -> tuple[torch.nn.Module, str, str] | None:
    """The ``(module, attribute, kind)`` slot holding an annotated brick tensor, if any."""
    brick = getattr(tensor, "_blocks_brick", None)
    name = getattr(tensor, "_blocks_name", None)
    if brick is None or not isinstance(name, str):
        return None
    if brick._parameters.get(name) is tensor:
        return brick, name, "parameter"
    if brick._buffers.get(name) is tensor:
        return brick, name, "buffer"
    return None


def _graphable(value: Any) -> bool:
    """Whether ``value`` can be an argument of an fx node."""
    if isinstance(value, (list, tuple)):
        return all(_graphable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _graphable(v) for k, v in value.items())
    return isinstance(value, _CONSTANTS)


def opaque_call(function: Callable[..., Any], *args: Any, modules: Sequence[torch.nn.Module] = (),
                num_outputs: int | None = None, name: str | None = None,
                exclude: Sequence[torch.Tensor] = (), inner: Any = None, **kwargs: Any) -> Any:
    """Record ``function(*args, **kwargs)`` as ONE node that runs eagerly (e.g. a Python time loop).

    This is the recurrence helper (Theano's ``scan`` was one op too): the node
    calls ``function`` on real tensors when the compiled graph runs, so the
    function may loop over the time axis in Python, call bricks eagerly and
    branch on values. Every parameter and buffer of ``modules`` (recursively)
    is passed to the node as a graph input, so ``cg.parameters`` lists them,
    ``VariableFilter`` finds them (with their roles and bricks) and graph
    transforms on them (``apply_noise`` on LSTM weights) take effect inside the
    call: replaced tensors are swapped into the modules while ``function`` runs.
    Gradients flow through the eager computation as usual.

    Bricks use it through ``@application(..., opaque=True)``, which also
    annotates the node's inputs and outputs.

    Parameters
    ----------
    function : callable
        Runs eagerly on tensors.
    *args, **kwargs
        Variables, tensors or constants passed to ``function``.
    modules : sequence of torch.nn.Module
        Modules whose parameters/buffers ``function`` uses.
    num_outputs : int, optional
        When given, ``function`` returns a sequence of this many tensors and a
        tuple of that many variables is returned.
    name : str, optional
        Name of the node target (shown in ``graph_module.code``).
    exclude : sequence of torch.Tensor, optional
        Parameters/buffers of ``modules`` that this call's result does not
        depend on (a recurrence given all its initial states explicitly does
        not use its ``initial_state`` parameters). They are not inputs of the
        node, so ``ComputationGraph.parameters`` -- the parameters the outputs
        depend on -- leaves them out. ``function`` must not use them: the
        gradient it would give them is not part of the graph.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import matrix, opaque_call, ComputationGraph
    >>> lin = torch.nn.Linear(3, 3)
    >>> def loop(x, steps):
    ...     for _ in range(steps):
    ...         x = torch.tanh(lin(x))
    ...     return x
    >>> h = opaque_call(loop, matrix("x"), 4, modules=[lin])
    >>> cg = ComputationGraph([h])
    >>> len(cg.parameters)
    2
    """
    slots, values = _module_slots(modules, exclude)
    name = _identifier(name or getattr(function, "__name__", "opaque"))  # fx cannot name a "<lambda>"
    function, kwargs = _bind_ungraphable(function, args, kwargs, name)
    if inner is not None:  # tensors read only by the step (e.g. of a brick outside ``modules``): inputs too
        values.extend(_add_inner_tensors(inner, slots, values))
    target = _OpaqueCall(function, slots, name, recorded=values, inner=inner)
    result = _TRACER.create_proxy("call_function", target, (tuple(values), *args), _pack_kwargs(kwargs))
    if num_outputs is None:
        return result
    return tuple(Variable(_TRACER.graph.create_node("call_function", operator.getitem, (result.node, i), {}))
                 for i in range(num_outputs))


_Slot = tuple[torch.nn.Module, str, str]


def _module_slots(modules: Sequence[torch.nn.Module],
                  exclude: Sequence[torch.Tensor]) -> tuple[list[_Slot], list[torch.Tensor]]:
    """Every parameter and buffer of ``modules`` (recursively, each once, none of ``exclude``) and its slot."""
    slots: list[_Slot] = []
    values: list[torch.Tensor] = []
    seen: set[int] = {id(tensor) for tensor in exclude}
    for root in modules:
        for module in root.modules():
            for kind, store in (("parameter", module._parameters), ("buffer", module._buffers)):
                for attr, value in store.items():
                    if value is None or id(value) in seen:
                        continue
                    seen.add(id(value))
                    slots.append((module, attr, kind))
                    values.append(value)
    return slots, values


def _bind_ungraphable(function: Callable[..., Any], args: tuple, kwargs: dict[str, Any],
                      name: str) -> tuple[Callable[..., Any], dict[str, Any]]:
    """``function`` with the keyword arguments an fx node cannot hold bound in, and the other keyword arguments.

    Raises
    ------
    ValueError
        A positional argument is not a variable, tensor or plain constant.
    """
    bound = {key: value for key, value in kwargs.items() if not _graphable(value)}
    if bound:
        function = functools.partial(function, **bound)
        kwargs = {key: value for key, value in kwargs.items() if key not in bound}
    if not all(_graphable(value) for value in args):
        raise ValueError(f"opaque call {name}: positional arguments must be variables, tensors or plain constants; "
                         "pass other objects (initializers, callables) as keyword arguments")
    return function, kwargs


def _add_inner_tensors(inner: Any, slots: list[_Slot], values: list[torch.Tensor]) -> list[torch.Tensor]:
    """Add the brick tensors only ``inner`` reads to ``slots``/``values``; return those no brick owns."""
    known = {id(value) for value in values}
    unowned = []
    for tensor in inner.tensors:
        if id(tensor) in known:
            continue
        known.add(id(tensor))
        slot = _owner_slot(tensor)
        if slot is None:
            unowned.append(tensor)  # a constant: only the inner graph's compiled step can take a replacement
        else:
            slots.append(slot)
            values.append(tensor)
    return unowned
