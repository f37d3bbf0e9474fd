"""Task metrics over a list of examples: the one evaluation the trainer and `seqtrain evaluate` share."""

from __future__ import annotations

import torch

from seqtrain.data.batching import eval_batches, to_device
from seqtrain.distributed import world as distributed
from seqtrain.tasks.base import Task
from seqtrain.tasks.capabilities import ScoresDocuments


def evaluate(task: Task, model, examples: list, batch_size: int, device: torch.device,
             world: distributed.World | None = None, totals_out: dict | None = None) -> dict:
    """Task metrics over `examples` (summed across processes under torchrun); the summed totals go
    into `totals_out` when given (for the task's detail tables)."""
    world = world or distributed.World()
    model.eval()
    documents = task.documents_of(examples) if isinstance(task, ScoresDocuments) else None
    with torch.no_grad():
        if documents is None:
            totals = batch_totals(task, model, examples, batch_size, device, world)
        else:  # each process takes whole documents
            mine = [i for i, d in enumerate(documents) if d % world.size == world.rank]
            totals = task.document_totals(model, [examples[i] for i in mine], [documents[i] for i in mine],
                                          batch_size, device)
    totals = world.sum_across({k: torch.as_tensor(v).to(torch.float64).cpu() for k, v in totals.items()})
    if totals_out is not None:
        totals_out.update(totals)
    return task.metrics(totals)


def batch_totals(task: Task, model, examples: list, batch_size: int, device: torch.device,
                 world: distributed.World) -> dict[str, torch.Tensor]:
    """The task's sums over its batches of `examples` (this process's share of them)."""
    totals: dict[str, torch.Tensor] = {}
    for indices in eval_batches([task.size(ex) for ex in examples], batch_size, world.rank, world.size):
        batch = to_device(task.collate([examples[i] for i in indices]), device)
        for key, value in task.evaluate_batch(model, batch).items():  # summed on the device: no wait per batch
            value = torch.as_tensor(value).to(device, torch.float64)
            totals[key] = totals[key] + value if key in totals else value
    return totals
