"""``blocks plugins [--all] [--hook NAME] [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from blocks.registry import KINDS

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list installed plugins and what each registered",
        description="List installed plugin distributions, their versions and what each registered.",
    )
    parser.add_argument("--all", action="store_true",
                        help="also list blocks-core's built-ins and skipped or disabled plugins")
    parser.add_argument("--hook", metavar="NAME", help="only plugins implementing this hook")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from blocks import hookspecs
    from blocks.plugins import CORE_DISTRIBUTION, get_host

    host = get_host()
    if args.hook and not hasattr(hookspecs, args.hook):
        valid = sorted(n for n in dir(hookspecs) if n.startswith(("register_", "select_")))
        raise ValueError(f"unknown hook {args.hook!r}; hooks: {', '.join(valid)}")
    plugins = host.plugins()
    rows = []
    for info in plugins:
        if not args.all and (info.name == CORE_DISTRIBUTION or info.status in ("skipped", "disabled")):
            continue
        if args.hook and args.hook not in info.hooks:
            continue
        rows.append(info.as_dict())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no plugins installed" + ("" if args.all else " (use --all to include blocks-core's built-ins)"))
    for row in rows:
        status = "" if row["status"] == "loaded" else f" [{row['status'].upper()}]"
        print(f"{row['name']} {row['version']}{status}")
        if row["error"]:
            print(f"  error: {row['error']}")
        if row["hooks"]:
            print(f"  hooks: {', '.join(row['hooks'])}")
        for kind in KINDS:
            names = row["registered"].get(kind)
            if names:
                print(f"  {kind}: {', '.join(sorted(names))}")
        for clash in row["clashes"]:
            print(f"  clash: {clash['kind']} name {clash['name']!r} is disabled here, {clash['kept_by']} has it")
    for info in host.failures:
        if not any(r["name"] == info.name for r in rows):
            print(f"warning: {info.error}")
    return 0
