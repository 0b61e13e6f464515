"""Data-parallel training over the processes torch's launcher starts: `torchrun
--nproc_per_node N -m humanoid_manip.cli train …` runs one process per GPU (or per CPU
process group, gloo), each on its own batches; gradients are averaged every step
(all-reduce), so every process holds the same weights. One process (no launcher) is the
plain loop, unchanged: the batch of step k is step k's, bit for bit.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


class DataParallel:
    """This process's place in a torchrun job (rank, world size); a no-op for one process."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self._owns_group = False

    @classmethod
    def from_env(cls) -> DataParallel:
        """Read torchrun's RANK, WORLD_SIZE, LOCAL_RANK (absent: one process)."""
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)),
                   int(env.get("LOCAL_RANK", 0)))

    @property
    def active(self) -> bool:
        return self.world > 1

    def __enter__(self) -> DataParallel:
        if self.active and not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(self.local_rank)  # "cuda" is this process's GPU
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self._owns_group = True
        return self

    def __exit__(self, *exc) -> None:
        if self._owns_group:
            dist.destroy_process_group()
            self._owns_group = False

    def batch_index(self, step: int) -> int:
        """Which batch (and augmentation draw) this process takes at `step`: its own."""
        return step * self.world + self.rank

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def same_weights(self, model: torch.nn.Module) -> None:
        """Every process starts from rank 0's weights."""
        if self.active:
            for t in model.state_dict().values():
                dist.broadcast(t, 0)

    def average_gradients(self, model: torch.nn.Module) -> None:
        if self.active:
            for p in model.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad.div_(self.world)

    def agree(self, value: int) -> int:
        """Rank 0's value, on every process (a step count fitted to a time budget)."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.int64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.broadcast(t, 0)
        return int(t.item())
