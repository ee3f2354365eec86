"""``fuel-download DATASET [-d DIR] [--clear] [--mirror URL] [--no-verify] ...``.

One subcommand per dataset registered through ``register_datasets`` with a
``download=`` function. Every file is checked against its published sha256 and
size; mirrors (``--mirror``, ``FUEL_MIRRORS``) are tried first; partial
downloads resume. ``--help`` imports no dataset module (nor torch, nor h5py).
"""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from blocks.cli._fuel_datasets import DatasetCommand, function_kwargs

__all__ = ["main"]


def _add_common(parser: Any, defaults: bool) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("-d", "--directory", default=default("."),
                        help="where to save the downloaded files (default: current directory)")
    parser.add_argument("--clear", action="store_true", default=default(False),
                        help="delete the dataset's downloaded files instead")
    parser.add_argument("--mirror", action="append", dest="mirrors", metavar="URL", default=default([]),
                        help="a base URL or local directory tried before the dataset's own URLs (repeatable; "
                        "also FUEL_MIRRORS)")
    parser.add_argument("--no-verify", action="store_false", dest="verify", default=default(True),
                        help="DO NOT check sha256 and size (loud; recorded in the converted file)")
    parser.add_argument("--timeout", type=float, default=default(60.0),
                        help="seconds without data before a connection is abandoned (default 60)")
    parser.add_argument("--retries", type=int, default=default(3),
                        help="retries per source after a transient failure (default 3)")
    parser.add_argument("--no-progress", action="store_false", dest="progress", default=default(True),
                        help="no progress bar")


COMMAND = DatasetCommand(
    "fuel-download", "download",
    "Download the files of a dataset, verified (sha256 + size), from mirrors first, resuming partial downloads.",
    _add_common,
)


def _call(args: argparse.Namespace) -> int:
    paths = args.func(**function_kwargs(args))
    if args.clear:
        print(f"fuel-download {args.dataset}: cleared its files from {args.directory}")
    else:
        for path in paths or ():
            print(path)
        print(f"fuel-download {args.dataset}: done; next: fuel-convert {args.dataset} -d {args.directory} -o DIR "
              f"(`fuel-convert {args.dataset} --help` shows its options)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fuel-download``."""
    return COMMAND.run(argv, _call)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
