"""Numerical-stability rewrites of compiled graphs (Theano's stability optimizations on torch.fx).

When a :class:`~blocks.graph.ComputationGraph` is compiled, unstable
expressions are replaced by equal, stable ones before the code is generated:
``log(softmax(x))`` by ``log_softmax(x)``, the categorical cross-entropy of a
softmax output by the cross-entropy of its logits, and the others listed in
:data:`blocks.stability.REWRITES`. Only the compiled graph changes; the
annotated graph, its variables and every transform stay as they were.

Which rewrites run is the ``stability_rewrites`` configuration option
(``BLOCKS_STABILITY_REWRITES``; default: all of them) or the ``rewrites``
argument of :meth:`~blocks.graph.ComputationGraph.compile` and
:class:`~blocks.algorithms.GradientDescent`.

Functions recorded as one node (costs computed by :func:`blocks.graph.call`)
declare their logits form with :func:`register_logits_form`; that is how
:class:`~blocks.bricks.cost.CategoricalCrossEntropy` and
:class:`~blocks.bricks.cost.BinaryCrossEntropy` take part.

Examples
--------
>>> import torch
>>> from blocks.graph import ComputationGraph, matrix
>>> x = matrix("x")
>>> fn = ComputationGraph([torch.log(torch.softmax(x, dim=-1))]).compile()
>>> "log_softmax" in fn.graph_module.code, fn.rewrites_applied
(True, {'log_softmax': 1})
>>> fn({"x": torch.tensor([[0.0, 0.0, 120.0]])})[0]
tensor([[-120., -120.,    0.]])
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
import torch.fx as fx
import torch.nn.functional as F

from blocks.config import config
from blocks.stability import REWRITES, parse_rewrites

logger = logging.getLogger(__name__)

__all__ = ["apply_rewrites", "register_logits_form", "resolve_rewrites"]

_LOG = {torch.log}
_EXP = {torch.exp}
_SOFTMAX = {torch.softmax, F.softmax, torch.special.softmax}
_SIGMOID = {torch.sigmoid, torch.special.expit, F.sigmoid}
_SUM = {torch.sum}
_ADD = {operator.add, torch.add}
_SUB = {operator.sub, torch.sub}
_METHODS = {"log": _LOG, "exp": _EXP, "softmax": _SOFTMAX, "sigmoid": _SIGMOID, "sum": _SUM, "add": _ADD,
            "sub": _SUB}


def resolve_rewrites(rewrites: Any = None) -> tuple[str, ...]:
    """The rewrites a ``rewrites`` argument selects (``None``: the ``stability_rewrites`` option).

    Examples
    --------
    >>> resolve_rewrites(False), resolve_rewrites(["expm1"])
    ((), ('expm1',))
    """
    if rewrites is None:
        return tuple(config.stability_rewrites)
    return parse_rewrites(rewrites)


@dataclass(frozen=True)
class _LogitsForm:
    rule: str
    replacement: Callable[..., Any]
    argument: int


_LOGITS_FORMS: dict[Any, _LogitsForm] = {}


def register_logits_form(function: Callable[..., Any], replacement: Callable[..., Any], *, rule: str,
                         argument: int = 1) -> None:
    """Declare that ``function`` of a softmax/sigmoid output equals ``replacement`` of the logits.

    When the graph holds ``function(..., p, ...)`` (one node, as recorded by
    :func:`blocks.graph.call`) whose argument number ``argument`` is
    ``softmax(x, dim=-1)`` (rule ``"categorical_crossentropy_softmax"``) or
    ``sigmoid(x)`` (rule ``"binary_crossentropy_sigmoid"``), the rule
    replaces it by ``replacement(..., x, ...)`` — same other arguments.

    Examples
    --------
    >>> import torch
    >>> def nll(y, p):
    ...     return -torch.log(p.gather(-1, y.unsqueeze(-1))).mean()
    >>> def nll_of_logits(y, x):
    ...     return -torch.log_softmax(x, -1).gather(-1, y.unsqueeze(-1)).mean()
    >>> register_logits_form(nll, nll_of_logits, rule="categorical_crossentropy_softmax")
    """
    if rule not in ("categorical_crossentropy_softmax", "binary_crossentropy_sigmoid"):
        raise ValueError(f"rule must be 'categorical_crossentropy_softmax' or 'binary_crossentropy_sigmoid', "
                         f"got {rule!r}")
    _LOGITS_FORMS[function] = _LogitsForm(rule, replacement, int(argument))


# ---------------------------------------------------------------------------------------------- matching
def _is(node: Any, family: set[Any]) -> bool:
    """Whether ``node`` calls a function of ``family`` (as a function or as the same-named tensor method)."""
    if not isinstance(node, fx.Node):
        return False
    if node.op == "call_function":
        return node.target in family
    if node.op == "call_method":
        return _METHODS.get(node.target) is family
    return False


def _argument(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _unary_input(node: fx.Node) -> Any:
    """The tensor argument of a one-input call (``torch.log(x)``, ``x.log()``), or ``None`` if there are others."""
    if len(node.args) != 1 or node.kwargs:
        return None
    return node.args[0] if isinstance(node.args[0], fx.Node) else None


def _softmax_of(node: Any, last_axis: bool = False) -> tuple[fx.Node, dict[str, Any]] | None:
    """``(x, {"dim": d[, "dtype": t]})`` when ``node`` is ``softmax(x, d)``."""
    if not _is(node, _SOFTMAX):
        return None
    x, dim = node.args[0], _argument(node, 1, "dim")
    dtype = _argument(node, 3 if node.target is F.softmax else 2, "dtype")
    if not isinstance(x, fx.Node) or not isinstance(dim, int) or isinstance(dim, bool):
        return None
    if last_axis and dim != -1:
        return None
    return x, ({"dim": dim} if dtype is None else {"dim": dim, "dtype": dtype})


def _sigmoid_of(node: Any) -> fx.Node | None:
    return _unary_input(node) if _is(node, _SIGMOID) else None


def _is_one(value: Any, sign: int = 1) -> bool:
    return type(value) in (int, float) and value == sign


def _plus_one_of(node: Any) -> fx.Node | None:
    """``x`` when ``node`` is ``1 + x`` or ``x + 1`` (a plain Python 1; no ``alpha``)."""
    if not _is(node, _ADD) or len(node.args) != 2 or node.kwargs:
        return None
    a, b = node.args
    if _is_one(a) and isinstance(b, fx.Node):
        return b
    if _is_one(b) and isinstance(a, fx.Node):
        return a
    return None


def _sum_of(node: Any) -> tuple[fx.Node, Any, bool] | None:
    """``(x, dim, keepdim)`` when ``node`` is ``sum(x, dim, keepdim)`` without a dtype."""
    if not _is(node, _SUM) or not isinstance(node.args[0], fx.Node):
        return None
    dim, keepdim = _argument(node, 1, "dim"), _argument(node, 2, "keepdim", False)
    if _argument(node, 3, "dtype") is not None or not isinstance(keepdim, bool):
        return None
    if isinstance(dim, list):
        dim = tuple(dim)
    if not (dim is None or isinstance(dim, int) or (isinstance(dim, tuple) and all(type(d) is int for d in dim))):
        return None
    if dim is None and keepdim:
        return None
    return node.args[0], dim, keepdim


# ---------------------------------------------------------------------------------------------- rules
# Each rule looks at one node; when it matches it inserts the stable replacement just before the node and
# returns (replacement, nodes of the old pattern that may be dead now).
_Match = Optional[tuple[fx.Node, list[fx.Node]]]


def _log_softmax(graph: fx.Graph, node: fx.Node) -> _Match:
    inner = _unary_input(node) if _is(node, _LOG) else None
    found = _softmax_of(inner)
    if found is None:
        return None
    x, kwargs = found
    with graph.inserting_before(node):
        return graph.call_function(torch.log_softmax, (x,), kwargs), [node, inner]


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``log(sigmoid(x))`` computed stably (integer ``x`` as ``sigmoid`` takes it: in the default float dtype)."""
    if not (x.is_floating_point() or x.is_complex()):
        x = x.to(torch.get_default_dtype())
    return F.logsigmoid(x)


