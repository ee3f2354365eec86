"""``fuel-info FILE [FILE ...]``: provenance, splits and sources of converted files."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from blocks.cli._run import EXIT_ERROR, run_command

__all__ = ["describe", "main"]

ATTRIBUTES = (
    ("h5py_interface_version", "Interface version"),
    ("fuel_convert_version", "Converter version"),
    ("fuel_convert_command", "Command"),
)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def describe(path: str) -> str:
    """A printable description of one converted file (what ``fuel-info`` prints).

    Examples
    --------
    >>> print(describe("mnist.hdf5"))  # doctest: +SKIP
    """
    import h5py

    with h5py.File(path, "r") as h5file:
        attrs = h5file.attrs
        lines = [f"Metadata for {path}", ""]
        for key, label in ATTRIBUTES:
            lines.append(f"    {label}: {_text(attrs[key]) if key in attrs else 'N/A'}")
        if "fuel_inputs_verified" in attrs:
            verified = bool(attrs["fuel_inputs_verified"])
            lines.append(f"    Inputs verified: {'yes' if verified else 'NO'}")
            if not verified:
                lines.append(f"    Unverified inputs: {_text(attrs.get('fuel_inputs_unverified', '?'))}")
        else:
            lines.append("    Inputs verified: N/A")
        if "split" in attrs:
            lines += ["", "    Splits:"]
            rows: dict[str, list[str]] = {}
            for row in attrs["split"]:
                if not row["available"]:
                    continue
                split, source = _text(row["split"]), _text(row["source"])
                rows.setdefault(split, []).append(f"{source}[{int(row['stop']) - int(row['start'])}]")
            for split, sources in rows.items():
                lines.append(f"        {split}: {', '.join(sources)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fuel-info``."""
    parser = argparse.ArgumentParser(
        prog="fuel-info", description="Print the provenance (converter version, command, verified inputs) and "
        "splits of HDF5 files written by fuel-convert.",
    )
    parser.add_argument("filename", nargs="+", help="HDF5 file(s) written by fuel-convert")
    args = parser.parse_args(argv)
    return run_command("fuel-info", lambda: _describe_all(args.filename))


def _describe_all(paths: Sequence[str]) -> int:
    """Print each file's description; a file that cannot be read is reported and the others still are."""
    status = 0
    for path in paths:
        try:
            text = describe(path)
        except (OSError, ValueError) as err:
            print(f"fuel-info: error: {path}: {err}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        print(text)
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
