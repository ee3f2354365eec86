"""The CUDA backend: device selection, cuDNN/TF32 switches, mixed precision and
overlapped host-to-device copies.

Imported only when the backend is used (the plugin module registers it as a
lazy string), so a CPU-only machine never loads CUDA.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import numpy
import torch

from blocks.backends.base import Backend, Prefetcher

__all__ = ["CUDABackend", "CUDAPrefetcher"]


class CUDABackend(Backend):
    """Compute on an NVIDIA GPU.

    Parameters
    ----------
    device : str
        ``"cuda"`` (the current device) or ``"cuda:N"``.
    floatX : str, optional
        Default float dtype (defaults to the ``floatX`` option).
    precision : {"float32", "bf16", "fp16"}
        ``bf16`` autocasts the forward pass to bfloat16; ``fp16`` to float16
        with dynamic loss scaling (:class:`blocks.backends.LossScaler`).
    cudnn_benchmark : bool
        Let cuDNN autotune convolution algorithms (fixed input shapes).
    allow_tf32 : bool
        Allow TF32 tensor cores for float32 matmuls and convolutions.
    pin_memory : bool
        Copy batches from pinned host memory, asynchronously, on a side stream
        (see :class:`CUDAPrefetcher`).

    Examples
    --------
    >>> from blocks.backends import get_backend   # doctest: +SKIP
    >>> backend = get_backend("cuda:0", precision="bf16")  # doctest: +SKIP
    >>> model = backend.place_module(model)  # doctest: +SKIP
    """

    name = "cuda"

    def __init__(
        self,
        device: str | torch.device = "cuda",
        *,
        floatX: str | None = None,
        precision: str = "float32",
        cudnn_benchmark: bool = True,
        allow_tf32: bool = True,
        pin_memory: bool = True,
    ):
        device = torch.device(device)
        if device.type != "cuda":
            raise ValueError(f"the cuda backend serves 'cuda' or 'cuda:N' devices, not {str(device)!r}")
        if not torch.cuda.is_available():
            raise ValueError("CUDA is not available on this machine; use device 'cpu' or 'auto'")
        index = torch.cuda.current_device() if device.index is None else device.index
        if not 0 <= index < torch.cuda.device_count():
            raise ValueError(f"device cuda:{index} does not exist; devices: {', '.join(self.devices())}")
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"cuda:{index} does not support bfloat16; use precision 'fp16' or 'float32'")
        super().__init__(torch.device("cuda", index), floatX=floatX, precision=precision)
        torch.cuda.set_device(self.device)
        self.cudnn_benchmark = cudnn_benchmark
        self.allow_tf32 = allow_tf32
        self.pin_memory = pin_memory
        torch.backends.cudnn.benchmark = cudnn_benchmark
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32

    @classmethod
    def is_available(cls) -> bool:
        return torch.cuda.is_available()

    @classmethod
    def devices(cls) -> list[str]:
        if not torch.cuda.is_available():
            return []
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        props = torch.cuda.get_device_properties(self.device)
        info.update(
            name=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
            cudnn=torch.backends.cudnn.version(),
            cudnn_benchmark=self.cudnn_benchmark,
            allow_tf32=self.allow_tf32,
            pin_memory=self.pin_memory,
        )
        return info

    def prefetch(self, iterator: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """Pinned memory and side-stream copies (:class:`CUDAPrefetcher`), or plain read-ahead without pinning."""
        if isinstance(iterator, Prefetcher):
            return iterator
        return CUDAPrefetcher(iterator, self) if self.pin_memory else super().prefetch(iterator)

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)


class CUDAPrefetcher(Prefetcher):
    """Copy the next batch to the GPU on a side stream while the current one trains.

    The AlexNet paper's loader did this with a separate process; here the copy of
    batch ``i + 1`` is queued on its own CUDA stream from pinned host memory as
    soon as batch ``i`` is handed out, so it overlaps batch ``i``'s compute. The
    consumer's stream (the current stream when the prefetcher is made) waits on
    an event before using a batch, and each tensor records the consumer stream so
    its memory is not reused too early. Batches smaller than
    :attr:`SIDE_STREAM_BYTES` are copied on the consumer's stream instead: the
    copy is still asynchronous to the host and takes microseconds on the GPU,
    while a side stream's event and bookkeeping would cost the host more than
    the overlap saves. As a :class:`~blocks.backends.Prefetcher`, its
    ``state_dict()`` is the position of the batches handed out: checkpoints stay
    exact although one batch is read ahead.

    Parameters
    ----------
    iterator : iterable of mappings
        Batches of numpy arrays or CPU tensors (source name → array).
    backend : CUDABackend
        Target device and dtype policy.

    Examples
    --------
    >>> for batch in CUDAPrefetcher(stream.get_epoch_iterator(as_dict=True), backend):  # doctest: +SKIP
    ...     algorithm.process_batch(batch)
    """

    SIDE_STREAM_BYTES = 1 << 20
    """Batches of at least this many bytes are copied on the side stream."""

    def __init__(self, iterator: Iterable[Mapping[str, Any]], backend: CUDABackend):
        self._backend = backend
        self._stream = torch.cuda.Stream(device=backend.device)
        self._consumer = torch.cuda.current_stream(backend.device)
        super().__init__(iterator, self._copy_async)

    @staticmethod
    def _pinned(value: Any) -> torch.Tensor:
        if isinstance(value, numpy.ndarray):
            if value.dtype == object:
                raise ValueError("cannot copy an object array (ragged data) to the GPU; pad it first")
            tensor = torch.from_numpy(numpy.ascontiguousarray(value))
        elif isinstance(value, torch.Tensor):
            tensor = value
        else:
            tensor = torch.as_tensor(value)
        if tensor.device.type == "cpu" and not tensor.is_pinned():
            tensor = tensor.pin_memory()
        return tensor

    def _copy_async(self, batch: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], torch.cuda.Event | None]:
        pinned = {name: self._pinned(value) for name, value in batch.items()}
        to_tensor = self._backend.to_tensor
        if sum(t.nbytes for t in pinned.values()) < self.SIDE_STREAM_BYTES:
            return {name: to_tensor(t, non_blocking=True) for name, t in pinned.items()}, None
        with torch.cuda.stream(self._stream):
            placed = {name: to_tensor(t, non_blocking=True) for name, t in pinned.items()}
            event = torch.cuda.Event()
            event.record(self._stream)
        return placed, event

    def _finish(self, item: tuple[dict[str, torch.Tensor], torch.cuda.Event | None]) -> dict[str, torch.Tensor]:
        batch, event = item
        if event is None:  # copied on the consumer's stream: already in order
            return batch
        consumer = self._consumer
        consumer.wait_event(event)
        for tensor in batch.values():
            tensor.record_stream(consumer)
        return batch
