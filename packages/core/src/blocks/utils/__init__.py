"""Blocks' helpers (``blocks.utils``) that make sense on PyTorch.

Containers and arguments: :func:`pack`, :func:`unpack`, :func:`dict_subset`,
:func:`dict_union`, :func:`extract_args`, :func:`repr_attrs`,
:func:`reraise_as`, :func:`change_recursion_limit`; bricks:
:func:`find_bricks`; tensors (Theano's shared variables are tensors here):
:func:`shared_floatx`, :func:`shared_floatx_zeros`, :func:`shared_floatx_nans`,
:func:`shared_floatx_zeros_matching`, :func:`shared_like`,
:func:`is_shared_variable`, :func:`is_graph_input`. Test helpers are in
:mod:`blocks.utils.testing`.

Importing this package is cheap (no torch): the tensor helpers are imported on
first use. What Blocks had for Theano's graph only (``check_theano_variable``,
``put_hook``, ``print_sum``, ``print_shape``, ``ipdb_breakpoint``) is not
provided; ``docs/migration.md`` says what replaces it.

Examples
--------
>>> from blocks.utils import pack, unpack, dict_union
>>> pack(3), unpack([3]), dict_union({"a": 1}, b=2)
([3], 3, {'a': 1, 'b': 2})
"""

from __future__ import annotations

import importlib
from typing import Any

from blocks.utils.containers import (
    change_recursion_limit,
    dict_subset,
    dict_union,
    extract_args,
    find_bricks,
    pack,
    repr_attrs,
    reraise_as,
    unpack,
)

__all__ = [
    "change_recursion_limit",
    "dict_subset",
    "dict_union",
    "extract_args",
    "find_bricks",
    "is_graph_input",
    "is_shared_variable",
    "pack",
    "repr_attrs",
    "reraise_as",
    "shared_floatx",
    "shared_floatx_nans",
    "shared_floatx_zeros",
    "shared_floatx_zeros_matching",
    "shared_like",
    "unpack",
]

_TENSOR_HELPERS = frozenset(
    {
        "is_graph_input",
        "is_shared_variable",
        "shared_floatx",
        "shared_floatx_nans",
        "shared_floatx_zeros",
        "shared_floatx_zeros_matching",
        "shared_like",
    }
)


def __getattr__(name: str) -> Any:
    if name in _TENSOR_HELPERS:
        value = getattr(importlib.import_module("blocks.utils.tensors"), name)
        globals()[name] = value
        return value
    if name == "testing":
        return importlib.import_module("blocks.utils.testing")
    raise AttributeError(f"module 'blocks.utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _TENSOR_HELPERS)
