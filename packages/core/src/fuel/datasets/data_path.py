"""HDF5 datasets installed in Fuel's data path: the base class of dataset plugins.

A dataset plugin converts downloaded files into one HDF5 file (``fuel-convert``)
that users put in a directory of ``fuel.config.data_path``. Its dataset class
subclasses :class:`DataPathDataset`, names that file and declares how its
sources are transformed by default; everything else (finding the file in the
data path, the ``local_data_path`` cache, splits, subsets, in-memory loading)
is :class:`~fuel.datasets.H5PYDataset`'s.
"""

from __future__ import annotations

from typing import Any, Sequence

from fuel.data_path import cache_file, find_in_data_path
from fuel.datasets.hdf5 import H5PYDataset

__all__ = ["DataPathDataset"]


class DataPathDataset(H5PYDataset):
    """An :class:`~fuel.datasets.H5PYDataset` whose file is ``filename`` in ``fuel.config.data_path``.

    The file is looked up with :func:`fuel.data_path.find_in_data_path` (an
    error lists the directories searched and says how to create the file) and
    read through the ``local_data_path`` cache (:func:`fuel.data_path.cache_file`).
    Subclasses set ``filename`` and declare their default transformers, built
    when first asked for (so that importing a dataset module stays cheap):

    - ``scaled_sources``: pixels scaled by ``1 / pixel_maximum``, then cast to
      ``floatX`` unless ``cast_scaled`` is false
      (:func:`fuel.transformers.defaults.pixels_to_floatX`);
    - ``cast_sources``: cast to ``floatX``;
    - ``decoded_sources``: encoded image bytes decoded to RGB (channel, height,
      width) arrays (:func:`fuel.transformers.defaults.rgb_images_from_encoded_bytes`).

    ``DataStream.default_stream(dataset, ...)`` applies them.

    Parameters
    ----------
    which_sets : tuple of str
        Splits to read, e.g. ``("train",)``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset` (``subset``,
        ``load_in_memory``, ``sources``, ...).

    Examples
    --------
    >>> import os, tempfile, numpy
    >>> from fuel import config
    >>> from fuel.converters import fill_hdf5_file, output_hdf5
    >>> class Tiny(DataPathDataset):
    ...     filename = "tiny.hdf5"
    ...     scaled_sources = ("features",)
    >>> directory = tempfile.mkdtemp()
    >>> with output_hdf5(os.path.join(directory, "tiny.hdf5")) as h5file:
    ...     fill_hdf5_file(h5file, [("train", "features", numpy.arange(6, dtype="uint8").reshape(3, 2))])
    >>> with config.override(data_path=directory):
    ...     dataset = Tiny(("train",))
    ...     print(dataset.num_examples, [t.__name__ for t, _, _ in dataset.default_transformers])
    3 ['ScaleAndShift', 'Cast']
    """

    filename: str = ""
    scaled_sources: tuple[str, ...] = ()
    pixel_maximum: float = 255.0
    cast_scaled: bool = True
    cast_sources: tuple[str, ...] = ()
    decoded_sources: tuple[str, ...] = ()

    def __init__(self, which_sets: Sequence[str], **kwargs: Any):
        if not self.filename:
            raise ValueError(f"{type(self).__name__} must set the class attribute `filename`")
        path = cache_file(find_in_data_path(self.filename))
        super().__init__(file_or_path=path, which_sets=which_sets, **kwargs)

    @property
    def default_transformers(self) -> tuple:  # type: ignore[override]
        """``(transformer class, args, kwargs)`` applied by ``DataStream.default_stream``."""
        out: list[tuple] = []
        if self.decoded_sources:
            from fuel.transformers.defaults import rgb_images_from_encoded_bytes

            out.extend(rgb_images_from_encoded_bytes(tuple(self.decoded_sources)))
        if self.scaled_sources:
            from fuel.transformers.defaults import pixels_to_floatX

            scale = pixels_to_floatX(self.scaled_sources, self.pixel_maximum)
            out.extend(scale if self.cast_scaled else scale[:1])
        if self.cast_sources:
            from fuel.transformers import Cast

            out.append((Cast, ["floatX"], {"which_sources": tuple(self.cast_sources)}))
        return tuple(out)
