"""Data parallelism on torch.distributed (NCCL on GPUs, gloo on CPUs).

Launch a training script with ``torchrun --nproc-per-node N script.py`` (one
or several machines). In the script:

* :func:`init_distributed` joins the process group torchrun describes
  (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...), picking NCCL for CUDA
  devices and gloo otherwise;
* :func:`shard_scheme` gives each rank its part of every global batch
  (:class:`fuel.schemes.ShardedScheme`), so the global order does not depend
  on the number of ranks and a checkpoint taken under N ranks resumes under M;
* :func:`wrap_module` wraps the module that computes the cost in
  :class:`torch.nn.parallel.DistributedDataParallel`, which averages gradients
  across ranks during the backward pass; :func:`example_share` rescales each
  rank's mean cost first, so that average is weighted by examples and equals
  the gradient of one process on the global batch even when the shards are
  uneven (a global batch not divisible by the number of ranks, the last
  partial batch);
* :func:`count_examples` is the one rule that says how many examples a batch
  holds (for the gradient weights and for monitoring);
* :func:`ranks_where` tells every rank on which ranks a condition holds (the
  main loop's non-finite guard decides together with it);
* :class:`InterruptVote` lets the ranks stop on the same batch when a signal
  (SIGTERM from a scheduler, Ctrl-C) reaches only some of them, or reaches
  them on different batches;
* :func:`all_gather_state` collects every rank's partial aggregates (exact
  counts, float64 sums) so monitoring combines them as one process would;
  :func:`is_main_process` decides who writes logs and checkpoints;
  :func:`all_gather_json` collects every rank's data position without
  pickling anything.

Everything degrades to the single-process behaviour when no process group is
initialized, so the same script runs with and without torchrun.

Every collective here keeps the tensors it gave the process group alive until
the group has let go of them (``_keep``). A gloo collective runs on a worker
thread of the group, which drops its references a moment *after* the caller
is woken. A temporary tensor the caller drops first is kept alive for the
worker, which then frees it under the GIL; if that happens while the
interpreter shuts down, the worker thread is stopped inside a C++ destructor
and the whole process aborts (``terminate called without an active
exception``, exit status 134) after a run that succeeded. The worker threads
outlive :func:`destroy_distributed` whenever
:class:`~torch.nn.parallel.DistributedDataParallel` was used (PyTorch keeps
its process group alive), so every data-parallel run was exposed. Kept
tensors are dropped on the calling thread, by the next collective, by
:func:`destroy_distributed` or at exit, which wait for the workers to let go.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
import logging
import os
import threading
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy
import torch
import torch.distributed as dist

__all__ = [
    "all_gather_json",
    "all_gather_state",
    "all_reduce_mean",
    "barrier",
    "broadcast_parameters",
    "collective_state_dict",
    "count_examples",
    "destroy_distributed",
    "example_share",
    "init_distributed",
    "InterruptVote",
    "is_distributed",
    "is_main_process",
    "is_state_dict_collective",
    "rank",
    "ranks_where",
    "shard_scheme",
    "world_size",
    "wrap_module",
]

logger = logging.getLogger(__name__)


_LET_GO_TIMEOUT = 2.0  # seconds; a worker thread normally lets go within microseconds
_HELD: list[tuple[torch.Tensor, int]] = []  # tensors a worker thread may still hold, with their own count
_HELD_LOCK = threading.Lock()


def _holders(tensors: Sequence[torch.Tensor]) -> list[int]:
    """How many references hold each tensor now (``Tensor._use_count``; 0 where unknown)."""
    return [tensor._use_count() if hasattr(tensor, "_use_count") else 0 for tensor in tensors]


def _still_held(pairs: Iterable[tuple[torch.Tensor, int]]) -> list[tuple[torch.Tensor, int]]:
    """The ``(tensor, count)`` pairs whose tensor is held by more references than its counted ones (0: unknown)."""
    return [(tensor, count) for tensor, count in pairs if count and tensor._use_count() > count]


def _keep(tensors: Sequence[torch.Tensor], holders: Sequence[int]) -> None:
    """Keep ``tensors`` alive here while a worker thread still holds them beyond ``holders`` (see the module notes).

    Tensors kept by earlier collectives and since let go are dropped now, on
    this thread; nothing waits.
    """
    with _HELD_LOCK:
        _HELD[:] = _still_held(_HELD) + _still_held(zip(tensors, holders))


def _release_held(timeout: float | None = None) -> None:
    """Wait until the worker threads let go of every kept tensor, and drop them here.

    :func:`destroy_distributed` calls it, and so does the interpreter at exit
    (``atexit``, while threads may still take the GIL). Gives up, with a debug
    message, after ``timeout`` (``_LET_GO_TIMEOUT``) seconds.
    """
    deadline = time.monotonic() + (_LET_GO_TIMEOUT if timeout is None else timeout)
    while True:
        with _HELD_LOCK:
            _HELD[:] = _still_held(_HELD)
            if not _HELD:
                return
        if time.monotonic() > deadline:
            logger.debug("%d tensor(s) of collectives are still held by the process group", len(_HELD))
            return
        time.sleep(0.001)  # the worker thread needs no GIL to let go: the tensors are alive here


atexit.register(_release_held)


def _collective(operation: Any, tensors: Sequence[torch.Tensor], *args: Any, **kwargs: Any) -> None:
    """Run the blocking collective ``operation(*args, **kwargs)`` over ``tensors``; keep them while still held."""
    holders = _holders(tensors)
    operation(*args, **kwargs)
    _keep(tensors, holders)


def is_distributed() -> bool:
    """Whether a process group is initialized with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """Whether this process writes logs and checkpoints (rank 0)."""
    return rank() == 0


