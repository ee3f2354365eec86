"""Convolutional bricks: Convolutional, ConvolutionalTranspose, MaxPooling, AveragePooling,
ConvolutionalSequence, Flattener.

Images are ``(batch, channels, height, width)``. Convolutions are
cross-correlations (``torch.nn.functional.conv2d``; Theano's ``conv2d``
flipped filters — irrelevant for learned filters, but note it when porting
trained Blocks weights: flip them on both spatial axes).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from blocks.bricks.base import BoundApplication, Brick, application, lazy, shape_of
from blocks.bricks.interfaces import Activation, Feedforward, Initializable, LinearLike
from blocks.bricks.sequences import Sequence as BrickSequence
from blocks.graph.variables import Variable, call
from blocks.roles import BIAS, FILTER

__all__ = [
    "AveragePooling",
    "Convolutional",
    "ConvolutionalSequence",
    "ConvolutionalTranspose",
    "Flattener",
    "MaxPooling",
    "Pooling",
    "conv_output_length",
]

BORDER_MODES = ("valid", "full", "half", "same")


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return value  # type: ignore[return-value]


def _check_border_mode(border_mode: Any) -> Any:
    if isinstance(border_mode, str):
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {BORDER_MODES} or a pair of ints, got {border_mode!r}")
        return border_mode
    return _pair(border_mode, "border_mode")


def _padding(border_mode: Any, filter_size: tuple[int, int], image_size: Sequence[int] | None,
             step: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding (before, after) per spatial axis."""
    result = []
    for axis in range(2):
        f, s = filter_size[axis], step[axis]
        if border_mode == "valid":
            before = after = 0
        elif border_mode == "full":
            before = after = f - 1
        elif border_mode == "half":
            before = after = f // 2
        elif border_mode == "same":
            if image_size is None or image_size[axis] is None:
                raise ValueError("border_mode 'same' needs the image size")
            size = image_size[axis]
            total = max((math.ceil(size / s) - 1) * s + f - size, 0)
            before, after = total // 2, total - total // 2
        else:
            before = after = border_mode[axis]
        result.append((before, after))
    return result[0], result[1]


def conv_output_length(length: int | None, filter_size: int, step: int, padding: tuple[int, int]) -> int | None:
    """Output length of a convolution along one axis (``None`` if the input length is unknown)."""
    if length is None:
        return None
    return (length + padding[0] + padding[1] - filter_size) // step + 1


def convolve(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, step: tuple[int, int], border_mode: Any,
             tied_biases: bool) -> torch.Tensor:
    """2-D convolution with Blocks' border modes and tied or untied biases."""
    filter_size = (W.shape[2], W.shape[3])
    (top, bottom), (left, right) = _padding(border_mode, filter_size, tuple(x.shape[2:]), step)
    if top == bottom and left == right:
        out = F.conv2d(x, W, b if tied_biases else None, stride=step, padding=(top, left))
    else:
        out = F.conv2d(F.pad(x, (left, right, top, bottom)), W, b if tied_biases else None, stride=step)
    if b is not None and not tied_biases:
        out = out + _untied(b, out)
    return out


