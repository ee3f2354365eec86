"""Zero-copy writing and reading of the safetensors format.

The writer does not build the file in memory: :func:`prepare` returns the
header and one :class:`memoryview` per tensor (views of the tensors' own CPU
memory), so the archive writer can stream them to disk and through ``sha256``
without copying. The reader parses a buffer already in memory and returns
tensors that share it. Files are plain safetensors: ``safetensors.numpy.load``
and ``safetensors.torch.load`` read them.

Tensors are laid out by decreasing item size (then in the given order), so
every tensor is aligned to its item size in the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from blocks.serialization.errors import CheckpointError

__all__ = ["Prepared", "RawTensor", "prepare", "read", "to_numpy", "to_torch"]

_TORCH_TO_ST: dict[torch.dtype, str] = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
for _name, _code in (("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"),
                     ("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2")):
    if hasattr(torch, _name):
        _TORCH_TO_ST[getattr(torch, _name)] = _code
_ST_TO_TORCH = {code: dtype for dtype, code in _TORCH_TO_ST.items()}

_NUMPY_TO_ST: dict[str, str] = {
    "float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "int16": "I16",
    "int8": "I8", "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
}
_ST_TO_NUMPY = {code: np.dtype(name) for name, code in _NUMPY_TO_ST.items()}
_ITEMSIZE = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
             "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


@dataclass
class Prepared:
    """A safetensors file ready to be streamed: ``header`` then ``buffers`` in order.

    Attributes
    ----------
    header : bytes
        The 8-byte length and the padded JSON header.
    buffers : list of memoryview
        The tensors' bytes (views of CPU memory kept alive by ``keep``).
    size : int
        Total size in bytes.

    Examples
    --------
    >>> import torch
    >>> prepared = prepare({"w": torch.zeros(2)})
    >>> prepared.size == len(prepared.header) + 8
    True
    """

    header: bytes
    buffers: list[memoryview]
    size: int
    keep: list[Any] = field(default_factory=list, repr=False)

    def chunks(self) -> Iterable[memoryview | bytes]:
        """The file's bytes, piece by piece."""
        yield self.header
        yield from self.buffers


@dataclass
class RawTensor:
    """One tensor of a parsed file: safetensors dtype code, shape and bytes.

    Examples
    --------
    >>> import torch
    >>> data = b"".join(bytes(c) for c in prepare({"w": torch.ones(2, 3)}).chunks())
    >>> raw = read(bytearray(data))[0]["w"]
    >>> raw.dtype, raw.shape, to_torch(raw).sum().item()
    ('F32', (2, 3), 6.0)
    """

    dtype: str
    shape: tuple[int, ...]
    data: memoryview


def _torch_bytes(name: str, tensor: torch.Tensor) -> tuple[str, memoryview, Any]:
    if tensor.layout != torch.strided:
        raise ValueError(f"tensor {name!r} has layout {tensor.layout}; only dense (strided) tensors can be saved")
    code = _TORCH_TO_ST.get(tensor.dtype)
    if code is None:
        raise ValueError(
            f"tensor {name!r} has dtype {tensor.dtype}, which safetensors cannot store; "
            f"valid: {', '.join(str(d) for d in _TORCH_TO_ST)}"
        )
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg().contiguous().reshape(-1)
    if t.numel() == 0:
        return code, memoryview(b""), None
    u8 = t.view(torch.uint8).numpy()
    return code, memoryview(u8), (t, u8)


def _numpy_bytes(name: str, array: np.ndarray) -> tuple[str, memoryview, Any]:
    code = _NUMPY_TO_ST.get(array.dtype.name)
    if code is None:
        raise ValueError(
            f"array {name!r} has dtype {array.dtype}, which safetensors cannot store; "
            f"valid: {', '.join(_NUMPY_TO_ST)}"
        )
    a = array
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    a = np.ascontiguousarray(a).reshape(-1)
    if a.size == 0:
        return code, memoryview(b""), None
    u8 = a.view(np.uint8)
    return code, memoryview(u8), u8


