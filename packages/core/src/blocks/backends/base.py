"""The backend protocol: where tensors live and in which precision they compute.

A backend answers four questions for the training code, so that one script runs
unchanged on a CPU or a GPU (Theano's transparent GPU, done with plugins):

* which devices exist (:meth:`Backend.devices`);
* where bricks, batches and step-rule buffers go (:meth:`Backend.place_module`,
  :meth:`Backend.place_batch`, :meth:`Backend.place_tensors`);
* the default float dtype (``floatX``) of parameters and data;
* the mixed-precision policy (:meth:`Backend.autocast`, :class:`LossScaler`).

Backends are registered through ``register_backends`` and chosen by the
``select_backend`` hook (see :func:`blocks.backends.get_backend`).
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, Iterable, Iterator, Mapping

import numpy
import torch

__all__ = ["Backend", "LossScaler", "PRECISIONS", "Prefetcher"]

PRECISIONS = ("float32", "bf16", "fp16")
"""Mixed-precision policies: full precision, bfloat16 autocast, float16 autocast + loss scaling."""

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


class Backend(abc.ABC):
    """Placement, dtype and precision policy for one device.

    Parameters
    ----------
    device : str or torch.device
        The device this backend computes on.
    floatX : str, optional
        Default float dtype (``"float32"``, ``"float64"``, ...). Defaults to
        :data:`blocks.config.config.floatX`.
    precision : {"float32", "bf16", "fp16"}
        Mixed-precision policy of the forward pass.

    Examples
    --------
    >>> from blocks.backends import get_backend
    >>> backend = get_backend("cpu")
    >>> batch = backend.place_batch({"features": numpy.ones((2, 3))})
    >>> batch["features"].dtype, batch["features"].device.type
    (torch.float32, 'cpu')
    """

    name: str = ""

    def __init__(self, device: str | torch.device, *, floatX: str | None = None, precision: str = "float32"):
        if floatX is None:
            from blocks.config import config

            floatX = config.floatX
        if floatX not in _DTYPES:
            raise ValueError(f"floatX must be one of {', '.join(_DTYPES)}; got {floatX!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.device = torch.device(device)
        self.floatX = floatX
        self.precision = precision

    # -- discovery -----------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def is_available(cls) -> bool:
        """Whether this kind of device exists on this machine."""

    @classmethod
    @abc.abstractmethod
    def devices(cls) -> list[str]:
        """Names of the devices of this kind (``["cpu"]``, ``["cuda:0", ...]``)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (``blocks info`` prints it)."""
        return {"backend": self.name, "device": str(self.device), "floatX": self.floatX, "precision": self.precision}

    # -- dtype ---------------------------------------------------------------
    @property
    def float_dtype(self) -> torch.dtype:
        """The torch dtype of ``floatX``."""
        return _DTYPES[self.floatX]

    # -- placement -----------------------------------------------------------
    def place_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """Move a brick (any module) to the device and cast floats to ``floatX``."""
        return module.to(device=self.device, dtype=self.float_dtype)

    def to_tensor(self, value: Any, *, non_blocking: bool = False) -> torch.Tensor:
        """Convert one array to a tensor on the device; floats become ``floatX``."""
        if isinstance(value, numpy.ndarray):
            if value.dtype == object:
                raise ValueError(
                    "cannot place an object array (ragged data) on a device; pad it first "
                    "(fuel.transformers.Padding) or keep it out of the batch"
                )
            tensor = torch.from_numpy(numpy.ascontiguousarray(value))
        elif isinstance(value, torch.Tensor):
            tensor = value
        else:
            tensor = torch.as_tensor(value)
        if tensor.is_floating_point() and tensor.dtype != self.float_dtype:
            tensor = tensor.to(self.float_dtype)
        if tensor.device != self.device:
            tensor = tensor.to(self.device, non_blocking=non_blocking)
        return tensor

    def place_batch(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Convert a batch (source name → array) to tensors on the device."""
        return {name: self.to_tensor(value) for name, value in batch.items()}

    def place_tensors(self, tensors: Iterable[torch.Tensor]) -> None:
        """Move tensors (e.g. step-rule buffers) to the device, in place."""
        for tensor in tensors:
            if tensor.device != self.device:
                tensor.data = tensor.data.to(self.device)

    def prefetch(self, iterator: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """Overlap getting the next batch onto the device with training on the current one.

        Returns ``iterator`` itself when there is nothing to overlap (the CPU),
        else a :class:`Prefetcher` that reads one batch ahead and places it;
        its ``state_dict()`` is the position of the batches handed out, so a
        checkpoint never skips the batch read ahead. The main loop calls this
        on every epoch iterator.
        """
        if self.device.type == "cpu" or isinstance(iterator, Prefetcher):
            return iterator
        return Prefetcher(iterator, self.place_batch)

    # -- precision -----------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        """Context manager for the forward pass under the precision policy."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def make_loss_scaler(self) -> "LossScaler | None":
        """A :class:`LossScaler` for fp16, ``None`` otherwise."""
        return LossScaler() if self.precision == "fp16" else None

    def synchronize(self) -> None:
        """Wait for queued work on the device (no-op on CPU)."""

    def state_dict(self) -> dict[str, Any]:
        """Backend settings worth recording in a checkpoint."""
        return self.describe()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Backends are chosen by configuration; a checkpoint only records them."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(device={str(self.device)!r}, floatX={self.floatX!r}, precision={self.precision!r})"
        )