def init_distributed(
    backend: str | None = None,
    *,
    device: str | torch.device | None = None,
    init_method: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    timeout: datetime.timedelta | None = None,
) -> bool:
    """Join the process group described by torchrun's environment.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Communication backend; default NCCL for a CUDA ``device``, gloo otherwise.
    device : str or torch.device, optional
        The device this rank trains on.
    init_method : str, optional
        Rendezvous URL (default ``env://``: torchrun's variables).
    rank, world_size : int, optional
        Override the environment (tests).
    timeout : datetime.timedelta, optional
        How long a collective waits for the other ranks before it fails
        (torch's default: 30 minutes for gloo, 10 for NCCL). A rank that
        fails alone leaves its peers waiting in their next collective for
        that long: a shorter timeout makes such a run fail sooner.

    Returns
    -------
    bool
        ``True`` if a process group was initialized, ``False`` when the
        environment describes a single process (no torchrun): training then
        runs exactly as without this call.

    Examples
    --------
    >>> init_distributed()  # outside torchrun: nothing to join
    False
    """
    if timeout is not None and (not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0):
        raise ValueError(f"timeout must be a positive datetime.timedelta, got {timeout!r}")
    if dist.is_initialized():
        return True
    env_world = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size is None and env_world <= 1 and init_method is None:
        return False
    if not dist.is_available():
        raise ValueError("torch.distributed is not available in this torch build; run without torchrun")
    device = torch.device(device) if device is not None else None
    if backend is None:
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend not in {"gloo", "nccl"}:
        raise ValueError(f"distributed backend must be 'gloo' or 'nccl', got {backend!r}")
    kwargs: dict[str, Any] = {"backend": backend, "init_method": init_method or "env://"}
    if rank is not None:
        kwargs["rank"] = rank
    if world_size is not None:
        kwargs["world_size"] = world_size
    if timeout is not None:
        kwargs["timeout"] = timeout
    if device is not None and device.type == "cuda":
        kwargs["device_id"] = device
    dist.init_process_group(**kwargs)
    logger.info("joined process group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return True


def destroy_distributed() -> None:
    """Leave the process group, if any, once every rank has reached this point.

    The ranks meet at a barrier first: a rank that tears its connections down
    while a peer is still finishing its last collective can make the peer's
    Gloo worker thread abort the process (``terminate called without an
    active exception``). The tensors earlier collectives kept (see the module
    notes) are dropped first, once the group's worker threads let go of them.
    """
    _release_held()
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        except RuntimeError as error:  # a peer already gone: leave anyway
            logger.warning("leaving the process group without a final barrier: %s", error)
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if is_distributed():
        dist.barrier()


def shard_scheme(scheme: Any, num_shards: int | None = None, shard: int | None = None) -> Any:
    """This rank's part of every request of a batch scheme.

    Parameters
    ----------
    scheme : fuel.schemes.BatchScheme
        The global scheme (global batch size).
    num_shards, shard : int, optional
        Default to :func:`world_size` and :func:`rank`.

    Returns
    -------
    fuel.schemes.ShardedScheme
        The same global order on any number of ranks.
    """
    from fuel.schemes import ShardedScheme

    return ShardedScheme(scheme, world_size() if num_shards is None else num_shards, rank() if shard is None else shard)


def broadcast_parameters(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            data = tensor.data
            _collective(dist.broadcast, [data], data, src)


def wrap_module(module: torch.nn.Module, **ddp_options: Any) -> torch.nn.Module:
    """Wrap ``module`` in DistributedDataParallel when running distributed.

    Gradients are averaged across ranks during ``backward`` (bucketed, overlapped
    with the backward pass). Without a process group the module is returned
    unchanged.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose forward computes the cost (e.g. the compiled graph).
    **ddp_options
        Passed to :class:`~torch.nn.parallel.DistributedDataParallel`.
    """
    if not is_distributed():
        return module
    from torch.nn.parallel import DistributedDataParallel

    params = list(module.parameters())
    if params and params[0].device.type == "cuda":
        ddp_options.setdefault("device_ids", [params[0].device])
    return DistributedDataParallel(module, **ddp_options)


def _collective_device() -> torch.device:
    """Where collectives run: the current CUDA device under NCCL, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_mean(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Average tensors across ranks, unweighted (one collective for all of them).

    Right for values that are the same on every rank or where every rank
    stands for the same number of examples; monitoring does not use it: it
    combines exact counts and sums with :func:`all_gather_state`.

    Examples
    --------
    >>> all_reduce_mean({"cost": torch.tensor(2.0)})["cost"]
    tensor(2.)
    """
    if not is_distributed() or not values:
        return dict(values)
    names = list(values)
    device = _collective_device()
    flat = torch.cat([values[n].detach().reshape(-1).to(device=device, dtype=torch.float64) for n in names])
    _collective(dist.all_reduce, [flat], flat, op=dist.ReduceOp.SUM)
    flat /= world_size()
    out, offset = {}, 0
    for name in names:
        v = values[name]
        out[name] = flat[offset : offset + v.numel()].reshape(v.shape).to(device=v.device, dtype=v.dtype)
        offset += v.numel()
    return out


def ranks_where(flag: bool) -> list[int]:
    """The ranks on which ``flag`` is true, in rank order: the same list on every rank.

    One all-reduce (``MAX``) of ``world_size`` small integers on the
    collective device. Every rank must call it at the same point of its
    run, like any collective. Without a process group (or with one rank) no
    collective runs: the result is ``[rank()]`` or ``[]``.

    Examples
    --------
    >>> ranks_where(True), ranks_where(False)
    ([0], [])
    """
    if not is_distributed():
        return [rank()] if flag else []
    flags = torch.zeros(world_size(), dtype=torch.int32, device=_collective_device())
    if flag:
        flags[rank()] = 1
    _collective(dist.all_reduce, [flags], flags, op=dist.ReduceOp.MAX)
    return [index for index, value in enumerate(flags.tolist()) if value]


def _all_gather_bytes(data: bytes) -> list[bytes]:
    """Every rank's ``data`` in rank order (two collectives: the lengths, then the padded bytes)."""
    device = _collective_device()
    payload = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device) if data else torch.zeros(
        0, dtype=torch.uint8, device=device)
    size = torch.tensor([payload.numel()], device=device)
    sizes = [torch.zeros_like(size) for _ in range(world_size())]
    _collective(dist.all_gather, [size, *sizes], sizes, size)
    lengths = [int(s.item()) for s in sizes]
    padded = torch.zeros(max(max(lengths), 1), dtype=torch.uint8, device=device)
    padded[: payload.numel()] = payload
    gathered = [torch.zeros_like(padded) for _ in range(world_size())]
    _collective(dist.all_gather, [padded, *gathered], gathered, padded)
    return [bytes(g[:length].cpu().numpy().tobytes()) for g, length in zip(gathered, lengths)]


def all_gather_json(obj: Any) -> list[Any]:
    """Gather one JSON-able object from every rank, in rank order (no pickle).

    Examples
    --------
    >>> all_gather_json({"position": 3})
    [{'position': 3}]
    """
    if not is_distributed():
        return [obj]
    return [json.loads(data.decode("utf-8")) for data in _all_gather_bytes(json.dumps(obj).encode("utf-8"))]


_TENSOR_KEY = "__tensor__"


def _encode_state(obj: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors.append(obj.detach())
        return {_TENSOR_KEY: len(tensors) - 1}
    if isinstance(obj, numpy.ndarray):
        return _encode_state(torch.from_numpy(numpy.ascontiguousarray(obj)), tensors)
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        if _TENSOR_KEY in obj:
            raise ValueError(f"a state to gather may not use the key {_TENSOR_KEY!r}")
        return {str(key): _encode_state(value, tensors) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode_state(value, tensors) for value in obj]
    return obj


def _decode_state(obj: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR_KEY}:
            return tensors[obj[_TENSOR_KEY]]
        return {key: _decode_state(value, tensors) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_decode_state(value, tensors) for value in obj]
    return obj


def _pack_state(obj: Any) -> bytes:
    tensors: list[torch.Tensor] = []
    tree = _encode_state(obj, tensors)
    chunks, layout, offset = [], [], 0
    for tensor in tensors:
        raw = tensor.contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
        layout.append({"dtype": str(tensor.dtype).removeprefix("torch."), "shape": list(tensor.shape),
                       "offset": offset, "nbytes": len(raw)})
        chunks.append(raw)
        offset += len(raw)
    header = json.dumps({"state": tree, "tensors": layout}, allow_nan=True).encode("utf-8")
    return len(header).to_bytes(8, "little") + header + b"".join(chunks)


def _unpack_state(data: bytes) -> Any:
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    body = data[8 + length :]
    tensors = []
    for info in header["tensors"]:
        raw = bytearray(body[info["offset"] : info["offset"] + info["nbytes"]])
        flat = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
        tensors.append(flat.view(getattr(torch, info["dtype"])).reshape(info["shape"]))
    return _decode_state(header["state"], tensors)


def all_gather_state(obj: Any) -> list[Any]:
    """Gather a state (dicts, lists, numbers, strings and tensors) from every rank, in rank order.

    Tensors travel as their raw bytes with their dtype and shape, so counts and
    float64 sums arrive exactly; they come back on the CPU. Nothing is pickled.
    Without a process group the result is ``[obj]``.

    Examples
    --------
    >>> all_gather_state({"total": torch.tensor(2.5, dtype=torch.float64), "examples": 7})
    [{'total': tensor(2.5000, dtype=torch.float64), 'examples': 7}]
    """
    if not is_distributed():
        return [obj]
    return [_unpack_state(data) for data in _all_gather_bytes(_pack_state(obj))]


_LOCAL = threading.local()


@contextlib.contextmanager
def collective_state_dict() -> Iterator[None]:
    """Mark the ``state_dict()`` calls inside as made by every rank together, in the same order.

    :func:`blocks.serialization.save_checkpoint` enters it when every rank
    takes part in a checkpoint. Inside, an extension may combine its
    per-rank state with collectives (``TrainingDataMonitoring`` stores the
    aggregates of all ranks, so a resumed run, under any number of ranks,
    reads out what one process would). Outside (one rank saving after an
    error, a user's own call) it must not: a peer that never joins would
    wait forever.

    Examples
    --------
    >>> with collective_state_dict():
    ...     is_state_dict_collective()  # False without a process group
    False
    """
    previous = getattr(_LOCAL, "collective", False)
    _LOCAL.collective = True
    try:
        yield
    finally:
        _LOCAL.collective = previous


def is_state_dict_collective() -> bool:
    """Whether this ``state_dict()`` call runs on every rank together (see :func:`collective_state_dict`)."""
    return getattr(_LOCAL, "collective", False) and is_distributed()


def count_examples(batch: Mapping[str, Any], sources: Any = None) -> int:
    """The number of examples in ``batch``: the length of axis 0 (Fuel's batch axis) of its sources.

    The one rule data parallelism uses to weight the ranks: the gradients
    (:class:`~blocks.algorithms.GradientDescent`) and the monitored aggregates.

    Parameters
    ----------
    batch : mapping
        Source name -> array, tensor or sequence.
    sources : iterable of str, optional
        Count only these sources (default: all). Sources without an axis
        (0-d values) are skipped.

    Raises
    ------
    ValueError
        When the sources disagree on their length along axis 0 (time-major
        sequences next to per-sequence sources: say what to count with
        ``GradientDescent(mean_over=...)``), or when none has an axis.

    Examples
    --------
    >>> import numpy
    >>> count_examples({"features": numpy.zeros((5, 3)), "targets": numpy.zeros(5)})
    5
    """
    lengths: dict[str, int] = {}
    for name in batch if sources is None else sources:
        value = batch[name]
        shape = getattr(value, "shape", None)
        if shape is not None:
            if len(shape):
                lengths[name] = int(shape[0])
        elif hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
            lengths[name] = len(value)
    if not lengths:
        raise ValueError(f"cannot count the examples of a batch whose sources {sorted(batch)} have no axis")
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"the batch's sources disagree on the number of examples along axis 0 ({lengths}): it is not clear "
            "how many examples the batch holds (time-major sequences put time on axis 0). Pass "
            "GradientDescent(mean_over=...) a function of the batch that returns what the cost is a mean over"
        )
    return next(iter(lengths.values()))


def example_share(count: int | float | torch.Tensor) -> torch.Tensor:
    """``count * world_size / (count summed over the ranks)``: this rank's weight in a data-parallel gradient.

    DistributedDataParallel averages the ranks' gradients, ``(1/W) sum_r g_r``.
    When rank ``r``'s cost is a mean over ``n_r`` examples, the gradient of the
    mean over the global batch of ``N = sum_r n_r`` examples is
    ``sum_r (n_r / N) g_r``: multiplying each rank's cost by ``n_r W / N``
    before the backward pass makes DDP's average exactly that, shards even or
    not. One all-reduce of one number; a ``count`` given as a tensor stays on
    the device (no host synchronisation).

    Returns
    -------
    torch.Tensor
        A 0-d float64 tensor on the collective device (``1`` without a process group).

    Examples
    --------
    >>> example_share(8)  # one process: every example is this rank's
    tensor(1., dtype=torch.float64)
    """
    if not is_distributed():
        return torch.ones((), dtype=torch.float64)
    device = _collective_device()
    if isinstance(count, torch.Tensor):
        local = count.detach().to(device=device, dtype=torch.float64).reshape(1)
    else:
        local = torch.full((1,), float(count), dtype=torch.float64, device=device)
    total = local.clone()
    _collective(dist.all_reduce, [total], total, op=dist.ReduceOp.SUM)
    return (local * world_size() / total).reshape(())


_CONTROL_GROUPS: dict[int, Any] = {}


def _control_group() -> Any:
    """A gloo group of every rank for small CPU control messages (``None``: the default group is gloo).

    Made once per process group; every rank must ask at the same point (group creation is collective).
    """
    if dist.get_backend() == "gloo":
        return None
    key = id(dist.group.WORLD)
    if key not in _CONTROL_GROUPS:
        _CONTROL_GROUPS[key] = dist.new_group(backend="gloo")
    return _CONTROL_GROUPS[key]


class InterruptVote:
    """Agree, batch by batch, on the strongest interrupt any rank received.

    Each rank posts its own code (0: none, 1: finish after this epoch, 2:
    finish after this batch) after every batch, as one asynchronous
    all-reduce (``MAX``) of one integer over a gloo group on the CPU (no
    device synchronisation), and reads the result of the previous batch's
    post. Every rank therefore learns of a signal on the same batch, one batch
    after it was posted, and stops there together, whichever ranks the signal
    reached and when: a rank stopping alone would leave the others waiting
    in their next collective until the group's timeout. Build it on every
    rank at the same point (it may create a process group).

    Examples
    --------
    >>> InterruptVote.needed()  # one process: no vote
    False
    """

    __slots__ = ("_group", "_holders", "_tensor", "_work")

    def __init__(self) -> None:
        self._group = _control_group()
        self._tensor = torch.zeros(1, dtype=torch.int32)
        self._holders = _holders([self._tensor])
        self._work: Any = None

    @staticmethod
    def needed() -> bool:
        """Whether several ranks must vote (an initialized process group of more than one process)."""
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def exchange(self, code: int) -> int:
        """Post this rank's ``code``; return the ranks' maximum of the previous post (0 at the first)."""
        agreed = 0
        if self._work is not None:
            self._complete()
            agreed = int(self._tensor[0])
        self._tensor = torch.tensor([code], dtype=torch.int32)
        self._holders = _holders([self._tensor])
        self._work = dist.all_reduce(self._tensor, op=dist.ReduceOp.MAX, group=self._group, async_op=True)
        return agreed

    def close(self, wait: bool = True) -> None:
        """Complete the last post (every rank posted it too); ``wait=False`` abandons it (after an error)."""
        if self._work is not None and wait:
            self._complete()
        self._work = None

    def _complete(self) -> None:
        """Wait for the pending post; keep its tensor while the group's worker thread still holds it."""
        work, self._work = self._work, None
        work.wait()
        del work  # the work's result holds the tensor too
        _keep([self._tensor], self._holders)
