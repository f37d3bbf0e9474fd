"""torchrun / DistributedDataParallel plumbing. A single process is world_size 1 and pays nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """Join the process group torchrun describes in the environment (nccl on CUDA, gloo on CPU)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    world = World(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), size)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world


def local_device(device: torch.device, world: World) -> torch.device:
    """Under torchrun each process drives the GPU of its local rank."""
    if device.type == "cuda" and world.size > 1:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


def sum_across(totals: dict[str, torch.Tensor], world: World) -> dict[str, torch.Tensor]:
    """Sum every process's evaluation totals (tensors of any shape)."""
    if world.size == 1:
        return totals
    out = {}
    for key in sorted(totals):  # same order on every rank
        value = totals[key].clone()
        dist.all_reduce(value)
        out[key] = value
    return out


def agree(flag: bool, world: World) -> bool:
    """True on every process if it is true on any (a stop request, a NaN)."""
    if world.size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
