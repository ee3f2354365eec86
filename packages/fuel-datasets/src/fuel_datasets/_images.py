"""Appendable HDF5 sources for image converters (decoded variable-size images, raw encoded bytes)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy

__all__ = ["VlenAppender", "decode_image"]


def decode_image(data: bytes) -> numpy.ndarray | None:
    """RGB (channel, height, width) uint8 array of an encoded image, or ``None`` if it cannot be decoded."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return numpy.asarray(image.convert("RGB")).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


class VlenAppender:
    """Append examples to a variable-length source in Fuel's layout (see ``fuel.converters.write_vlen_source``).

    Parameters
    ----------
    h5file : h5py.File
        Output file.
    name : str
        Source name.
    dtype : numpy dtype
        Element dtype.
    shape_labels : sequence of str, optional
        Per-example axis names; ``None`` stores flat 1-D examples (encoded bytes) without shapes.

    Examples
    --------
    >>> import h5py, io
    >>> with h5py.File(io.BytesIO(), "w") as f:
    ...     images = VlenAppender(f, "images", "uint8", ("channel", "height", "width"))
    ...     images.append(numpy.zeros((3, 2, 4), "uint8")); images.finish()
    ...     f["images_shapes"][0].tolist()
    [3, 2, 4]
    """

    def __init__(self, h5file: Any, name: str, dtype: Any, shape_labels: Sequence[str] | None = None):
        import h5py

        self.h5file = h5file
        self.name = name
        self.dtype = numpy.dtype(dtype)
        self.shape_labels = tuple(shape_labels) if shape_labels is not None else None
        self.data = h5file.create_dataset(name, (0,), maxshape=(None,), chunks=(256,),
                                          dtype=h5py.vlen_dtype(self.dtype))
        self.shapes = None
        if self.shape_labels is not None:
            ndim = len(self.shape_labels)
            self.shapes = h5file.create_dataset(f"{name}_shapes", (0, ndim), maxshape=(None, ndim),
                                                chunks=(256, ndim), dtype="int32")
        self.count = 0

    def append(self, example: Any) -> None:
        """Add one example."""
        example = numpy.asarray(example, dtype=self.dtype)
        self.data.resize((self.count + 1,))
        self.data[self.count] = example.ravel()
        if self.shapes is not None:
            self.shapes.resize((self.count + 1, self.shapes.shape[1]))
            self.shapes[self.count] = example.shape
        self.count += 1

    def finish(self) -> None:
        """Attach the dimension scales (call once, after the last example)."""
        if self.shapes is not None:
            labels = self.h5file.create_dataset(f"{self.name}_shape_labels", (len(self.shape_labels),),
                                                dtype=f"S{max(len(s) for s in self.shape_labels)}")
            labels[...] = [s.encode("utf8") for s in self.shape_labels]
            self.shapes.make_scale("shapes")
            labels.make_scale("shape_labels")
            self.data.dims[0].attach_scale(self.shapes)
            self.data.dims[0].attach_scale(labels)
        self.data.dims[0].label = "batch"
