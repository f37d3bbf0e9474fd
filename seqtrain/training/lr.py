"""The optimizer and the learning-rate policy: which schedule steps when, decided once.

cosine steps after every optimizer step (annealing over train.epochs), step after every epoch, plateau after every evaluation
(on the monitored metric). The trainer calls all three points; the policy knows which one counts.
"""

from __future__ import annotations

import math

import torch

from seqtrain.core.config import TrainConfig


def make_optimizer(tc: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    # on CUDA the fused Adam is one kernel per step, and lets an fp16 GradScaler skip without a sync
    fused = {"fused": True} if params and params[0].is_cuda else {}
    if tc.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay, **fused)
    return torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay, **fused)


class LrPolicy:
    def __init__(self, tc: TrainConfig, optimizer: torch.optim.Optimizer, examples_per_process: int, mode: str):
        s, sched = tc.schedule, torch.optim.lr_scheduler
        self.optimizer = optimizer
        self.when = {"cosine": "step", "step": "epoch", "plateau": "evaluation"}.get(s.name)
        self.scheduler = None
        if s.name == "step":
            self.scheduler = sched.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
        elif s.name == "plateau":
            self.scheduler = sched.ReduceLROnPlateau(optimizer, mode=mode, factor=s.factor,
                                                     patience=s.patience, min_lr=s.min_lr)
        elif s.name == "cosine":
            # over the planned epochs: train.max_steps only stops a run early, so a run stopped by it and
            # resumed follows the schedule of the run that was never stopped
            steps = math.ceil(examples_per_process / tc.batch_size) * tc.epochs
            self.scheduler = sched.CosineAnnealingLR(optimizer, T_max=max(1, steps), eta_min=s.min_lr)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def after_step(self) -> None:
        if self.when == "step":
            self.scheduler.step()

    def after_epoch(self) -> None:
        if self.when == "epoch":
            self.scheduler.step()

    def after_evaluation(self, value: float) -> None:
        if self.when == "evaluation":
            self.scheduler.step(value)

    def state_dict(self) -> dict | None:
        return self.scheduler.state_dict() if self.scheduler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scheduler is None or not state:
            return
        planned = self.scheduler.T_max if self.when == "step" else None  # cosine: the length planned now
        self.scheduler.load_state_dict(state)
        if planned is not None and planned != self.scheduler.T_max:
            # resumed with more epochs or another max_steps: anneal over the new length from here
            self.scheduler.T_max = planned
            done, low = self.scheduler.last_epoch, self.scheduler.eta_min
            for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
                group["lr"] = low + (base - low) * (1 + math.cos(math.pi * min(done, planned) / planned)) / 2
