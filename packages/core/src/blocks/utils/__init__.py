"""Blocks' helpers (``blocks.utils``) that make sense on PyTorch.

Containers and arguments: :func:`pack`, :func:`unpack`, :func:`dict_subset`,
:func:`dict_union`, :func:`extract_args`, :func:`repr_attrs`,
:func:`reraise_as`, :func:`change_recursion_limit`; bricks:
:func:`find_bricks`; tensors (Theano's shared variables are tensors here):
:func:`shared_floatx`, :func:`shared_floatx_zeros`, :func:`shared_floatx_nans`,
:func:`shared_floatx_zeros_matching`, :func:`shared_like`,
:func:`is_shared_variable`, :func:`is_graph_input`. Test helpers are in
:mod:`blocks.utils.testing`.

Importing this package is cheap (no torch): every helper is imported on first
use. What Blocks had for Theano's graph only (``check_theano_variable``,
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

from fuel.utils.lazy import Exports


def _submodule(name: str) -> Any:
    if name == "testing":
        return importlib.import_module("blocks.utils.testing")
    raise AttributeError(f"module 'blocks.utils' has no attribute {name!r}")


EXPORTS = Exports(
    __name__,
    [
        *((name, ".containers") for name in (
            "change_recursion_limit", "dict_subset", "dict_union", "extract_args", "find_bricks", "pack",
            "repr_attrs", "reraise_as", "unpack",
        )),
        *((name, ".tensors") for name in (
            "is_graph_input", "is_shared_variable", "shared_floatx", "shared_floatx_nans", "shared_floatx_zeros",
            "shared_floatx_zeros_matching", "shared_like",
        )),
    ],
    fallback=_submodule,
)
"""The public names of :mod:`blocks.utils`, each imported on first use (:mod:`fuel.utils.lazy`)."""

__getattr__, __dir__, __all__ = EXPORTS.module_attributes()
