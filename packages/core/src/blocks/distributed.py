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
  across ranks during the backward pass;
* :func:`all_reduce_mean` averages monitored values; :func:`is_main_process`
  decides who writes logs and checkpoints; :func:`all_gather_json` collects
  every rank's data position without pickling anything.

Everything degrades to the single-process behaviour when no process group is
initialized, so the same script runs with and without torchrun.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Mapping

import torch
import torch.distributed as dist

__all__ = [
    "all_gather_json",
    "all_reduce_mean",
    "barrier",
    "broadcast_parameters",
    "destroy_distributed",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "rank",
    "shard_scheme",
    "world_size",
    "wrap_module",
]

logger = logging.getLogger(__name__)


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
    active exception``).
    """
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
            dist.broadcast(tensor.data, src)


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


def all_reduce_mean(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Average tensors across ranks (one collective for all of them).

    Examples
    --------
    >>> all_reduce_mean({"cost": torch.tensor(2.0)})["cost"]
    tensor(2.)
    """
    if not is_distributed() or not values:
        return dict(values)
    names = list(values)
    flat = torch.cat([values[n].detach().reshape(-1).to(torch.float64) for n in names])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size()
    out, offset = {}, 0
    for name in names:
        v = values[name]
        out[name] = flat[offset : offset + v.numel()].reshape(v.shape).to(v.dtype)
        offset += v.numel()
    return out


def all_gather_json(obj: Any) -> list[Any]:
    """Gather one JSON-able object from every rank, in rank order (no pickle).

    Examples
    --------
    >>> all_gather_json({"position": 3})
    [{'position': 3}]
    """
    if not is_distributed():
        return [obj]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    payload = torch.frombuffer(bytearray(json.dumps(obj).encode("utf-8")), dtype=torch.uint8).to(device)
    size = torch.tensor([payload.numel()], device=device)
    sizes = [torch.zeros_like(size) for _ in range(world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=torch.uint8, device=device)
    padded[: payload.numel()] = payload
    gathered = [torch.zeros_like(padded) for _ in range(world_size())]
    dist.all_gather(gathered, padded)
    return [json.loads(bytes(g[: int(s.item())].cpu().tolist()).decode("utf-8")) for g, s in zip(gathered, sizes)]