def prepare(tensors: Mapping[str, torch.Tensor | np.ndarray], metadata: Mapping[str, str] | None = None) -> Prepared:
    """Lay out ``tensors`` (name → torch tensor or numpy array) as a safetensors file.

    GPU tensors are copied to the CPU; CPU tensors are not copied.

    Raises
    ------
    ValueError
        For a dtype safetensors cannot store (complex, object, strings) or a sparse tensor.
    """
    entries = []
    for index, (name, value) in enumerate(tensors.items()):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensor names must be non-empty strings other than '__metadata__', got {name!r}")
        if isinstance(value, torch.Tensor):
            code, view, keep = _torch_bytes(name, value)
            shape = list(value.shape)
        elif isinstance(value, np.ndarray):
            code, view, keep = _numpy_bytes(name, value)
            shape = list(value.shape)
        else:
            raise ValueError(f"{name!r} is a {type(value).__name__}; expected a torch.Tensor or numpy.ndarray")
        entries.append((-_ITEMSIZE[code], index, name, code, shape, view, keep))
    entries.sort(key=lambda e: (e[0], e[1]))
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    buffers, keep_alive = [], []
    for _, _, name, code, shape, view, keep in entries:
        size = view.nbytes
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
        if size:
            buffers.append(view)
            keep_alive.append(keep)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    head = len(text).to_bytes(8, "little") + text
    return Prepared(head, buffers, len(head) + offset, keep_alive)


def read(
    buffer: bytes | bytearray | memoryview, where: str = "safetensors data"
) -> tuple[dict[str, RawTensor], dict[str, str]]:
    """Parse a whole safetensors file held in memory.

    Returns ``(tensors, metadata)`` where ``tensors`` maps names to
    :class:`RawTensor` views of ``buffer`` (no copy).

    Raises
    ------
    CheckpointError
        When the header is malformed or a tensor lies outside the buffer.
    """
    view = memoryview(buffer).cast("B")
    if view.nbytes < 8:
        raise CheckpointError(f"{where}: {view.nbytes} bytes, too short for a safetensors header")
    n = int.from_bytes(view[:8], "little")
    if n > view.nbytes - 8:
        raise CheckpointError(f"{where}: header length {n} exceeds the data ({view.nbytes - 8} bytes)")
    try:
        header = json.loads(bytes(view[8:8 + n]).decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{where}: the safetensors header is nested too deeply to be one") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{where}: the safetensors header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: the safetensors header is not a JSON object")
    data = view[8 + n:]
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(
            f"{where}: the safetensors header's __metadata__ must be an object of strings, not {metadata!r:.60}"
        )
    tensors: dict[str, RawTensor] = {}
    ranges: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        try:
            code = entry["dtype"]
            shape = tuple(_integer(s) for s in entry["shape"])
            start, end = (_integer(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{where}: malformed header entry for tensor {name!r}: {entry!r:.200}") from None
        if not isinstance(code, str) or code not in _ITEMSIZE:
            raise CheckpointError(f"{where}: tensor {name!r} has unknown dtype {code!r}; known: {', '.join(_ITEMSIZE)}")
        expected = math.prod(shape) * _ITEMSIZE[code]
        if any(s < 0 for s in shape) or not 0 <= start <= end <= data.nbytes or end - start != expected:
            raise CheckpointError(
                f"{where}: tensor {name!r} (dtype {code}, shape {list(shape)}) has byte range "
                f"[{start}, {end}) that does not fit its size {expected} or the data ({data.nbytes} bytes)"
            )
        tensors[name] = RawTensor(code, shape, data[start:end])
        if end > start:
            ranges.append((start, end, name))
    ranges.sort()
    for (_, end, first), (start, _, second) in zip(ranges, ranges[1:]):
        if start < end:
            raise CheckpointError(f"{where}: tensors {first!r} and {second!r} overlap in the data; each byte belongs "
                                  "to one tensor")
    return tensors, {str(k): v for k, v in metadata.items()}


def _integer(value: Any) -> int:
    """A JSON integer (not a float, string or bool: ``int()`` would accept those)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def to_torch(raw: RawTensor) -> torch.Tensor:
    """A CPU tensor sharing ``raw``'s bytes (copied only when misaligned)."""
    dtype = _ST_TO_TORCH.get(raw.dtype)
    if dtype is None:
        raise CheckpointError(f"dtype {raw.dtype} is not supported by this torch version")
    if raw.data.nbytes == 0:
        return torch.empty(raw.shape, dtype=dtype)
    data = raw.data
    itemsize = _ITEMSIZE[raw.dtype]
    if itemsize > 1 and np.frombuffer(data, np.uint8).ctypes.data % itemsize:
        data = bytearray(data)
    return torch.frombuffer(data, dtype=dtype).reshape(raw.shape)


def to_numpy(raw: RawTensor) -> np.ndarray:
    """A numpy array sharing ``raw``'s bytes (BF16 and float8 go through torch and become float32)."""
    dtype = _ST_TO_NUMPY.get(raw.dtype)
    if dtype is None:
        return to_torch(raw).float().numpy()
    return np.frombuffer(raw.data, dtype=dtype).reshape(raw.shape)
