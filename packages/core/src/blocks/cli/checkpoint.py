"""``blocks checkpoint info PATH [--json]``: verify a checkpoint and show what it holds.

``info`` verifies every member's size and sha256, then shows the format,
versions, run, counters and parameters. Nothing here imports torch until the
command runs.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["add_parser", "format_info", "run_info"]


def add_parser(subparsers: Any) -> None:
    """Add ``blocks checkpoint`` and its subcommand ``info``."""
    checkpoint = subparsers.add_parser(
        "checkpoint", help="inspect checkpoints", description="Inspect Blocks checkpoint files."
    )
    sub = checkpoint.add_subparsers(dest="checkpoint_command", metavar="SUBCOMMAND")
    info = sub.add_parser(
        "info",
        help="what a checkpoint holds (hashes verified)",
        description="Verify every member's size and sha256, then show the format, versions, run, counters "
        "and parameters of a checkpoint (old Blocks checkpoints: their parameters).",
    )
    info.add_argument("path", metavar="PATH", help="checkpoint file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)
    checkpoint.set_defaults(func=lambda args: checkpoint.print_help() or 0)


def format_info(info: dict[str, Any]) -> str:
    """Human-readable text for :func:`blocks.serialization.checkpoint_info`'s result."""
    lines = [f"checkpoint {info['path']} ({info['size']:,} bytes): format {info['format_version']}, {info['kind']}"]
    run = info.get("run") or {}
    if run:
        lines.append(f"saved {run.get('saved_at')} on {run.get('host')} (pid {run.get('pid')}), run started "
                     f"{run.get('start_time')}")
        lines.append(f"command: {' '.join(run.get('orig_argv') or run.get('argv') or [])}")
        lines.append(f"cwd: {run.get('cwd')}")
    if info.get("history"):
        lines.append(f"continues {len(info['history'])} earlier run(s), first started "
                     f"{info['history'][0].get('start_time')}")
    if info.get("status"):
        lines.append(", ".join(f"{k} {v}" for k, v in info["status"].items())
                     + (", training finished" if info.get("training_finished") else ""))
    if info.get("versions"):
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    if info.get("members"):
        lines.append("members (size and sha256 verified):")
        width = max(len(n) for n in info["members"])
        for name, entry in info["members"].items():
            lines.append(f"  {name:<{width}}  {entry['size']:>12,} bytes  sha256 {entry['sha256']}")
    params = info.get("parameters") or {}
    lines.append(f"parameters: {len(params)} tensors, {info.get('num_parameters', 0):,} values")
    width = max((len(n) for n in params), default=0)
    for name, entry in params.items():
        lines.append(f"  {name:<{width}}  {entry['dtype']:<8} {entry['shape']}")
    return "\n".join(lines)


def run_info(args: Any) -> int:
    """Run ``blocks checkpoint info``."""
    from blocks.serialization import checkpoint_info

    info = checkpoint_info(args.path)
    print(json.dumps(info, indent=1) if args.json else format_info(info))
    return 0
