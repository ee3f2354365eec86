"""Fuzz checkpoints: every damaged or tampered file is a CheckpointError, and the model is untouched then.

Three kinds of damage: raw byte edits of the file (caught by the hashes),
and edits of ``state.json`` or of another member written back with a
*consistent* MANIFEST (what a buggy or hostile writer produces; only
validation of the content catches those).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "serialization"))

from _fuzz import Findings, mutate_bytes, seeds  # noqa: E402
from _tamper import rewrite_members  # noqa: E402
from _tiny import build_loop  # noqa: E402

from blocks.serialization import (  # noqa: E402
    CheckpointError,
    checkpoint_info,
    load_main_loop_state,
    load_parameters,
    persistent_tensors,
    save_checkpoint,
)

_VALUES: list[Any] = ["many", -1, 2**64, 1.5, None, True, [], {}, [1, "x"], {"x": 1}, "../../etc/passwd", 1e308,
                      {"__class__": "os.system"}, "float64"]


def _nodes(document: Any) -> list[tuple]:
    """Every (parent, key) in a JSON document."""
    found = []
    if isinstance(document, dict):
        items: Any = document.items()
    else:
        items = enumerate(document) if isinstance(document, list) else ()
    for key, value in items:
        found.append((document, key))
        found += _nodes(value)
    return found


def _edit_json(document: dict[str, Any], rng: random.Random) -> Any:
    """One random structural edit; returns bytes for edits json.dumps cannot make."""
    choice = rng.randrange(10)
    if choice == 0:
        return b'{"format_version": 1, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    if choice == 1:
        return json.dumps(rng.choice(_VALUES)).encode()
    nodes = _nodes(document)
    for _ in range(rng.choice((1, 1, 2, 3))):
        parent, key = rng.choice(nodes)
        if choice < 5 and isinstance(parent, dict):
            parent.pop(key, None)
        elif choice < 8:
            parent[key] = rng.choice(_VALUES)
        else:
            parent[key] = {"nested": parent[key]} if rng.random() < 0.5 else [parent[key]]
    return None


def _tamper(path: Path, rng: random.Random) -> str:
    """Damage the checkpoint at ``path``; returns what was done."""
    kind = rng.randrange(3)
    if kind == 0:
        path.write_bytes(mutate_bytes(path.read_bytes(), rng))
        return "bytes of the file"
    what: list[str] = []

    def edit(members: dict[str, bytes]) -> None:
        name = "state.json" if kind == 1 and "state.json" in members else rng.choice(sorted(members))
        what.append(name)
        if name == "state.json" and kind == 1:
            document = json.loads(members[name])
            replaced = _edit_json(document, rng)
            members[name] = replaced if replaced is not None else json.dumps(document).encode()
        elif rng.random() < 0.2:
            del members[name]
        else:
            members[name] = mutate_bytes(members[name], rng)

    rewrite_members(path, edit)
    return f"consistently rehashed {what[0]}"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    loop = build_loop()
    loop.algorithm.initialize()
    full = folder / "full.tar"
    save_checkpoint(full, loop)
    params = folder / "parameters.tar"
    save_checkpoint(params, loop, parameters_only=True)
    return full.read_bytes(), params.read_bytes()


def _snapshot(loop) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in persistent_tensors(loop.model).items()}


def _unchanged(loop, snapshot) -> bool:
    now = persistent_tensors(loop.model)
    return all(torch.equal(now[name], value) for name, value in snapshot.items())


def _check(seed: int, path: Path, what: str, findings: Findings) -> None:
    loop = build_loop(seed=1)
    loop.algorithm.initialize()
    before = _snapshot(loop)
    for name, call in (("load_main_loop_state", lambda: load_main_loop_state(loop, path)),
                       ("load_parameters", lambda: load_parameters(path)),
                       ("checkpoint_info", lambda: checkpoint_info(path))):
        try:
            call()
        except CheckpointError:
            if name == "load_main_loop_state" and not _unchanged(loop, before):
                findings.add(seed, f"{what}: {name} failed but changed the model", path)
        except Exception as err:  # noqa: BLE001 - every other type is a finding
            findings.add(seed, f"{what}: {name} raised {type(err).__name__}: {str(err)[:200]}", path)


def test_fuzz_checkpoints(checkpoints, tmp_path):
    findings = Findings("checkpoint")
    for seed in seeds(80):
        rng = random.Random(seed)
        path = tmp_path / f"case-{seed}.tar"
        path.write_bytes(checkpoints[seed % 2])
        what = _tamper(path, rng)
        _check(seed, path, what, findings)
        path.unlink()
    findings.check()