def _untied(b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Untied biases ``b`` for the outputs ``out``, or an error saying that they were made for another image size."""
    if tuple(out.shape[-2:]) != tuple(b.shape[-2:]):
        raise ValueError(f"Input dimension mis-match: the untied biases are for outputs of {tuple(b.shape[-2:])} "
                         f"pixels, these images give {tuple(out.shape[-2:])}; untied biases fix the image size "
                         f"(use tied_biases=True for images of any size)")
    return b


class Convolutional(LinearLike):
    """A 2-D convolution (``W`` role ``FILTER``, shape ``(num_filters, num_channels, height, width)``).

    Parameters
    ----------
    filter_size : int or (int, int)
    num_filters : int
    num_channels : int
        Lazy; inferred from the first input when left out.
    batch_size : int, optional
        Unused (kept for Blocks compatibility).
    image_size : (int or None, int or None)
        Needed for untied biases, border mode ``same`` output shapes and
        ``get_dim("output")``; inferred from the first input.
    step : int or (int, int)
    border_mode : ``"valid"``, ``"full"``, ``"half"``, ``"same"`` or (int, int)
    tied_biases : bool
        One bias per filter (default) or one per output position.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Convolutional
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> conv = Convolutional(filter_size=(3, 3), num_filters=4, num_channels=2, border_mode="half",
    ...                      weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> conv.apply(torch.zeros(1, 2, 8, 8)).shape
    torch.Size([1, 4, 8, 8])
    """

    conv2d_impl = staticmethod(convolve)

    @lazy(allocation=["filter_size", "num_filters", "num_channels"])
    def __init__(self, filter_size: Any, num_filters: int, num_channels: int, batch_size: int | None = None,
                 image_size: Any = (None, None), step: Any = (1, 1), border_mode: Any = "valid",
                 tied_biases: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filter_size = filter_size
        self.num_filters = num_filters
        self.num_channels = num_channels
        self.batch_size = batch_size
        self.image_size = image_size
        self.step = step
        self.border_mode = border_mode
        self.tied_biases = tied_biases

    def _settings(self) -> tuple[tuple[int, int], tuple[int, int], Any]:
        return _pair(self.filter_size, "filter_size"), _pair(self.step, "step"), \
            _check_border_mode(self.border_mode)

    @staticmethod
    def get_output_shape(image_size: Sequence[int | None], filter_size: Any, step: Any, border_mode: Any) -> \
            tuple[int | None, int | None]:
        """Spatial output shape for an input image size (``None`` entries stay unknown)."""
        filter_size, step = _pair(filter_size, "filter_size"), _pair(step, "step")
        border_mode = _check_border_mode(border_mode)
        result = []
        for axis in range(2):
            size = image_size[axis] if image_size is not None else None
            if size is None:
                result.append(None)
                continue
            padding = _padding(border_mode, filter_size, image_size, step)[axis]
            result.append(conv_output_length(size, filter_size[axis], step[axis], padding))
        return result[0], result[1]

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "input"):
            return (self.num_channels, *self._image_size())
        if name == "output":
            filter_size, step, border_mode = self._settings()
            return (self.num_filters, *self.get_output_shape(self._image_size(), filter_size, step, border_mode))
        return super().get_dim(name)

    def _image_size(self) -> tuple[int | None, int | None]:
        size = self.image_size if self.image_size is not None else (None, None)
        return _pair(size, "image_size")

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if shape and len(shape) == 4:
            if not self.num_channels and shape[1] is not None:
                self.num_channels = shape[1]
            if self._image_size() == (None, None):
                self.image_size = (shape[2], shape[3])

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        shape = shape_of(args[0]) if args else None
        if not shape or not isinstance(self.num_channels, int):
            return None
        if len(shape) != 4 or (shape[1] is not None and shape[1] != self.num_channels):
            return (f"expected images of shape (batch, {self.num_channels}, height, width) "
                    f"(num_channels={self.num_channels}), got shape {tuple(shape)}")
        filter_size, step, border_mode = self._settings()
        if border_mode == "valid" and all(s is not None for s in shape[2:]) and (
                shape[2] < filter_size[0] or shape[3] < filter_size[1]):
            return f"image of shape {tuple(shape)} is smaller than the filter size {filter_size}"
        return None

    def _allocate(self) -> None:
        filter_size, step, border_mode = self._settings()
        self.new_parameter("W", (self.num_filters, self.num_channels, *filter_size), FILTER)
        if not self.use_bias:
            self.register_parameter("b", None)
        elif self.tied_biases:
            self.new_parameter("b", (self.num_filters,), BIAS)
        else:
            out = self.get_output_shape(self._image_size(), filter_size, step, border_mode)
            if None in out:
                raise ValueError(f"Cannot infer bias size without image_size: brick {self.get_unique_path()} has "
                                 f"untied biases (tied_biases=False) and image_size {self._image_size()}; set "
                                 f"image_size or apply the brick to an image first")
            self.new_parameter("b", (self.num_filters, *out), BIAS)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Convolve the images."""
        _, step, border_mode = self._settings()
        if isinstance(input_, Variable):
            return call(type(self).conv2d_impl, input_, self.W, self.b, step, border_mode, self.tied_biases)
        return type(self).conv2d_impl(input_, self.W, self.b, step, border_mode, self.tied_biases)


def convolve_transpose(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, step: tuple[int, int],
                       padding: tuple[int, int], output_padding: tuple[int, int], tied_biases: bool) -> torch.Tensor:
    """Transposed 2-D convolution (the gradient of ``convolve`` with respect to its input)."""
    out = F.conv_transpose2d(x, W, b if tied_biases else None, stride=step, padding=padding,
                             output_padding=output_padding)
    if b is not None and not tied_biases:
        out = out + _untied(b, out)
    return out


class ConvolutionalTranspose(Convolutional):
    """A transposed convolution; output images are the minimal size unless ``original_image_size`` is given.

    ``W`` has shape ``(num_channels, num_filters, height, width)``. Border
    modes ``valid``, ``full``, ``half`` and explicit pairs are the padding of
    the convolution this one transposes.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import ConvolutionalTranspose
    >>> from blocks.initialization import Constant
    >>> up = ConvolutionalTranspose(filter_size=(2, 2), num_filters=1, num_channels=3, step=(2, 2),
    ...                             weights_init=Constant(1), biases_init=Constant(0))
    >>> up.apply(torch.ones(1, 3, 4, 4)).shape
    torch.Size([1, 1, 8, 8])
    """

    @lazy(allocation=["filter_size", "num_filters", "num_channels"])
    def __init__(self, filter_size: Any, num_filters: int, num_channels: int, original_image_size: Any = None,
                 unused_edge: Any = (0, 0), **kwargs: Any) -> None:
        super().__init__(filter_size=filter_size, num_filters=num_filters, num_channels=num_channels, **kwargs)
        self.original_image_size = original_image_size
        self.unused_edge = unused_edge

    def _transpose_padding(self) -> tuple[int, int]:
        filter_size, step, border_mode = self._settings()
        if border_mode == "same":
            raise ValueError(f"brick {self.get_unique_path()}: border_mode 'same' is not defined for transposed "
                             "convolutions; use 'half' or explicit padding")
        (top, _), (left, _) = _padding(border_mode, filter_size, None, step)
        return top, left

    def _output_padding(self, image_size: Sequence[int | None]) -> tuple[int, int]:
        if self.original_image_size is None:
            return _pair(self.unused_edge, "unused_edge")
        filter_size, step, _ = self._settings()
        padding = self._transpose_padding()
        result = []
        for axis in range(2):
            if image_size[axis] is None:
                raise ValueError(f"brick {self.get_unique_path()}: original_image_size needs the input image size")
            minimal = (image_size[axis] - 1) * step[axis] - 2 * padding[axis] + filter_size[axis]
            result.append(_pair(self.original_image_size, "original_image_size")[axis] - minimal)
        return result[0], result[1]

    def get_dim(self, name: str) -> Any:
        if name == "output":
            return (self.num_filters, *self._output_image_size(self._image_size()))
        return super().get_dim(name)

    def _output_image_size(self, image_size: Sequence[int | None]) -> tuple[int | None, int | None]:
        if self.original_image_size is not None:
            return _pair(self.original_image_size, "original_image_size")
        filter_size, step, _ = self._settings()
        padding = self._transpose_padding()
        edge = _pair(self.unused_edge, "unused_edge")
        out = [None if image_size[a] is None else
               (image_size[a] - 1) * step[a] - 2 * padding[a] + filter_size[a] + edge[a] for a in range(2)]
        return out[0], out[1]

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        shape = shape_of(args[0]) if args else None
        if shape and isinstance(self.num_channels, int) and (len(shape) != 4 or shape[1] not in (None,
                                                                                              self.num_channels)):
            return (f"expected images of shape (batch, {self.num_channels}, height, width), "
                    f"got shape {tuple(shape)}")
        return None

    def _allocate(self) -> None:
        filter_size, _, _ = self._settings()
        if self.original_image_size is None and None not in self._output_image_size(self._image_size()):
            self.original_image_size = self._output_image_size(self._image_size())  # Blocks infers it here
        self.new_parameter("W", (self.num_channels, self.num_filters, *filter_size), FILTER)
        if not self.use_bias:
            self.register_parameter("b", None)
        elif self.tied_biases:
            self.new_parameter("b", (self.num_filters,), BIAS)
        else:
            out = self._output_image_size(self._image_size())
            if None in out:
                raise ValueError(f"Cannot infer bias size without image_size: brick {self.get_unique_path()} has "
                                 f"untied biases (tied_biases=False); set image_size or original_image_size")
            self.new_parameter("b", (self.num_filters, *out), BIAS)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Apply the transposed convolution."""
        _, step, _ = self._settings()
        padding = self._transpose_padding()
        image_size = shape_of(input_)
        known = image_size and len(image_size) == 4 and None not in image_size[2:]
        output_padding = self._output_padding(image_size[2:] if known else self._image_size())
        args = (input_, self.W, self.b, step, padding, output_padding, self.tied_biases)
        if isinstance(input_, Variable):
            return call(convolve_transpose, *args)
        return convolve_transpose(*args)


def _pool(x: torch.Tensor, mode: str, pooling_size: tuple[int, int], step: tuple[int, int],
          padding: tuple[int, int], ignore_border: bool, include_padding: bool) -> torch.Tensor:
    if mode == "max":
        return F.max_pool2d(x, pooling_size, step, padding, ceil_mode=not ignore_border)
    return F.avg_pool2d(x, pooling_size, step, padding, ceil_mode=not ignore_border,
                        count_include_pad=include_padding)


class Pooling(Initializable, Feedforward):
    """Base class of pooling bricks (``pooling_size``, ``step``, ``padding``, ``ignore_border``).

    Examples
    --------
    >>> from blocks.bricks import MaxPooling, Pooling
    >>> pool = MaxPooling((3, 3), step=(2, 2), input_dim=(4, 9, 9))
    >>> isinstance(pool, Pooling), pool.get_dim("output")
    (True, (4, 4, 4))
    """

    mode = "max"

    @lazy(allocation=["pooling_size"])
    def __init__(self, pooling_size: Any, step: Any = None, input_dim: Any = None, ignore_border: bool = True,
                 padding: Any = (0, 0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pooling_size = pooling_size
        self.step = step
        self.input_dim = input_dim
        self.ignore_border = ignore_border
        self.padding = padding
        if not ignore_border and _pair(padding, "padding") != (0, 0):
            raise ValueError("padding requires ignore_border=True (as in Theano's pooling)")

    def _settings(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        size = _pair(self.pooling_size, "pooling_size")
        step = size if self.step is None else _pair(self.step, "step")
        padding = _pair(self.padding, "padding")
        if any(p * 2 > s for p, s in zip(padding, size)):
            raise ValueError(f"brick {self.get_unique_path()}: padding {padding} must be at most half the "
                             f"pooling size {size}")
        return size, step, padding

    @property
    def num_channels(self) -> Any:
        return self.input_dim[0] if self.input_dim else None

    @property
    def image_size(self) -> Any:
        return tuple(self.input_dim[1:]) if self.input_dim else (None, None)

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "input"):
            return self.input_dim
        if name == "output":
            if not self.input_dim or len(self.input_dim) < 2:
                raise ValueError(f"brick {self.get_unique_path()}: output dimension needs input_dim (channels, "
                                 f"height, width), got {self.input_dim!r}")
            *leading, height, width = self.input_dim  # (channels, height, width) or Blocks' (height, width)
            image = (height, width)
            size, step, padding = self._settings()
            out = []
            for axis in range(2):
                length = image[axis]
                if length is None:
                    out.append(None)
                    continue
                span = length + 2 * padding[axis] - size[axis]
                if self.ignore_border:
                    out.append(span // step[axis] + 1)
                else:
                    count = -(-span // step[axis]) + 1
                    if (count - 1) * step[axis] >= length + padding[axis]:
                        count -= 1
                    out.append(count)
            return (*leading, *out)
        return super().get_dim(name)

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if not self.input_dim and shape and len(shape) == 4:
            self.input_dim = tuple(shape[1:])

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        shape = shape_of(args[0]) if args else None
        if shape and len(shape) not in (3, 4):
            return f"expected images of shape (batch, channels, height, width), got shape {tuple(shape)}"
        return None

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Pool the images."""
        size, step, padding = self._settings()
        args = (input_, self.mode, size, step, padding, self.ignore_border, getattr(self, "include_padding", False))
        if isinstance(input_, Variable):
            return call(_pool, *args)
        return _pool(*args)


class MaxPooling(Pooling):
    """Max pooling (``step`` defaults to ``pooling_size``; ``ignore_border=False`` keeps partial windows).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MaxPooling
    >>> MaxPooling((3, 3), step=(2, 2)).apply(torch.zeros(1, 1, 7, 7)).shape
    torch.Size([1, 1, 3, 3])
    """

    mode = "max"


class AveragePooling(Pooling):
    """Average pooling; ``include_padding`` counts padded zeros in the average.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import AveragePooling
    >>> AveragePooling((2, 2)).apply(torch.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    mode = "average"

    @lazy(allocation=["pooling_size"])
    def __init__(self, pooling_size: Any, include_padding: bool = False, **kwargs: Any) -> None:
        super().__init__(pooling_size=pooling_size, **kwargs)
        self.include_padding = include_padding


class Flattener(Brick):
    """Flatten everything but the first (batch) axis.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Flattener
    >>> Flattener().apply(torch.zeros(2, 3, 4, 5)).shape
    torch.Size([2, 60])
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_: Any) -> Any:
        """Flatten to ``(batch, features)``."""
        return torch.flatten(input_, 1)


def _number_colliding_default_names(bricks: Sequence[Any]) -> None:
    """Name ``<name>_0``, ``<name>_1``, ... the bricks whose default names collide (chosen names stay).

    Without it, unnamed layers of one class get one name and their parameters
    one hierarchical name (``/convolutionalsequence/convolutional.W`` twice),
    which training refuses. A brick whose name is not shared keeps it, so its
    checkpoints still load; numbers taken by other names are skipped.
    """
    unique = list({id(brick): brick for brick in bricks if isinstance(brick, Brick)}.values())
    taken = {brick.name for brick in unique}
    groups: dict[str, list[Any]] = {}
    for brick in unique:
        groups.setdefault(brick.name, []).append(brick)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        index = 0
        for brick in members:
            if not brick.name_is_default:
                continue
            while f"{name}_{index}" in taken:
                index += 1
            object.__setattr__(brick, "name", f"{name}_{index}")  # still a default name: name_is_default stays
            taken.add(brick.name)
            index += 1


class ConvolutionalSequence(BrickSequence, Initializable, Feedforward):
    """A sequence of convolutional layers propagating channels and image size during allocation.

    Layers left unnamed whose default names collide (two ``Convolutional()``)
    are numbered ``convolutional_0``, ``convolutional_1``, ... so that their
    parameters have distinct hierarchical names; names you give are kept, and
    a layer whose name is not shared keeps it.

    Parameters
    ----------
    layers : list of Brick or BoundApplication
        Convolutional, ConvolutionalTranspose, pooling, (spatial) batch
        normalization and element-wise activation bricks.
    num_channels : int
        Lazy; inferred from the first input.
    batch_size : int, optional
    image_size : (int or None, int or None)
    border_mode, tied_biases : optional
        Pushed to the convolutional layers only when given.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import ConvolutionalSequence, Convolutional, MaxPooling, Rectifier
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> net = ConvolutionalSequence([Convolutional((5, 5), 6), Rectifier(), MaxPooling((2, 2)),
    ...                              Convolutional((5, 5), 16), Rectifier(), MaxPooling((2, 2))],
    ...                             num_channels=1, image_size=(28, 28),
    ...                             weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> net.push_allocation_config()
    >>> net.get_dim("output")
    (16, 4, 4)
    """

    @lazy(allocation=["num_channels"])
    def __init__(self, layers: Sequence[Any], num_channels: int, batch_size: int | None = None,
                 image_size: Any = (None, None), border_mode: Any = None, tied_biases: bool | None = None,
                 **kwargs: Any) -> None:
        self.layers = [layer.brick if isinstance(layer, BoundApplication) else layer for layer in layers]
        _number_colliding_default_names(self.layers)
        explicit_use_bias = kwargs.get("use_bias")
        super().__init__([layer.apply if isinstance(layer, Brick) else layer for layer in layers], **kwargs)
        self.num_channels = num_channels
        self.batch_size = batch_size
        self.image_size = image_size
        self.border_mode = border_mode
        self.tied_biases = tied_biases
        self._explicit_use_bias = explicit_use_bias

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "input"):
            return (self.num_channels, *_pair(self.image_size or (None, None), "image_size"))
        if name == "output":
            if not self.allocation_config_pushed:
                self.push_allocation_config()
            dims = self.get_dim("input_")
            for layer in self.layers:
                if hasattr(layer, "get_dim") and not isinstance(layer, Activation):
                    try:
                        dims = layer.get_dim("output")
                    except ValueError:
                        continue
            return dims
        return super().get_dim(name)

    @property
    def input_dim(self) -> Any:
        return self.get_dim("input_")

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        if value:
            self.num_channels = value[0]
            self.image_size = tuple(value[1:])

    @property
    def output_dim(self) -> Any:
        return self.get_dim("output")

    @staticmethod
    def _output_dims(layer: Any) -> tuple[Any, ...]:
        """A layer's output dims; unknown (``None``) while it lacks settings of its own (``filter_size``), as in
        Blocks, so settings are still pushed to every layer."""
        if [name for name in layer._missing_allocation() if name not in ("num_channels", "input_dim")]:
            return (None, None, None)
        return layer.get_dim("output")

    def _push_allocation_config(self) -> None:
        from blocks.bricks.bn import BatchNormalization

        channels = self.num_channels
        image_size = _pair(self.image_size if self.image_size is not None else (None, None), "image_size")
        for layer in self.layers:
            if isinstance(layer, Convolutional):
                if self.border_mode is not None:
                    layer.border_mode = self.border_mode
                if self.tied_biases is not None:
                    layer.tied_biases = self.tied_biases
                if self._explicit_use_bias is not None:
                    layer.use_bias = self._explicit_use_bias
                layer.num_channels = channels
                layer.image_size = image_size
                layer.batch_size = self.batch_size
                channels, *size = self._output_dims(layer)
            elif isinstance(layer, Pooling):
                layer.input_dim = (channels, *image_size)
                channels, *size = self._output_dims(layer)
            elif isinstance(layer, BatchNormalization):
                layer.input_dim = (channels, *image_size)
                continue
            else:
                continue
            image_size = (size[0], size[1])

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        shape = shape_of(args[0]) if args else None
        if shape and len(shape) == 4:
            if not self.num_channels and shape[1] is not None:
                self.num_channels = shape[1]
            if tuple(self.image_size or (None, None)) == (None, None):
                self.image_size = (shape[2], shape[3])

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        return None