def _log_sigmoid(graph: fx.Graph, node: fx.Node) -> _Match:
    inner = _unary_input(node) if _is(node, _LOG) else None
    x = _sigmoid_of(inner)
    if x is None:
        return None
    with graph.inserting_before(node):
        return graph.call_function(log_sigmoid, (x,)), [node, inner]


def _log1p(graph: fx.Graph, node: fx.Node) -> _Match:
    inner = _unary_input(node) if _is(node, _LOG) else None
    x = _plus_one_of(inner)
    if x is None:
        return None
    with graph.inserting_before(node):
        return graph.call_function(torch.log1p, (x,)), [node, inner]


def _expm1(graph: fx.Graph, node: fx.Node) -> _Match:
    if node.kwargs or len(node.args) != 2:
        return None
    a, b = node.args
    if _is(node, _SUB) and _is_one(b):
        inner = a
    elif _is(node, _ADD) and (_is_one(b, -1) or _is_one(a, -1)):
        inner = a if _is_one(b, -1) else b
    else:
        return None
    x = _unary_input(inner) if _is(inner, _EXP) else None
    if x is None:
        return None
    with graph.inserting_before(node):
        return graph.call_function(torch.expm1, (x,)), [node, inner]


def _logsumexp(graph: fx.Graph, node: fx.Node) -> _Match:
    total = _unary_input(node) if _is(node, _LOG) else None
    found = _sum_of(total)
    if found is None:
        return None
    exp, dim, keepdim = found
    x = _unary_input(exp) if _is(exp, _EXP) else None
    if x is None:
        return None
    with graph.inserting_before(node):
        if dim is None:
            flat = graph.call_method("reshape", (x, -1))
            return graph.call_function(torch.logsumexp, (flat, 0)), [node, total, exp]
        return graph.call_function(torch.logsumexp, (x, dim), {"keepdim": keepdim}), [node, total, exp]


