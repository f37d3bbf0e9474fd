"""Which examples go in which batch, per epoch: shuffled, bucketed by length, split across processes.

The order depends only on (seed, epoch), so a resumed run replays it exactly, and every process of a
distributed run agrees on it without communicating (the idea of DistributedSampler.set_epoch).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from seqtrain.core.errors import UserError

BUCKET_BATCHES = 50  # examples are sorted by length within windows of this many batches


def epoch_batches(sizes: list[int], batch_size: int, *, seed: int, epoch: int, bucket: bool = True,
                  rank: int = 0, world_size: int = 1, shuffle: bool = True) -> list[list[int]]:
    """Index lists for one training epoch; with world_size > 1, this process's share (all equal length).
    shuffle=False keeps the examples in their order (and unbucketed)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(sizes), generator=generator).tolist() if shuffle else list(range(len(sizes)))
    bucket = bucket and shuffle
    if bucket:
        window = batch_size * BUCKET_BATCHES
        order = [i for start in range(0, len(order), window)
                 for i in sorted(order[start:start + window], key=lambda i: sizes[i])]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if bucket:  # windows are sorted; shuffle the batches so lengths don't rise within each window
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    if world_size > 1 and not shuffle:
        # the order matters (streams carried from batch to batch): each process takes its share of
        # every batch, so that its own batches still follow one another
        return [b[rank::world_size] for b in batches if len(b) >= world_size]
    if world_size > 1:
        # every process must take the same number of steps, or DDP's gradient sync would hang
        usable = len(batches) - len(batches) % world_size
        batches = batches[rank:usable:world_size]
    return batches


class EpochPlan:
    """The batches of every epoch of one run: examples of these sizes, for this process."""

    def __init__(self, sizes: list[int], batch_size: int, seed: int, *, bucket: bool, shuffle: bool, world):
        self.sizes, self.batch_size, self.seed = sizes, batch_size, seed
        self.bucket, self.shuffle, self.world = bucket, shuffle, world

    def epoch(self, epoch: int) -> list[list[int]]:
        return epoch_batches(self.sizes, self.batch_size, seed=self.seed, epoch=epoch, bucket=self.bucket,
                             shuffle=self.shuffle, rank=self.world.rank, world_size=self.world.size)

    def total_steps(self, epoch: int, epochs: int, max_steps: int) -> int:
        per_epoch = len(self.epoch(epoch))
        if not per_epoch:
            raise UserError(f"train.batch_size: {len(self.sizes)} training examples make fewer batches of "
                            f"{self.batch_size} than there are processes ({self.world.size}); lower train.batch_size")
        return min(per_epoch * epochs, max_steps) if max_steps else per_epoch * epochs


def eval_batches(sizes: list[int], batch_size: int, rank: int = 0, world_size: int = 1) -> list[list[int]]:
    """Length-sorted batches for evaluation (least padding); each process takes every world_size-th."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return batches[rank::world_size]


def prefetch(make, items, ahead: bool):
    """make(item) for each item, in order. With ahead=True the next one is made in a background
    thread while the caller works on the current one."""
    if not ahead:
        yield from (make(item) for item in items)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for item in items:
            following = pool.submit(make, item)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def to_device(batch, device: torch.device):
    """Move every tensor in a (nested) batch to the device.

    On CUDA each tensor goes through pinned memory with a non-blocking copy, so the host builds the
    next batch while the GPU works, and keeps its CPU original as `.host_copy`: the lengths that
    pack_padded_sequence needs on the CPU are then read from there (seqtrain.rnn.on_host) instead of
    back from the GPU, which would wait for it.
    """
    if isinstance(batch, torch.Tensor):
        if device.type != "cuda" or batch.device.type != "cpu":
            return batch.to(device)
        moved = batch.pin_memory().to(device, non_blocking=True)
        moved.host_copy = batch
        return moved
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch
