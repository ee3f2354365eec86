"""Rewrite a checkpoint's members with a consistent MANIFEST: what a hostile or buggy writer can produce."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from blocks.serialization import Archive
from blocks.serialization.archive import MemberSource, write_archive


def rewrite_members(path, change: Callable[[dict[str, bytes]], None]) -> None:
    """Read every member, let ``change`` edit the name -> bytes dict, write it back with fresh hashes."""
    with Archive(path) as archive:
        members = {name: bytes(archive.read(name)) for name in archive.members}
        kind = archive.manifest.get("kind")
    change(members)
    write_archive(path, [MemberSource(n, len(b), [b]) for n, b in members.items()], kind=kind)


def rewrite_state_json(path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Edit ``state.json`` (``change`` mutates the document, or returns a replacement), keeping the hashes valid."""

    def edit(members: dict[str, bytes]) -> None:
        document = json.loads(members["state.json"])
        replaced = change(document)
        document = document if replaced is None else replaced
        members["state.json"] = document if isinstance(document, bytes) else json.dumps(document).encode()

    rewrite_members(path, edit)
