"""What a task is: the contract between a task module and the shared trainer, checkpoints and CLI.

A task is one module under seqtrain/tasks/ with a class that satisfies `Task` (structurally: no base
class). `seqtrain.tasks.TASKS[cfg.task]` is the only place a task name is looked up. The trainer
only calls the methods below; adding a task means adding a module, a line in TASKS and a config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn


@dataclass
class Splits:
    """Examples read by `load_data`. Examples are whatever the task's `collate` accepts."""
    train: list
    dev: list


@dataclass
class PredictOptions:
    input_format: str = "text"      # how input lines are read: text, or a task's own (e.g. conllu)
    output_format: str = "text"     # text or json (tasks may add more)
    states: bool = False            # also return every-step hidden states
    batch_size: int = 64


@dataclass
class Prediction:
    text: str                                  # what `seqtrain predict` prints
    records: list = field(default_factory=list)  # the same as plain data (for --output-format json)
    states: dict[str, torch.Tensor] = field(default_factory=dict)  # for --states FILE


@dataclass
class Table:
    """A table for `seqtrain evaluate` to print (rich) or emit (--json)."""
    title: str
    columns: list[str]
    rows: list[list[Any]]


class Task(Protocol):
    DataConfig: type            # dataclass of the config's `data` section
    ModelConfig: type           # dataclass of the config's `model` section
    monitor: tuple[str, str]    # default metric for best.pt / early stopping, and "max" or "min"
    run_dir: Path | None        # set by the trainer before load_data: where a task may cache derived files
    # optional: `sequential = True` makes the trainer batch training examples in their order, unshuffled
    # (for a task that carries state from one batch to the next)

    def __init__(self, cfg: Any) -> None: ...

    def load_data(self, paths: dict[str, Any]) -> Splits:
        """Read train/dev examples (data paths already resolved). Builds vocabularies from train only,
        unless load_state_dict gave them already (evaluating a checkpoint): then encodes with those."""

    def state_dict(self) -> dict:
        """Plain data (vocabularies, normalisation) that a checkpoint needs to rebuild the task."""

    def load_state_dict(self, state: dict) -> None: ...

    def build_model(self) -> nn.Module:
        """A fresh model; knows nothing of files, configs or devices."""

    def size(self, example: Any) -> int:
        """Tokens (chars, steps) in one example, for bucketing and throughput."""

    def collate(self, examples: list) -> dict[str, torch.Tensor]:
        """One batch of tensors, built vectorised. CPU tensors; the trainer moves them."""

    def loss(self, model: nn.Module, batch: dict) -> torch.Tensor:
        """Mean training loss. Calls only model(...), so a DistributedDataParallel wrapper works."""

    def evaluate_batch(self, model: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        """Sums (counts, summed losses) for one batch; summed over batches and processes."""

    def metrics(self, totals: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from the summed totals; includes 'loss'."""

    def tables(self, totals: dict[str, torch.Tensor]) -> list[Table]:
        """Detail tables for `seqtrain evaluate` (per-tag scores and the like); may be empty."""

    def epoch_report(self, model: nn.Module) -> str | None:
        """A line shown after each evaluation (hello prints its predicted strings), or None."""

    def write_artifacts(self, model: nn.Module, splits: Splits, run_dir: Path) -> list[Path]:
        """Files written at the end of training (plots); returns their paths."""

    def read_examples(self, path: Path) -> list:
        """Examples from a file given to `seqtrain evaluate CHECKPOINT DATA`."""

    def predict(self, model: nn.Module, inputs: list[str], options: PredictOptions) -> Prediction:
        """Predictions for raw input lines (`seqtrain predict`)."""
