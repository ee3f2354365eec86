"""Split a nested state into a JSON document and its arrays, and join them back.

A state (what ``state_dict()`` returns) is nested dicts and lists of
JSON-able values with ``torch.Tensor`` / ``numpy.ndarray`` leaves.
:func:`flatten_state` replaces every array by ``{"__array__": KEY, "type": T}``
where ``KEY`` is the leaf's JSON Pointer (RFC 6901, e.g.
``/algorithm/buffers/velocity/~1mlp~1linear_0.W``) and returns the arrays by
key. A few Python values JSON lacks are tagged so they come back unchanged:
tuples (``__tuple__``), dicts with non-string keys or keys that look like tags
(``__items__``), non-finite floats (``__float__``), ``bytes`` (``__bytes__``)
and numpy scalars (a 0-d array of type ``numpy_scalar``). 0-d tensors where
``inline_scalars(pointer)`` holds are written into the JSON as
``{"__scalar__": value, "dtype": "float32"}`` (exact: every such dtype fits a
JSON number), which keeps logs of many scalar tensors cheap. Anything else is
refused unless the caller trusts pickle (``__object__`` tags then carry it).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["TAGS", "escape", "flatten_state", "unflatten_state"]

TAGS = frozenset({"__array__", "__tuple__", "__items__", "__float__", "__bytes__", "__object__", "__scalar__"})
_SCALAR_DTYPES = frozenset({torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                            torch.int16, torch.int8, torch.uint8, torch.bool})
_DTYPE_NAMES = {dtype: str(dtype).replace("torch.", "") for dtype in _SCALAR_DTYPES}


def escape(token: str) -> str:
    """Escape one JSON Pointer reference token (``~`` → ``~0``, ``/`` → ``~1``).

    Examples
    --------
    >>> escape("/mlp/linear_0.W")
    '~1mlp~1linear_0.W'
    """
    return token.replace("~", "~0").replace("/", "~1")


def flatten_state(
    state: Any,
    prefix: str = "",
    on_object: Callable[[str, Any], Any] | None = None,
    inline_scalars: Callable[[str], bool] | None = None,
) -> tuple[Any, dict[str, torch.Tensor | np.ndarray]]:
    """Return ``(document, arrays)``: a JSON-able copy of ``state`` and its arrays by JSON Pointer.

    Parameters
    ----------
    state : object
        The nested state.
    prefix : str
        JSON Pointer of ``state`` inside a larger document (prepended to keys).
    on_object : callable, optional
        ``on_object(pointer, value)`` for values that are neither JSON-able nor
        arrays; its return value replaces them. Without it such values raise.

    Raises
    ------
    ValueError
        Naming the pointer and type of a value that cannot be stored.

    Examples
    --------
    >>> import torch
    >>> doc, arrays = flatten_state({"step": 3, "w": torch.zeros(2)})
    >>> doc
    {'step': 3, 'w': {'__array__': '/w', 'type': 'torch'}}
    >>> list(arrays)
    ['/w']
    """
    flattener = _Flattener(on_object, inline_scalars)
    document = flattener.walk(state, prefix)
    _fill_scalars(flattener.scalars)
    return document, flattener.arrays


class _Flattener:
    """One pass of :func:`flatten_state`: the document is returned, arrays and scalar tags are collected."""

    def __init__(self, on_object: Callable[[str, Any], Any] | None,
                 inline_scalars: Callable[[str], bool] | None) -> None:
        self.on_object = on_object
        self.inline_scalars = inline_scalars
        self.arrays: dict[str, torch.Tensor | np.ndarray] = {}
        self.scalars: list[tuple[dict[str, Any], torch.Tensor]] = []

    def walk(self, value: Any, pointer: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.generic):
            return int(value)
        if isinstance(value, float) and not isinstance(value, np.generic):
            return float(value) if math.isfinite(value) else {"__float__": repr(float(value))}
        if isinstance(value, torch.Tensor):
            return self.tensor(value, pointer)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return self.other(value, pointer)
            self.arrays[pointer] = value
            return {"__array__": pointer, "type": "numpy"}
        if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_, np.void)):
            self.arrays[pointer] = np.asarray(value)
            return {"__array__": pointer, "type": "numpy_scalar"}
        if isinstance(value, Mapping):
            return self.mapping(value, pointer)
        if isinstance(value, list):
            return [self.walk(v, f"{pointer}/{i}") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.walk(v, f"{pointer}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, bytes):
            return {"__bytes__": base64.b64encode(value).decode("ascii")}
        return self.other(value, pointer)

    def tensor(self, value: torch.Tensor, pointer: str) -> dict[str, Any]:
        """A ``__scalar__`` tag (filled in later, in bulk) for a 0-d tensor to inline, else an array reference."""
        if (self.inline_scalars is not None and value.ndim == 0 and value.dtype in _SCALAR_DTYPES
                and not value.is_sparse and self.inline_scalars(pointer)):
            tag = {"__scalar__": None, "dtype": _DTYPE_NAMES[value.dtype]}
            self.scalars.append((tag, value))
            return tag
        self.arrays[pointer] = value
        return {"__array__": pointer, "type": "torch"}

    def mapping(self, value: Mapping[Any, Any], pointer: str) -> dict[str, Any]:
        """A JSON object for string keys that are not tags, else ``__items__`` pairs."""
        keys = list(value)
        if all(isinstance(k, str) for k in keys) and not TAGS.intersection(keys):
            return {k: self.walk(v, f"{pointer}/{escape(k)}") for k, v in value.items()}
        return {"__items__": [[self.walk(k, f"{pointer}/{i}/0"), self.walk(v, f"{pointer}/{i}/1")]
                              for i, (k, v) in enumerate(value.items())]}

    def other(self, value: Any, pointer: str) -> Any:
        """A value that is neither JSON-able nor an array: ``on_object``'s replacement, or a ``ValueError``."""
        if self.on_object is None:
            raise ValueError(
                f"state value at {pointer or '/'} is a {type(value).__module__}.{type(value).__qualname__}, which "
                "cannot be stored without pickle; state must be JSON-able values (dict with str keys, list, "
                "tuple, str, int, float, bool, None, bytes) and torch.Tensor/numpy.ndarray leaves. Convert it in "
                "state_dict(), or save with trusted=True to pickle it (loading then needs trusted=True too)"
            )
        return self.on_object(pointer, value)


