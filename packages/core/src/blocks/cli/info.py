"""``blocks info``: what this installation is and what it can use.

Versions of Python, torch and our packages, installed plugins, the backends
and devices available (Theano's "used the cpu / used the gpu" check, done
right: it names the device a run with ``device=auto`` would use), the data
path and the configuration files in effect.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["add_parser", "collect", "run"]

OUR_DISTRIBUTIONS = (
    "blocks-core",
    "blocks-bricks-rnn",
    "fuel-datasets",
    "blocks-step-rules",
    "blocks-extensions",
    "blocks-gpu-cuda",
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="versions, plugins, backends and devices, data path, configuration",
        description="Show versions, installed plugins, available backends and devices, the data path "
        "and the configuration files in effect.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """Gather everything ``blocks info`` reports, as a JSON-able dict."""
    import torch

    import fuel
    from blocks.backends import available_backends, get_backend
    from blocks.config import config
    from blocks.plugins import get_host

    host = get_host()
    try:
        backend = get_backend()
        selected: dict[str, Any] = backend.describe()
    except ValueError as err:
        selected = {"error": str(err)}
    try:
        data_path = fuel.config.data_path
    except ValueError as err:
        data_path = f"unset ({err})"
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "torch": {
            "version": torch.__version__,
            "cuda_build": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            "threads": torch.get_num_threads(),
        },
        "packages": {dist: _version(dist) for dist in OUR_DISTRIBUTIONS},
        "plugins": [
            {"name": p.name, "version": p.version, "status": p.status, "error": p.error} for p in host.plugins()
        ],
        "backends": available_backends(),
        "device_for_auto": selected,
        "config": {
            "blocks_file": config.config_file(),
            "fuel_file": fuel.config.config_file(),
            "blocks": {k: config.get(k) for k in sorted(config.options)},
            "sources": {k: config.source(k) for k in sorted(config.options)},
        },
        "data_path": data_path,
        "local_data_path": fuel.config.local_data_path,
    }


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    torch_info = info["torch"]
    print(f"python     {info['python']}")
    print(f"platform   {info['platform']}")
    print(
        f"torch      {torch_info['version']} (CUDA build: {torch_info['cuda_build'] or 'none'}, "
        f"CUDA available: {'yes' if torch_info['cuda_available'] else 'no'}, threads: {torch_info['threads']})"
    )
    print("packages")
    for dist, version in info["packages"].items():
        print(f"  {dist:<20} {version or 'not installed'}")
    print("plugins")
    for plugin in info["plugins"]:
        flag = "" if plugin["status"] == "loaded" else f" [{plugin['status'].upper()}] {plugin['error']}"
        print(f"  {plugin['name']:<20} {plugin['version']}{flag}")
    print("backends")
    for name, backend in info["backends"].items():
        state = "available" if backend["available"] else "not available"
        devices = ", ".join(backend["devices"]) or "-"
        error = f" {backend['error']}" if backend["error"] else ""
        print(f"  {name:<8} {state:<14} devices: {devices}  ({backend['plugin']}){error}")
    selected = info["device_for_auto"]
    if "error" in selected:
        print(f"device     error: {selected['error']}")
    else:
        print(
            f"device     a run with device={info['config']['blocks']['device']!r} uses {selected['device']} "
            f"({selected['backend']} backend, floatX {selected['floatX']})"
        )
    print(f"data path  {info['data_path']}")
    print(f"local data {info['local_data_path'] or '-'}")
    files = info["config"]
    print(f"config     ~/.blocksrc: {files['blocks_file'] or 'none'}; ~/.fuelrc: {files['fuel_file'] or 'none'}")
    for key, value in info["config"]["blocks"].items():
        print(f"  {key:<16} {value!r} ({info['config']['sources'][key]})")
    return 0
