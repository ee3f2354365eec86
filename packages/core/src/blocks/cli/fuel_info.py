"""``fuel-info [--check] FILE [FILE ...]``: provenance, splits and sources of converted files.

``--check`` also reads each file completely in a child process
(:func:`fuel.datasets.hdf5_check.check_file`): a file that libhdf5 cannot read,
even one that crashes the reading process, is reported as damaged (exit
status 2) instead of killing ``fuel-info``.
"""

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
        from fuel.converters.checksum import checksum_status

        checksummed, total = checksum_status(h5file)
        if checksummed:
            lines.append(f"    Checksums: Fletcher-32 per chunk ({checksummed} of {total} datasets)")
        else:
            lines.append("    Checksums: none (fuel-convert --checksum adds them)")
        if "split" in attrs:
            from fuel.datasets.hdf5_layout import split_rows

            lines += ["", "    Splits:"]
            rows: dict[str, list[str]] = {}
            for row in split_rows(h5file):
                if row.available:
                    size = "indices" if row.indices is not None else str(row.stop - row.start)
                    rows.setdefault(row.split, []).append(f"{row.source}[{size}]")
            for split, sources in rows.items():
                lines.append(f"        {split}: {', '.join(sources)}")
    return "\n".join(lines)


def _check(path: str, stall_timeout: float) -> tuple[str, bool]:
    from fuel.datasets.hdf5_check import check_file

    report = check_file(path, stall_timeout=stall_timeout)
    if report.ok:
        return f"    Check: OK ({report.bytes_read} bytes of data read, every dataset and axis label)", True
    return f"    Check: DAMAGED: {report.problem}", False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fuel-info``."""
    parser = argparse.ArgumentParser(
        prog="fuel-info", description="Print the provenance (converter version, command, verified inputs) and "
        "splits of HDF5 files written by fuel-convert.",
    )
    parser.add_argument("filename", nargs="+", help="HDF5 file(s) written by fuel-convert")
    parser.add_argument("--check", action="store_true",
                        help="also read each file completely (data, checksums, axis labels) in a child process; a "
                        "file that cannot be read, even one that crashes libhdf5, is reported as damaged (status 2)")
    parser.add_argument("--stall-timeout", type=float, default=20.0, metavar="SECONDS",
                        help="with --check: a read that makes no progress for this long is reported as damaged "
                        "(libhdf5 loops forever on some damaged files; default 20)")
    args = parser.parse_args(argv)
    return run_command("fuel-info", lambda: _describe_all(args.filename, args.check, args.stall_timeout))


def _describe_all(paths: Sequence[str], check: bool = False, stall_timeout: float = 20.0) -> int:
    """Print each file's description; a file that cannot be read is reported and the others still are."""
    status = 0
    for path in paths:
        if check:
            line, ok = _check(path, stall_timeout)
            if not ok:
                print(f"{path}:\n{line}")
                status = EXIT_ERROR
                continue
        try:
            text = describe(path)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
            print(f"fuel-info: error: {path}: {err}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        print(text)
        if check:
            print(line)
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