def _logits_form(rule: str) -> Callable[[fx.Graph, fx.Node], Any]:
    def apply(graph: fx.Graph, node: fx.Node) -> _Match:
        if node.op != "call_function":
            return None
        try:
            form = _LOGITS_FORMS.get(node.target)
        except TypeError:  # an unhashable callable target
            return None
        if form is None or form.rule != rule or len(node.args) <= form.argument:
            return None
        inner = node.args[form.argument]
        if rule == "categorical_crossentropy_softmax":
            found = _softmax_of(inner, last_axis=True)
            if found is None or "dtype" in found[1]:
                return None
            x = found[0]
        else:
            x = _sigmoid_of(inner)
            if x is None:
                return None
        args = list(node.args)
        args[form.argument] = x
        with graph.inserting_before(node):
            return graph.call_function(form.replacement, tuple(args), dict(node.kwargs)), [node, inner]

    return apply


def _binary_crossentropy_sigmoid(graph: fx.Graph, node: fx.Node) -> _Match:
    if node.op == "call_function" and node.target is F.binary_cross_entropy:
        names = ("input", "target", "weight", "size_average", "reduce", "reduction")
        bound = dict(zip(names, node.args))
        bound.update(node.kwargs)
        x = _sigmoid_of(bound.get("input"))
        if x is None or bound.get("size_average") is not None or bound.get("reduce") is not None:
            return None
        kwargs = {"weight": bound.get("weight"), "reduction": bound.get("reduction", "mean")}
        with graph.inserting_before(node):
            replacement = graph.call_function(F.binary_cross_entropy_with_logits, (x, bound["target"]), kwargs)
        return replacement, [node, node.args[0] if node.args else node.kwargs["input"]]
    return _logits_form("binary_crossentropy_sigmoid")(graph, node)


