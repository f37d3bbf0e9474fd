"""Everything that resumes a run, saved and restored through one object, and the checkpoint schema.

A checkpoint is one torch.save file of plain data (tensors, numbers, strings, lists, dicts), read
with weights_only=True. CHECKPOINT_SCHEMA is its definition; the table of docs/reference/checkpoint.md
is checked against it.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from seqtrain.core.version import __version__
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.data.batching import to_device
from seqtrain.distributed.world import World
from seqtrain.training.average import WeightAverage
from seqtrain.training.lr import LrPolicy

CHECKPOINT_SCHEMA = {
    "format": 'always "seqtrain-checkpoint"',
    "version": "the format version (1)",
    "task": "the task name",
    "config": "the fully resolved config",
    "task_state": "vocabularies and normalisation the task needs to read new input",
    "model": "the model's state_dict (with train.average_decay: the average of the weights, which predict uses)",
    "optimizer": "the optimizer's state_dict (for exact resume)",
    "average": "with train.average_decay: the trained weights (the optimizer's) and the average's update count; else None",
    "scheduler": "the learning-rate schedule's state_dict, or None",
    "scaler": "the fp16 GradScaler's state_dict, or None",
    "rng": "torch (and CUDA) random states; under torchrun every process's, in `ranks`",
    "carried": "per process, the state a sequential task carries from one batch to the next",
    "progress": "epoch, step, batch within the epoch, best value and step, evaluations without improvement",
    "metrics": "the dev metrics at the time of saving",
    "seqtrain_version": "the seqtrain that wrote it",
    "torch_version": "the torch that wrote it",
}
MODEL_KEYS = ("task", "config", "task_state", "model", "progress")  # what predicting needs
RESUME_KEYS = MODEL_KEYS + ("optimizer", "rng")                     # what --resume needs besides


@dataclass
class Progress:
    epoch: int = 0            # epochs completed
    step: int = 0             # optimizer steps taken
    batch_in_epoch: int = 0   # batches of the current epoch already consumed
    best: float | None = None
    best_step: int = 0
    bad_evals: int = 0        # evaluations since the best one
    skipped_batches: int = 0
    world_size: int = 1       # processes that shared each epoch's batches
    last_metrics: dict = field(default_factory=dict)  # the last dev metrics, with step and elapsed

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "last_metrics"}


def process_state(task) -> dict:
    """What each process keeps of its own: random generators and the task's carried state."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "carried": task.carried_state()}


@dataclass
class TrainState:
    """The model, optimizer, lr policy, scaler, progress and task of one run, and the weight average
    when train.average_decay asks for one."""
    task: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    lr: LrPolicy
    scaler: Any
    progress: Progress
    average: WeightAverage | None = None

    def averaged(self):
        """A block in which the model holds the weights that are evaluated and predict: the average, if any."""
        return self.average.applied(self.model) if self.average is not None else contextlib.nullcontext()

    def checkpoint(self, config: dict, processes: list[dict]) -> dict:
        """The checkpoint payload; `processes`: every process's `process_state`, in rank order."""
        rngs = [{k: v for k, v in s.items() if k != "carried"} for s in processes]
        p, trained = self.progress, self.model.state_dict()
        payload = {
            "task": config["task"], "config": config, "task_state": self.task.state_dict(),
            "model": self.average.weights if self.average is not None else trained,
            "average": {"trained": trained, "updates": self.average.updates} if self.average is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.lr.state_dict(), "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": rngs[0] if len(rngs) == 1 else {**rngs[0], "ranks": rngs},
            "carried": [s["carried"] for s in processes],
            "progress": p.to_dict(), "metrics": p.last_metrics,
            "seqtrain_version": __version__, "torch_version": str(torch.__version__),
        }
        assert payload.keys() | {"format", "version"} == CHECKPOINT_SCHEMA.keys()
        return payload

    def restore(self, ckpt: dict, world: World) -> None:
        """Load a checkpoint into this state, as this process of the world. train.average_decay may
        change on --resume: an average turned on starts from the restored weights."""
        saved_average = ckpt.get("average")
        self.model.load_state_dict(saved_average["trained"] if saved_average else ckpt["model"])
        if self.average is not None:
            if saved_average:
                self.average.load(ckpt["model"], saved_average["updates"])
            else:
                self.average.load(self.model.state_dict(), 0)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.lr.load_state_dict(ckpt.get("scheduler"))
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        p = self.progress
        known = {f.name for f in fields(Progress)}
        saved = ckpt["progress"]
        if not isinstance(saved, dict):
            raise UserError("the checkpoint's progress is not a mapping")
        for key, value in saved.items():
            if key in known:
                setattr(p, key, value)
        p.last_metrics = dict(ckpt.get("metrics") or {})
        if p.world_size != world.size:  # the same global batches, shared out over a new count
            p.batch_in_epoch = p.batch_in_epoch * p.world_size // world.size
        p.world_size = world.size
        rng = ckpt["rng"]
        rank = world.rank
        if rank:  # under torchrun each process resumes its own generators, if the run had this process
            ranks = rng.get("ranks", [])
            rng = ranks[rank] if rank < len(ranks) else None
        if rng is None:
            world.seed(p.step)  # a process the run did not have: a stream of its own
        else:
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
        carried = ckpt.get("carried") or []
        state = carried[rank] if rank < len(carried) else {}
        self.task.load_carried_state(to_device(state, model_device(self.model)))
