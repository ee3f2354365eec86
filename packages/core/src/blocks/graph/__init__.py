"""The annotated computation graph on torch.fx (Blocks' ``blocks.graph``).

Symbolic inputs (:func:`tensor`, :func:`matrix`, :func:`lvector`, ...) are
named after data sources; brick applications and torch operations on them
record annotated nodes; :class:`ComputationGraph` gathers what some outputs
need and compiles it into ``fn(batch) -> list[Tensor]``. Transforms
(:func:`apply_dropout`, :func:`apply_noise`, :func:`apply_batch_normalization`)
return new graphs over the same parameters, leaving the original working.

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
