"""What a task is: the contract between a task module and the shared trainer, checkpoints and CLI.

A task is one module (or subpackage) under seqtrain/tasks/ with a subclass of `Task`.
`seqtrain.tasks.TASKS[cfg.task]` is the only place a task name is looked up. A task object is built
one of two ways, explicitly: `for_training` reads the training data and builds vocabularies from
it; `from_state` rebuilds the task a checkpoint describes. The trainer and inference call only the
methods below; what only some tasks do is a capability class they inherit too
(`seqtrain.tasks.capabilities`), never a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from seqtrain.core.errors import UserError
from seqtrain.core.vocab import stored_vocab_sizes
from seqtrain.tasks.options import PredictOptions  # noqa: F401 - part of the contract tasks import from here


@dataclass
class Splits:
    """Encoded examples; examples are whatever the task's `collate` accepts."""
    train: list
    dev: list


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


class Task:
    """The contract. Subclasses set `Config` and `monitor` and implement every method that raises."""

    Config: ClassVar[type]                  # the task's seqtrain.core.config.Config subclass
    goals: ClassVar[dict[str, str]]         # each metric the task reports: "max" (higher is better) or "min"
    monitor: ClassVar[str]                  # the metric that picks best.pt and stops early, unless train.monitor

    sequential: bool = False                # training batches follow one another in order, unshuffled,
                                            # and the task carries state across them (carried_state)
    output_formats: ClassVar[tuple[str, ...]] = ("text", "json")  # what `predict --output-format` offers
    input_formats: ClassVar[tuple[str, ...]] = ("text",)  # what `predict` reads: text, pretokenized, conllu

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    # ---------------------------------------------------------------- construction
    @classmethod
    def for_training(cls, cfg: Any, paths: dict[str, Path], workdir: Path | None) -> tuple["Task", Splits]:
        """Read the data (paths already resolved), build vocabularies from the training split only,
        and return the task with both splits encoded. `workdir` (the run directory, or None) is
        where the task may cache what it derives from the data."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, cfg: Any, state: dict) -> "Task":
        """The task a checkpoint's `task_state` describes, ready to encode new input."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Plain data (vocabularies, normalisation) that `from_state` rebuilds the task from."""
        raise NotImplementedError

    def vocab_sizes(self) -> dict[str, int]:
        """Entries of each vocabulary `state_dict` stores (what `seqtrain info` shows)."""
        return stored_vocab_sizes(self.state_dict())

    def read_splits(self, paths: dict[str, Path]) -> Splits:
        """The config's data, encoded with this task's vocabularies (evaluating a checkpoint)."""
        raise NotImplementedError

    def read_examples(self, path: Path) -> list:
        """Encoded examples from a file given to `seqtrain evaluate CHECKPOINT DATA`."""
        raise NotImplementedError

    # ---------------------------------------------------------------- training
    def build_model(self) -> nn.Module:
        """A fresh model; knows nothing of files, configs or devices."""
        raise NotImplementedError

    def size(self, example: Any) -> int:
        """Tokens (chars, steps) in one example, for bucketing and throughput."""
        raise NotImplementedError

    def collate(self, examples: list) -> dict[str, torch.Tensor]:
        """One batch of tensors, built vectorised. CPU tensors; the trainer moves them."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: dict) -> torch.Tensor:
        """Mean training loss. Calls only model(...), so a DistributedDataParallel wrapper works."""
        raise NotImplementedError

    def carried_state(self) -> dict:
        """A sequential task's state carried from one training batch to the next (plain data), so
        that a resumed run continues exactly; {} for the others."""
        return {}

    def load_carried_state(self, state: dict) -> None:
        if state:
            raise UserError(f"a {type(self).__name__} carries no state across batches")

    # ---------------------------------------------------------------- evaluation
    def evaluate_batch(self, model: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        """Sums (counts, summed losses) for one batch; summed over batches and processes."""
        raise NotImplementedError

    def metrics(self, totals: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from the summed totals; includes 'loss'."""
        raise NotImplementedError

    def tables(self, totals: dict[str, torch.Tensor]) -> list[Table]:
        """Detail tables for `seqtrain evaluate` (per-tag scores and the like)."""
        return []

    def epoch_report(self, model: nn.Module) -> str | None:
        """A line shown after each evaluation (hello prints its predicted strings), or None."""
        return None

    def write_artifacts(self, model: nn.Module, splits: Splits, run_dir: Path) -> list[Path]:
        """Files written at the end of training (plots); returns their paths."""
        return []

    # ---------------------------------------------------------------- inference
    def predict(self, model: nn.Module, inputs: list[str], options: PredictOptions) -> Prediction:
        """Predictions for raw input lines (`seqtrain predict`)."""
        raise NotImplementedError