_RULES: dict[str, Callable[[fx.Graph, fx.Node], Any]] = {
    "log_softmax": _log_softmax,
    "categorical_crossentropy_softmax": _logits_form("categorical_crossentropy_softmax"),
    "binary_crossentropy_sigmoid": _binary_crossentropy_sigmoid,
    "log_sigmoid": _log_sigmoid,
    "log1p": _log1p,
    "expm1": _expm1,
    "logsumexp": _logsumexp,
}
assert list(_RULES) == list(REWRITES), "blocks.stability.REWRITES and the rules must list the same names"


def _erase_dead(graph: fx.Graph, nodes: list[fx.Node]) -> None:
    """Erase the nodes of a replaced pattern that nothing uses any more (outermost first)."""
    for node in nodes:
        if not node.users and node.op in ("call_function", "call_method"):
            graph.erase_node(node)


_IN_PLACE_FUNCTIONS = {operator.setitem, operator.iadd, operator.isub, operator.imul, operator.itruediv,
                       operator.ipow, operator.ifloordiv, operator.imod}


def _mutates(node: fx.Node) -> bool:
    """Whether ``node`` changes a tensor in place (``x.clamp_()``, ``x[i] = v``, ``out=``)."""
    if node.op == "call_method":
        return node.target.endswith("_") and not node.target.startswith("__")
    if node.op == "call_function":
        return node.target in _IN_PLACE_FUNCTIONS or "out" in node.kwargs
    return False


def apply_rewrites(graph: fx.Graph, rewrites: Sequence[str]) -> dict[str, int]:
    """Apply the named rewrites to ``graph`` in place; return how often each one fired.

    One pass over the nodes in order: each node is offered to the rules in
    the documented order, and a replacement takes over all uses of the
    node. Parts of a replaced pattern that are still used elsewhere (a
    softmax that is also an output) stay. A graph that changes a tensor in
    place (``p.clamp_(...)`` on a softmax output, say) is left as it is: the
    stable form would read the logits, not what the in-place operation made
    of the probabilities.

    Examples
    --------
    >>> import torch, torch.fx as fx
    >>> graph = fx.Graph()
    >>> x = graph.placeholder("x")
    >>> graph.output(graph.call_function(torch.log, (graph.call_function(operator.add, (1, x)),)))
    output
    >>> apply_rewrites(graph, ["log1p"])
    {'log1p': 1}
    """
    rules = [(name, _RULES[name]) for name in rewrites]
    applied: dict[str, int] = {}
    if not rules:
        return applied
    mutating = [node for node in graph.nodes if _mutates(node)]
    if mutating:
        # the same rules on a copy say what is lost: an unstable form left as written deserves a warning
        copy = fx.Graph()
        copy.graph_copy(graph, {})
        missed = _apply(copy, rules)
        if missed:
            logger.warning(
                "stability rewrites not applied (%s would have fired): the graph changes tensors in place (%s); "
                "the naive forms stay as written. Use the out-of-place operation (clamp instead of clamp_) to "
                "get them", ", ".join(f"{name} x{count}" for name, count in missed.items()),
                ", ".join(str(node.target) for node in mutating[:3]))
        return applied
    return _apply(graph, rules)


def _apply(graph: fx.Graph, rules: list[tuple[str, Any]]) -> dict[str, int]:
    """One pass of ``rules`` over ``graph`` (see :func:`apply_rewrites`)."""
    applied: dict[str, int] = {}
    for node in list(graph.nodes):  # a rule erases only the node it looks at and nodes before it
        if node.op not in ("call_function", "call_method"):
            continue
        for name, rule in rules:
            found = rule(graph, node)
            if found is None:
                continue
            replacement, pattern = found
            if "within" in node.meta:
                replacement.meta["within"] = node.meta["within"]
            node.replace_all_uses_with(replacement)
            _erase_dead(graph, pattern)
            applied[name] = applied.get(name, 0) + 1
            break
    return applied
