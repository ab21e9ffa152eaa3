"""Data parallelism on torch.distributed: one process per rank, gradients summed by all_reduce.

`torchrun --nproc-per-node N -m spiketime train ...` sets RANK, WORLD_SIZE, LOCAL_RANK
and MASTER_ADDR/PORT; `from_environment` joins the group (gloo on CPU, NCCL on CUDA).
Each global batch of B samples is split by rank (rank r takes positions r, r + N, ...
of the batch), every rank sums its samples' losses, and one all_reduce sums the
gradients, so every rank applies the gradient of the whole global batch: the same
update as one process with batch B, up to the order of floating-point additions.
We sum by hand rather than wrap the model in DistributedDataParallel because the
loss is a sum over samples (DDP averages) and slayer's delay clamping edits
parameters in place after each step, which DDP's hooks do not need to know about.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Comm:
    """This process's place in the group; world 1 is a plain single process."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def shard(self, idx):
        """This rank's share of one global batch (positions rank, rank + world, ...)."""
        return idx[self.rank::self.world]

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum `tensor` over ranks, in place; a no-op on one process."""
        if self.active:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def sum_gradients(self, model: torch.nn.Module) -> None:
        """One all_reduce of every parameter's gradient, flattened (missing ones count 0)."""
        if not self.active:
            return
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        self.sum_(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def launched() -> bool:
    """True when torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def from_environment(device: torch.device) -> Comm:
    """Join the process group torchrun describes; Comm() when not launched by it."""
    if not launched():
        return Comm()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Comm(rank=dist.get_rank(), world=dist.get_world_size())


def shutdown(comm: Comm) -> None:
    if comm.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