def _fill_scalars(scalars: list[tuple[dict[str, Any], torch.Tensor]]) -> None:
    """Read the scalar tensors' values with one device-to-host copy per (device, dtype)."""
    groups: dict[tuple[torch.device, torch.dtype], list[tuple[dict[str, Any], torch.Tensor]]] = {}
    for tag, tensor in scalars:
        groups.setdefault((tensor.device, tensor.dtype), []).append((tag, tensor))
    for group in groups.values():
        with torch.no_grad():
            values = torch.stack([t for _, t in group]).cpu().tolist()
        for (tag, _), value in zip(group, values):
            tag["__scalar__"] = value if not isinstance(value, float) or math.isfinite(value) else repr(value)


def unflatten_state(
    document: Any,
    get_array: Callable[[str, str], Any],
    get_object: Callable[[str], Any] | None = None,
) -> Any:
    """Rebuild a state from :func:`flatten_state`'s document.

    Parameters
    ----------
    document : object
        The JSON document.
    get_array : callable
        ``get_array(key, type)`` returns the array stored under ``key``
        (``type`` is ``"torch"``, ``"numpy"`` or ``"numpy_scalar"``).
    get_object : callable, optional
        ``get_object(key)`` for ``__object__`` tags (pickled values); without it they raise.

    Examples
    --------
    >>> doc = {"t": {"__tuple__": [1, {"__float__": "nan"}]}}
    >>> unflatten_state(doc, get_array=None)
    {'t': (1, nan)}
    """

    scalars = _make_scalars(document)

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__scalar__" in value:
            return scalars[id(value)]
        if "__array__" in value:
            kind = value.get("type", "torch")
            array = get_array(value["__array__"], kind)
            return array[()] if kind == "numpy_scalar" else array
        if "__tuple__" in value:
            return tuple(walk(v) for v in value["__tuple__"])
        if "__items__" in value:
            return {_hashable(walk(k)): walk(v) for k, v in value["__items__"]}
        if "__float__" in value:
            return float(value["__float__"])
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        if "__object__" in value:
            if get_object is None:
                raise ValueError(
                    f"the state holds a pickled object at {value['__object__']}; loading it runs code from the "
                    "file, so it needs trusted=True"
                )
            return get_object(value["__object__"])
        return {k: walk(v) for k, v in value.items()}

    return walk(document)


def _make_scalars(document: Any) -> dict[int, torch.Tensor]:
    """Tensors for every ``__scalar__`` tag of ``document`` (by the tag's id), built one dtype at a time."""
    by_dtype: dict[str, list[dict[str, Any]]] = {}
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if "__scalar__" in value:
                by_dtype.setdefault(value["dtype"], []).append(value)
            else:
                stack.extend(value.values())
    result: dict[int, torch.Tensor] = {}
    for name, tags in by_dtype.items():
        dtype = getattr(torch, name, None)
        if dtype not in _SCALAR_DTYPES:
            raise ValueError(f"unknown scalar dtype {name!r}; known: {sorted(_DTYPE_NAMES.values())}")
        values = [float(t["__scalar__"]) if isinstance(t["__scalar__"], str) else t["__scalar__"] for t in tags]
        for tag, tensor in zip(tags, torch.tensor(values, dtype=dtype).unbind(0)):
            result[id(tag)] = tensor
    return result


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key
