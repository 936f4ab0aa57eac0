"""Data-parallel training under ``torchrun``: one run on N processes, same numbers as one.

``torchrun --nproc-per-node N -m qdsformer train ...`` starts N copies of the command; each reads
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` from its environment (torchrun's convention) and
:func:`context_from_env` joins them into one process group: gloo on CPU, NCCL on CUDA (each
rank on GPU ``LOCAL_RANK``). The configured ``data.batch_size`` stays the *global* batch: every
rank draws the same epoch-seeded global batch and keeps its contiguous slice
(:meth:`DistributedContext.shard`), and the loss of a slice is scaled by
``world * slice / global`` so that DDP's gradient average equals the one-process gradient of
the global batch. Evaluation is sharded the same way and summed across ranks. Rank 0 alone
writes the run folder; every rank resumes from the same checkpoint. Multi-node runs use
torchrun's usual rendezvous flags (``--nnodes``, ``--node-rank``, ``--rdzv-endpoint``); nothing
here changes for them.

Without torchrun the context is a single process and every method is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the run: rank, world size, and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def shard(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This rank's contiguous slice of each global-batch tensor (dimension 0)."""
        if not self.distributed:
            return tensors
        n = tensors[0].shape[0]
        start, stop = n * self.rank // self.world, n * (self.rank + 1) // self.world
        return tuple(t[start:stop] for t in tensors)

    def loss_scale(self, local: int, global_: int) -> float:
        """Factor on a slice's mean loss so DDP's gradient mean is the global batch's."""
        return self.world * local / global_ if self.distributed else 1.0

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum of ``tensor`` over ranks (in place; returned for chaining)."""
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_object(self, value):
        """Rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` wrapped in DistributedDataParallel when distributed."""
        if not self.distributed:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DDP wrapper (state dicts stay one-process compatible)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def context_from_env(device: torch.device) -> DistributedContext:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; else a one-process context.

    ``device`` is the configured device; under torchrun on CUDA each rank takes GPU
    ``LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext(device=device)
    rank = int(os.environ["RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistributedContext(rank=rank, world=world, device=device)
