"""Theano's shared variables are tensors here: Blocks' ``shared_floatx`` family returns ``nn.Parameter`` objects.

A parameter enters a symbolic expression when it meets a symbolic variable
(``x * W``) or when lifted explicitly (``blocks.graph.as_variable(W) ** 2``);
its value is read and written in place (``W.detach().numpy()``,
``with torch.no_grad(): W.copy_(value)``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy
import torch

from blocks.config import config
from blocks.graph import Variable
from blocks.graph import shared_like as _graph_shared_like

__all__ = [
    "is_graph_input",
    "is_shared_variable",
    "shared_floatx",
    "shared_floatx_nans",
    "shared_floatx_zeros",
    "shared_floatx_zeros_matching",
    "shared_like",
]


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    name = numpy.dtype(dtype).name
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"dtype {dtype!r} has no torch equivalent")
    return value


def _check_broadcastable(shape: Sequence[int], broadcastable: Sequence[bool] | None) -> None:
    if broadcastable is None:
        return
    broadcastable = tuple(bool(b) for b in broadcastable)
    if len(broadcastable) != len(shape) or any(b and s != 1 for b, s in zip(broadcastable, shape)):
        raise ValueError(
            f"broadcastable={broadcastable} does not fit shape {tuple(shape)}: a broadcastable axis has size 1 "
            "(torch broadcasts every axis of size 1; the flag is only checked)"
        )


def shared_floatx(
    value: Any,
    name: str | None = None,
    borrow: bool = False,
    dtype: Any = None,
    broadcastable: Sequence[bool] | None = None,
) -> torch.nn.Parameter:
    """A parameter holding ``value`` as ``floatX`` (or ``dtype``), named ``name``.

    Parameters
    ----------
    value : array-like or torch.Tensor
        The initial value (copied unless ``borrow`` and no conversion is needed).
    name : str, optional
        Its name (what ``Model.get_parameter_dict`` and ``VariableFilter(name=...)`` see).
    borrow : bool
        Share memory with ``value`` where possible.
    dtype : str or dtype, optional
        Default ``config.floatX``. A non-float dtype gives a parameter without gradient.
    broadcastable : sequence of bool, optional
        Theano's broadcast pattern; checked against the shape (torch broadcasts axes of size 1 anyway).

    Examples
    --------
    >>> W = shared_floatx([[1, 2], [3, 4]], name="W")
    >>> W.dtype, W.requires_grad, W.shape
    (torch.float32, True, torch.Size([2, 2]))
    """
    torch_dtype = _torch_dtype(config.floatX if dtype is None else dtype)
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to(torch_dtype)
        if not borrow and tensor.data_ptr() == value.data_ptr():
            tensor = tensor.clone()
    else:
        array = numpy.asarray(value)
        tensor = torch.as_tensor(array, dtype=torch_dtype) if borrow else torch.tensor(array, dtype=torch_dtype)
    _check_broadcastable(tensor.shape, broadcastable)
    parameter = torch.nn.Parameter(tensor, requires_grad=tensor.is_floating_point() or tensor.is_complex())
    if name is not None:
        if not isinstance(name, str):
            raise ValueError(f"a name must be a str, got {name!r}")
        parameter._blocks_name = name
    return parameter


def shared_floatx_zeros(shape: Sequence[int], **kwargs: Any) -> torch.nn.Parameter:
    """:func:`shared_floatx` of zeros of ``shape``.

    Examples
    --------
    >>> shared_floatx_zeros((2, 3)).sum().item()
    0.0
    """
    return shared_floatx(numpy.zeros(shape), **kwargs)


def shared_floatx_nans(shape: Sequence[int], **kwargs: Any) -> torch.nn.Parameter:
    """:func:`shared_floatx` of NaNs of ``shape`` (a value that must be set before use).

    Examples
    --------
    >>> bool(shared_floatx_nans((2,)).isnan().all())
    True
    """
    return shared_floatx(numpy.full(shape, numpy.nan), **kwargs)


def shared_floatx_zeros_matching(shared_variable: Any, name: str | None = None, **kwargs: Any) -> torch.nn.Parameter:
    """:func:`shared_floatx_zeros` of the shape of ``shared_variable`` (a tensor or a parameter variable).

    Examples
    --------
    >>> shared_floatx_zeros_matching(shared_floatx([1, 2, 3])).shape
    torch.Size([3])
    """
    if not is_shared_variable(shared_variable):
        raise ValueError(f"argument must be a tensor or a parameter variable, got {type(shared_variable).__name__}")
    tensor = shared_variable.tensor if isinstance(shared_variable, Variable) else shared_variable
    return shared_floatx_zeros(tuple(tensor.shape), name=name, **kwargs)


def shared_like(variable: Any, name: str | None = None, value: float = 0.0) -> torch.Tensor:
    """A tensor shaped, typed and placed like ``variable``, filled with ``value`` (:func:`blocks.graph.shared_like`).

    Blocks' version made an empty shared variable of the same ``ndim``, to be
    set later; tensors here have a shape, so the new one matches it.

    Examples
    --------
    >>> shared_like(shared_floatx([1.0, 2.0]), value=3.0).tolist()
    [3.0, 3.0]
    """
    return _graph_shared_like(variable, name=name, value=value)


def is_shared_variable(variable: Any) -> bool:
    """Whether ``variable`` holds a value: a tensor, or a symbolic variable standing for one.

    Examples
    --------
    >>> from blocks.graph import matrix
    >>> is_shared_variable(shared_floatx(1.0)), is_shared_variable(matrix("x"))
    (True, False)
    """
    if isinstance(variable, Variable):
        return variable.tensor is not None
    return isinstance(variable, torch.Tensor)


def is_graph_input(variable: Any) -> bool:
    """Whether ``variable`` is a symbolic input (fed from a data source).

    Examples
    --------
    >>> from blocks.graph import matrix
    >>> x = matrix("features")
    >>> is_graph_input(x), is_graph_input(x * 2)
    (True, False)
    """
    return isinstance(variable, Variable) and variable.is_input
