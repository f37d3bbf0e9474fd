"""torchrun / DistributedDataParallel plumbing. A single process is world size 1 and pays nothing.

torchrun (or `seqtrain train --nproc N`) starts one process per GPU or CPU share and describes the group
in the environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Gradients travel through
DDP on the main backend (nccl on CUDA, gloo on CPU). Everything else the processes tell each other (a
stop request, a NaN, metric sums, an error) is small and goes through a gloo group on the CPU, so
agreeing never waits for a GPU.

A process must never be left waiting in a collective for one that has failed: code that may fail on
some processes only (a run directory only rank 0 claims, a checkpoint only rank 0 writes, a file one
machine lacks) runs inside `world.all_or_none()`, and every process then raises the same error.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from seqtrain.core.errors import Interrupted, SaidElsewhere, UserError


left_a_group = False  # this process was in a torchrun group and has left it (seqtrain.cli.main exits fast)


SEED_STRIDE = 1000  # process r draws from seed + SEED_STRIDE * r: its own stream, the same on every resume


@dataclass
class World:
    """This process's place in the group (rank 0 of 1 without torchrun) and everything done with the
    group, as one object: seeding, the DDP wrap, main-process-only work, and the small collectives."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1
    group: Any = None   # the CPU (gloo) group used for agreeing and summing

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def seed(self, base: int) -> None:
        """Seed torch for this process: `base` on the main one, a stream of its own on each other."""
        torch.manual_seed(base + SEED_STRIDE * self.rank)

    def device(self, device: torch.device) -> torch.device:
        """Under torchrun each process drives the GPU of its local rank."""
        if device.type != "cuda" or self.size == 1:
            return device
        count = torch.cuda.device_count()
        if self.local_rank >= count:
            raise UserError(f"train.device: process {self.rank} needs GPU {self.local_rank}, but this machine "
                            f"has {count}; start at most {count} processes per machine (--nproc-per-node)")
        return torch.device("cuda", self.local_rank)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The model as the step loop drives it: itself, or under DDP (gradients averaged)."""
        if self.size == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def on_main(self, work, *args, **kwargs):
        """Run `work` (a file write, a print) on the main process only; None elsewhere."""
        return work(*args, **kwargs) if self.is_main else None

    def agreed(self, error: Exception) -> "Agreed":
        """An error every process raises at the same point (a NaN, Ctrl-C): the main process reports it."""
        return Agreed(error, self.is_main)

    @contextlib.contextmanager
    def all_or_none(self):
        """Run a block that may fail on some processes only; if it fails anywhere, it fails everywhere.
        The lowest failing process reports its own exception; every other process leaves quietly
        (Agreed). The block itself must not hold collectives."""
        if self.size == 1:
            yield
            return
        error: BaseException | None = None
        try:
            yield
        except Exception as e:  # noqa: BLE001 - shared below, then raised again
            error = e
        message = None if error is None else (str(error) if isinstance(error, UserError)
                                              else f"{type(error).__name__}: {error}")
        failed = [(rank, m) for rank, m in enumerate(self.gather(message)) if m is not None]
        if not failed:
            return
        if self.rank == failed[0][0]:
            raise Agreed(error, speaks=True) from error
        raise Agreed(UserError(failed[0][1]), speaks=False) from None

    def broadcast(self, value):
        """The main process's `value` (any picklable object), on every process."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def gather(self, value) -> list:
        """Every process's `value`, in rank order, on every process."""
        if self.size == 1:
            return [value]
        values = [None] * self.size
        dist.all_gather_object(values, value, group=self.group)
        return values

    def sum_floats(self, values: list[float]) -> list[float]:
        """Element-wise sum of a list of numbers over all processes (one small CPU all-reduce)."""
        if self.size == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t, group=self.group)
        return t.tolist()

    def agree(self, flag: bool) -> bool:
        """True on every process if it is true on any (a stop request, a NaN)."""
        return flag if self.size == 1 else self.sum_floats([float(flag)])[0] > 0

    def sum_across(self, totals: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Sum every process's evaluation totals (CPU tensors of any shape). A process that saw no batch
        (a dev set smaller than the number of processes) has no totals and contributes zeros."""
        if self.size == 1:
            return totals
        shapes: dict[str, tuple] = {}
        for spec in self.gather({k: tuple(v.shape) for k, v in totals.items()}):
            shapes.update(spec)
        keys = sorted(shapes)  # the same order on every process
        flat = torch.cat([totals[k].reshape(-1).to(torch.float64) if k in totals
                          else torch.zeros(math.prod(shapes[k]), dtype=torch.float64) for k in keys])
        dist.all_reduce(flat, group=self.group)
        out, start = {}, 0
        for k in keys:
            n = math.prod(shapes[k])
            out[k] = flat[start:start + n].reshape(shapes[k])
            start += n
        return out


class Agreed(Exception):
    """Every process of the group raised `error` together, so they can still leave the group cleanly;
    the main process reports it (`speaks`), the others leave quietly."""

    def __init__(self, error: BaseException, speaks: bool):
        super().__init__(str(error))
        self.error, self.speaks = error, speaks

    def outcome(self) -> BaseException:
        """What this process raises to its caller: the error itself where it speaks, else SaidElsewhere."""
        if self.speaks:
            return self.error
        return SaidElsewhere(130 if isinstance(self.error, Interrupted) else 0)


def init_world(device: torch.device) -> World:
    """Join the process group torchrun describes in the environment (nccl on CUDA, gloo on CPU)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    world = World(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), size)
    cuda = device.type == "cuda"
    if cuda and world.local_rank < torch.cuda.device_count():
        torch.cuda.set_device(world.local_rank)  # before nccl starts, so it binds the right GPU
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    world.group = dist.new_group(backend="gloo") if dist.get_backend() == "nccl" else dist.group.WORLD
    return world


def shutdown(clean: bool = True) -> None:
    """Leave the process group: `clean` when every process got here the same way (done, or the same
    Agreed error). After a failure on some processes only, a group may hold collectives
    that will never complete; then an nccl process just exits (torchrun stops the others)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    if clean:
        # a process that tears its group down while a peer is still finishing (rank 0 writes the
        # plots and summary) can abort in gloo's threads; leave together
        dist.barrier()
    if clean or dist.get_backend() != "nccl":
        dist.destroy_process_group()
    global left_a_group
    left_a_group = True
