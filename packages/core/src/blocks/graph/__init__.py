"""The annotated computation graph on torch.fx (Blocks' ``blocks.graph``).

Symbolic inputs (:func:`tensor`, :func:`matrix`, :func:`lvector`, ...) are
named after data sources; brick applications and torch operations on them
record annotated nodes; :class:`ComputationGraph` gathers what some outputs
need and compiles it into ``fn(batch) -> list[Tensor]``. Transforms
(:func:`apply_dropout`, :func:`apply_noise`, :func:`apply_batch_normalization`)
return new graphs over the same parameters, leaving the original working.

Recurrences and other Python control flow: ``@application(..., opaque=True)``
(or :func:`opaque_call` directly) records a whole application call as ONE
node that runs eagerly when the compiled graph runs; its inputs and outputs
are annotated and every parameter/buffer of the brick's tree is an input of
the node, so ``VariableFilter`` finds them and ``apply_noise``/``apply_dropout``
on them take effect inside the call. A recurrence also records its step traced
once symbolically (an :class:`InnerGraph`): ``cg.scan_variables`` lists the
variables inside the step, transforms rewrite them (dropout on an LSTM's
hidden states, per step or per sequence) and :func:`expose_inner` makes their
values over time outer variables (see :mod:`blocks.graph.inner`).

A brick's parameters enter expressions through its applications, through
``VariableFilter(...)(cg.variables)``, or lifted explicitly with
:func:`as_variable` (``as_variable(brick.W) ** 2``): eager arithmetic on a
parameter (``brick.W ** 2``) meeting a variable is refused, since it would be
frozen into the graph as a constant.

Examples
--------
>>> import torch
>>> from blocks.graph import matrix, ComputationGraph
>>> x = matrix("features")
>>> fn = ComputationGraph([torch.tanh(x).sum()]).compile()
>>> fn({"features": torch.zeros(2, 2)})
[tensor(0.)]
"""

from blocks.graph.batch_norm import apply_batch_normalization, batch_normalization, get_batch_normalization_updates
from blocks.graph.computation_graph import CompiledGraph, ComputationGraph
from blocks.graph.inner import InnerGraph, expose_inner
from blocks.graph.transforms import apply_dropout, apply_noise, l2_norm, shared_like
from blocks.graph.variables import (
    Variable,
    annotate,
    as_variable,
    call,
    eq,
    get_tape,
    imatrix,
    is_symbolic,
    iscalar,
    ivector,
    lmatrix,
    lscalar,
    ltensor3,
    lvector,
    matrix,
    neq,
    opaque_call,
    scalar,
    tensor,
    tensor3,
    tensor4,
    vector,
)

# Blocks' ``blocks.graph`` also gave these names of ``blocks.roles`` (``from blocks.graph import add_role, PARAMETER``)
from blocks.roles import AUXILIARY, COLLECTED, COLLECTOR, DROPOUT, PARAMETER, add_role, has_roles  # noqa: F401, E402

__all__ = [
    "apply_batch_normalization",
    "apply_dropout",
    "apply_noise",
    "batch_normalization",
    "get_batch_normalization_updates",
    "l2_norm",
    "shared_like",
    "CompiledGraph",
    "ComputationGraph",
    "InnerGraph",
    "expose_inner",
    "Variable",
    "annotate",
    "as_variable",
    "call",
    "eq",
    "get_tape",
    "imatrix",
    "is_symbolic",
    "iscalar",
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
