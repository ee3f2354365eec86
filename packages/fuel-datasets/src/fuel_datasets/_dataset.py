"""Base class of the HDF5 datasets of this package: files found through ``fuel.config.data_path``."""

from __future__ import annotations

from typing import Any, Sequence

from fuel.data_path import cache_file, find_in_data_path
from fuel.datasets import H5PYDataset

__all__ = ["DataPathDataset", "pixels_to_floatX"]


def pixels_to_floatX(which_sources: Sequence[str], maximum: float = 255.0) -> tuple:
    """Fuel's ``uint8_pixels_to_floatX``: scale by ``1 / maximum`` and cast to ``floatX``.

    Examples
    --------
    >>> [t[0].__name__ for t in pixels_to_floatX(("features",))]
    ['ScaleAndShift', 'Cast']
    """
    from fuel.transformers import Cast, ScaleAndShift

    sources = tuple(which_sources)
    return (
        (ScaleAndShift, [1.0 / maximum, 0.0], {"which_sources": sources}),
        (Cast, ["floatX"], {"which_sources": sources}),
    )


class DataPathDataset(H5PYDataset):
    """An :class:`~fuel.datasets.H5PYDataset` whose file is ``filename`` in ``fuel.config.data_path``.

    The file is looked up with :func:`fuel.data_path.find_in_data_path` and read
    through the ``local_data_path`` cache (:func:`fuel.data_path.cache_file`).
    Subclasses set ``filename`` and declare their default transformers, built
    when first asked for (so that importing a dataset module stays cheap):

    - ``scaled_sources``: uint8 pixels scaled by ``1 / pixel_maximum``, then
      cast to ``floatX`` unless ``cast_scaled`` is false;
    - ``cast_sources``: cast to ``floatX``;
    - ``decoded_sources``: encoded image bytes decoded to RGB (channel, height,
      width) arrays (``fuel.transformers.defaults.rgb_images_from_encoded_bytes``).

    Parameters
    ----------
    which_sets : tuple of str
        Splits to read, e.g. ``("train",)``.
    **kwargs
        Passed to :class:`~fuel.datasets.H5PYDataset` (``subset``,
        ``load_in_memory``, ``sources``, ...).

    Examples
    --------
    >>> class Tiny(DataPathDataset):
    ...     filename = "tiny.hdf5"
    ...     scaled_sources = ("features",)
    >>> Tiny(("train",))  # doctest: +SKIP
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
            scale = pixels_to_floatX(self.scaled_sources, self.pixel_maximum)
            out.extend(scale if self.cast_scaled else scale[:1])
        if self.cast_sources:
            from fuel.transformers import Cast

            out.append((Cast, ["floatX"], {"which_sources": tuple(self.cast_sources)}))
        return tuple(out)
