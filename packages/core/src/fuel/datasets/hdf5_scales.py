"""Find the dimension scales attached to axis 0 of a dataset without libhdf5's dimension-scale code.

Fuel's variable-length sources keep each example's shape in a dimension scale
named ``shapes`` attached to axis 0 (and the names of those axes in one named
``shape_labels``). h5py finds them through the dataset's ``DIMENSION_LIST``
attribute, a variable-length attribute stored in the global heap: on a file
whose heap is damaged, libhdf5 can loop forever or crash reading it, which no
Python code can catch. Every scale also records the datasets it is attached
to in its own ``REFERENCE_LIST`` attribute, a fixed-size array of
(object reference, axis) pairs stored with the scale itself. :func:`axis0_scales`
finds the scales from that side: it reads only fixed-size attributes, so
building a dataset and reading its data never touch the global heap except
for the data itself (checked by :class:`~fuel.datasets.hdf5_heap.HeapCheck`).

Examples
--------
>>> import h5py, numpy as np
>>> f = h5py.File("scales-doc.hdf5", "w", driver="core", backing_store=False)
>>> f["x"], f["x_shapes"] = np.arange(3), np.ones((3, 2), dtype="int32")
>>> f["x_shapes"].make_scale("shapes")
>>> f["x"].dims[0].attach_scale(f["x_shapes"])
>>> {name: sorted(scales) for name, scales in axis0_scales(f, ["x"]).items()}
{'x': ['shapes']}
>>> f.close()
"""

from __future__ import annotations

from collections.abc import Sequence

import h5py

from fuel.datasets.hdf5_errors import TYPE_FAILURES, reading
from fuel.datasets.hdf5_layout import describe_file

__all__ = ["axis0_scales"]


def _fixed_text(attrs: h5py.AttributeManager, key: str) -> str | None:
    """A fixed-length string attribute as text; ``None`` when absent or of another type (never read then)."""
    if key not in attrs:
        return None
    dtype = attrs.get_id(key).dtype
    if dtype.kind != "S" or h5py.check_string_dtype(dtype) is None or dtype.shape != ():
        return None
    value = attrs[key]
    if hasattr(value, "shape") and value.shape != ():
        return None
    return bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")


def _attached_to(h5file: h5py.File, scale: h5py.Dataset, axis: int) -> list[h5py.Dataset]:
    """The datasets whose axis ``axis`` the scale records in its ``REFERENCE_LIST``."""
    if "REFERENCE_LIST" not in scale.attrs:
        return []
    dtype = scale.attrs.get_id("REFERENCE_LIST").dtype
    names = dtype.names or ()
    if len(names) != 2 or h5py.check_ref_dtype(dtype.fields[names[0]][0]) is not h5py.Reference:
        return []
    attached = []
    for reference, dimension in scale.attrs["REFERENCE_LIST"].reshape(-1).tolist():
        if int(dimension) == axis and reference:
            target = h5file[reference]
            if isinstance(target, h5py.Dataset):
                attached.append(target)
    return attached


def axis0_scales(h5file: h5py.File, names: Sequence[str]) -> dict[str, dict[str, h5py.Dataset]]:
    """``{name: {scale name: scale}}`` of the scales attached to axis 0 of the datasets ``names``.

    Every dataset of the file that is a dimension scale (``CLASS`` is
    ``DIMENSION_SCALE``) is looked at; ``names`` not in the file, or without
    scales, map to ``{}``.

    Raises
    ------
    DamagedFileError
        libhdf5 fails while reading the file's objects or their attributes.
    """
    where = describe_file(h5file)
    found: dict[str, dict[str, h5py.Dataset]] = {name: {} for name in names}
    with reading(where, "the objects of the file (looking for dimension scales)"):
        wanted = {name: h5file[name] for name in names if isinstance(h5file.get(name), h5py.Dataset)}
        if not wanted:
            return found
        candidates: list[str] = []
        h5file.visititems(
            lambda key, item: candidates.append(key) if isinstance(item, h5py.Dataset) and "CLASS" in item.attrs
            else None
        )
    for key in candidates:
        with reading(where, f"the dimension-scale attributes of {key!r}", TYPE_FAILURES):
            scale = h5file[key]
            if _fixed_text(scale.attrs, "CLASS") != "DIMENSION_SCALE":
                continue
            scale_name = _fixed_text(scale.attrs, "NAME") or ""
            for target in _attached_to(h5file, scale, 0):
                for name, dataset in wanted.items():
                    if target == dataset:
                        found[name].setdefault(scale_name, scale)
    return found