class LossScaler:
    """Dynamic loss scaling for float16 training that composes with step rules.

    The loss is multiplied by ``scale`` before the backward pass; gradients are
    divided by it before any step rule sees them. When a gradient is not
    finite, the step is skipped (all steps are zero) and the scale is halved;
    after ``growth_interval`` finite steps in a row it is doubled. The found-inf
    check is one device-side reduction: no host synchronisation per batch
    beyond reading one flag.

    Parameters
    ----------
    init_scale : float
        Initial scale (``2 ** 16``).
    growth_factor, backoff_factor : float
        Multipliers on growth and on overflow.
    growth_interval : int
        Finite steps between growths.

    Examples
    --------
    >>> scaler = LossScaler(init_scale=8.0)
    >>> grads = [torch.tensor([16.0, float("inf")])]
    >>> scaler.unscale_(grads)
    False
    >>> scaler.update(); scaler.scale
    4.0
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ):
        if init_scale <= 0 or growth_factor <= 1 or not 0 < backoff_factor < 1 or growth_interval < 1:
            raise ValueError(
                "LossScaler needs init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and growth_interval >= 1"
            )
        self.scale = float(init_scale)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self._good_steps = 0
        self._found_inf = False

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss to call ``backward`` on."""
        return loss * self.scale

    def unscale_(self, gradients: list[torch.Tensor]) -> bool:
        """Divide gradients by the scale in place; return whether all are finite."""
        if not gradients:
            self._found_inf = False
            return True
        torch._foreach_mul_(gradients, 1.0 / self.scale)
        norms = torch._foreach_norm(gradients)
        total = torch.stack([n.float() for n in norms]).sum()
        self._found_inf = not bool(torch.isfinite(total))
        return not self._found_inf

    def update(self) -> None:
        """Adjust the scale after a step (call once per batch)."""
        if self._found_inf:
            self.scale *= self.backoff_factor
            self._good_steps = 0
        else:
            self._good_steps += 1
            if self._good_steps >= self.growth_interval:
                self.scale *= self.growth_factor
                self._good_steps = 0

    @property
    def found_inf(self) -> bool:
        """Whether the last :meth:`unscale_` met a non-finite gradient."""
        return self._found_inf

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"scale": self.scale, "good_steps": self._good_steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.scale = float(state["scale"])
        self._good_steps = int(state["good_steps"])


_END = object()


class Prefetcher:
    """Read one batch ahead of the consumer, and report the consumer's position.

    Parameters
    ----------
    iterator : iterable
        An epoch iterator; when it has ``state_dict()`` (Fuel's do), the
        prefetcher's ``state_dict()`` is the wrapped iterator's state right
        after the last batch handed out, not after the batch read ahead, so
        resuming from it replays nothing and skips nothing.
    transfer : callable, optional
        Applied to each batch as it is read ahead (e.g. an asynchronous copy
        to a GPU); :meth:`_finish` completes it when the batch is handed out.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.schemes import SequentialScheme
    >>> from fuel.streams import DataStream
    >>> stream = DataStream(IndexableDataset({"x": numpy.arange(6)}), iteration_scheme=SequentialScheme(6, 2))
    >>> ahead = Prefetcher(stream.get_epoch_iterator(as_dict=True))
    >>> next(ahead)["x"].tolist(), ahead.state_dict()["position"]
    ([0, 1], 1)
    """

    def __init__(self, iterator: Iterable[Any], transfer: Any = None):
        self._source = iterator
        self._iterator = iter(iterator)
        self._transfer = transfer
        self._state = self._snapshot()
        self._next = self._read()

    def _snapshot(self) -> Any:
        state_dict = getattr(self._source, "state_dict", None)
        return state_dict() if state_dict is not None else None

    def _read(self) -> Any:
        try:
            batch = next(self._iterator)
        except StopIteration:
            return _END
        return batch if self._transfer is None else self._transfer(batch)

    def _finish(self, item: Any) -> Any:
        """Complete the transfer of a batch read ahead (the GPU prefetcher waits for its copy)."""
        return item

    def __iter__(self) -> "Prefetcher":
        return self

    def __next__(self) -> Any:
        item = self._next
        if item is _END:
            raise StopIteration
        self._state = self._snapshot()  # the wrapped iterator is exactly past the batch handed out
        self._next = self._read()
        return self._finish(item)

    def state_dict(self) -> Any:
        """The wrapped iterator's state at the consumer's position."""
        if self._state is None:
            raise ValueError(f"the wrapped iterator ({type(self._source).__name__}) has no state_dict(); "
                             "only Fuel epoch iterators can be checkpointed")
        return self._state

    def load_state_dict(self, state: Any) -> None:
        """Refused: load the state into the epoch iterator, then wrap it (reading ahead already happened)."""
        raise ValueError("load the state into the epoch iterator before it is wrapped in a Prefetcher")
