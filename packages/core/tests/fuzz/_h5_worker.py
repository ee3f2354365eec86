"""Child process of the HDF5 fuzz target: open and read Fuel files named on stdin, one JSON result per line.

Before each stage it prints ``{"stage": ...}`` so that the parent knows where
a crash in libhdf5 (a signal: nothing to catch in Python) happened:
``open`` (``H5PYDataset(...)``), ``load`` (the same with ``load_in_memory=True``,
which reads every example), ``read`` (every example), ``labels`` (axis labels and
provenance, read from attributes whose values libhdf5 keeps in the global heap).
"""

from __future__ import annotations

import json
import sys


def _say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _case(path: str, which_sets: list[str], in_memory: bool) -> None:
    from fuel.datasets.hdf5 import H5PYDataset

    _say(stage="load" if in_memory else "open")  # load_in_memory reads every example in the constructor
    dataset = H5PYDataset(path, which_sets=which_sets, load_in_memory=in_memory)
    _say(stage="read")
    n = dataset.num_examples
    handle = dataset.open()
    if n:
        dataset.get_data(handle, slice(0, n))
        dataset.get_data(handle, list(range(n - 1, -1, -1))[:5])
    dataset.close(handle)
    _say(stage="labels")
    _ = dataset.axis_labels
    _ = dataset.provenance
    dataset.close_file()


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _case(request["path"], request["which_sets"], request["in_memory"])
        except Exception as err:  # noqa: BLE001 - reported to the parent, which judges the type
            _say(done=True, error=type(err).__name__, module=type(err).__module__, message=str(err)[:500],
                 is_value_or_os_error=isinstance(err, (ValueError, OSError)))
        else:
            _say(done=True)


if __name__ == "__main__":
    main()
