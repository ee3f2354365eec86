"""Reading the parameters of checkpoints written by the original (Theano) Blocks.

Blocks' ``blocks.serialization.dump`` wrote an uncompressed tar whose
``_parameters`` member is a numpy ``.npz`` keyed by hierarchical names with
``|`` for ``/`` (``|mlp|linear_0.W``), next to a ``_pkl`` pickle of the main
loop. Only the ``.npz`` is read here (with ``allow_pickle=False``); the pickle
is never touched.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from typing import Any

import numpy as np
import torch

from blocks.serialization.errors import CheckpointError

__all__ = ["is_legacy_checkpoint", "legacy_info", "load_legacy_parameters"]


def _is_npz(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _legacy_npz(path: str) -> bytes | None:
    if _is_npz(path):
        with open(path, "rb") as f:
            return f.read()
    try:
        with tarfile.open(path, mode="r:") as tar:
            names = tar.getnames()
            if "MANIFEST" in names or "_parameters" not in names:
                return None
            member = tar.extractfile("_parameters")
            return member.read() if member is not None else None
    except (tarfile.TarError, OSError):
        return None


def is_legacy_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an old Blocks checkpoint (tar with ``_parameters``, no ``MANIFEST``) or an ``.npz``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False
    if _is_npz(path):
        return True
    try:
        with tarfile.open(path, mode="r:") as tar:
            names = tar.getnames()
    except (tarfile.TarError, OSError):
        return False
    return "_parameters" in names and "MANIFEST" not in names


def _convert_name(name: str) -> str:
    return name.replace("|", "/")


def load_legacy_parameters(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Parameters of an old Blocks checkpoint (or ``.npz``): ``/mlp/linear_0.W`` → CPU tensor.

    Raises
    ------
    CheckpointError
        When the file has no readable ``_parameters`` npz, or it holds object arrays.

    Examples
    --------
    >>> import io, os, tarfile, tempfile, numpy
    >>> buffer = io.BytesIO()
    >>> numpy.savez(buffer, **{"|mlp|linear_0.W": numpy.eye(2)})
    >>> path = os.path.join(tempfile.mkdtemp(), "old.tar")
    >>> with tarfile.open(path, "w") as tar:
    ...     info = tarfile.TarInfo("_parameters"); info.size = buffer.tell(); _ = buffer.seek(0)
    ...     tar.addfile(info, buffer)
    >>> list(load_legacy_parameters(path))
    ['/mlp/linear_0.W']
    """
    path = os.fspath(path)
    data = _legacy_npz(path)
    if data is None:
        raise CheckpointError(f"{path}: not an old Blocks checkpoint (no '_parameters' member) nor an .npz file")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as err:
        raise CheckpointError(
            f"{path}: the '_parameters' member holds object arrays, which would need pickle; refusing ({err})"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path}: the '_parameters' member is not a readable npz ({err})") from None
    return {_convert_name(name): torch.from_numpy(np.array(a)) for name, a in arrays.items()}


def legacy_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A :func:`~blocks.serialization.checkpoint_info`-style summary of an old Blocks checkpoint."""
    parameters = load_legacy_parameters(path)
    return {
        "path": os.path.abspath(os.fspath(path)),
        "size": os.path.getsize(path),
        "format_version": 0,
        "kind": "legacy-blocks",
        "members": {},
        "versions": {},
        "run": {},
        "history": [],
        "status": {},
        "training_finished": False,
        "parameters": {n: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
                       for n, t in parameters.items()},
        "num_parameters": int(sum(t.numel() for t in parameters.values())),
    }
