"""The named parts the step loop calls at known points: callbacks, the metrics log, checkpoints,
the best-value tracker with early stopping, the NaN guard and the stop signal. Tests and benchmarks
use these seams (a Callback, a NanGuard setting); nothing patches the trainer."""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import torch

from seqtrain.core.checkpoint import save_checkpoint
from seqtrain.core.errors import Interrupted, UserError
from seqtrain.core.interrupts import DROPPED_CTRL_C
from seqtrain.distributed import world as distributed
from seqtrain.tasks.base import Task
from seqtrain.training.run_dir import write_file
from seqtrain.training.state import Progress, TrainState, process_state


class Callback:
    """Hooks the trainer calls; override what you need. `trainer.stop(reason)` ends the run after
    the current step (then it evaluates and saves, as at any end)."""

    def on_train_start(self, trainer) -> None: ...
    def on_step_start(self, trainer) -> None: ...
    def on_step_end(self, trainer, tokens: int) -> None: ...
    def on_evaluation(self, trainer, metrics: dict, improved: bool) -> None: ...
    def on_save(self, trainer, name: str) -> None: ...
    def on_train_end(self, trainer, summary: dict) -> None: ...


class NonFiniteLoss(UserError):
    """The loss became NaN or inf and train.on_nan is 'stop'."""


class MetricsLog:
    """metrics.jsonl: one line per evaluation and split (train loss since the last one, dev metrics)."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, p: Progress, metrics: dict, train_loss: float | None, elapsed: float, lr: float) -> None:
        common = {"step": p.step, "epoch": p.epoch, "elapsed": round(elapsed, 3), "lr": lr}
        lines = [{**common, "split": "train", "metrics": {"loss": train_loss}}] if train_loss is not None else []
        lines.append({**common, "split": "dev", "metrics": metrics})
        write_file(self.path, "".join(json.dumps(line) + "\n" for line in lines), mode="a")


class Checkpointer:
    """Saves last.pt and best.pt. Every process calls it at the same points and hands in its own
    random and carried state; the main process writes."""

    def __init__(self, folder: Path, config: dict, world: distributed.World):
        self.folder, self.config, self.world = folder, config, world

    def save(self, name: str, state: TrainState) -> None:
        processes = self.world.gather(process_state(state.task))
        with self.world.all_or_none():  # a full disk on the main process stops them all
            if self.world.is_main:
                self.write(name, state.checkpoint(self.config, processes))

    def write(self, name: str, payload: dict) -> None:
        path = self.folder / name
        existed = path.exists()
        try:
            save_checkpoint(payload, path)
        except (OSError, RuntimeError) as e:  # a full disk; torch's zip writer says "unexpected pos"
            if isinstance(e, RuntimeError) and not is_write_failure(e):
                raise
            kept = "the one written before is intact" if existed else "no earlier one exists"
            reason = e.strerror if isinstance(e, OSError) and e.strerror else "the disk is full or failing"
            raise UserError(f"{path}: could not write the checkpoint ({reason}); {kept}") from None


def is_write_failure(error: RuntimeError) -> bool:
    text = str(error)
    return any(s in text for s in ("unexpected pos", "file write failed", "No space left", "PytorchStreamWriter"))


class BestTracker:
    """The best monitored value so far (it picks best.pt) and early stopping."""

    def __init__(self, monitor: str, mode: str, patience: int):
        self.monitor, self.mode, self.patience = monitor, mode, patience

    def beats(self, p: Progress, metrics: dict) -> bool:
        """Whether `metrics` beat the best recorded evaluation (nothing is recorded)."""
        if self.monitor not in metrics:
            raise UserError(f"train.monitor: this task has no metric {self.monitor!r} "
                            f"(it has {', '.join(sorted(metrics))})")
        value = metrics[self.monitor]
        return p.best is None or (value > p.best if self.mode == "max" else value < p.best)

    def update(self, p: Progress, metrics: dict) -> bool:
        """Record an evaluation; True if it is the best so far."""
        improved = self.beats(p, metrics)
        if improved:
            p.best, p.best_step, p.bad_evals = metrics[self.monitor], p.step, 0
        else:
            p.bad_evals += 1
        return improved

    def should_stop(self, p: Progress) -> bool:
        return bool(self.patience) and p.bad_evals >= self.patience


def monitored_metric(monitor: str, task: type[Task], key: str = "train.monitor") -> tuple[str, str]:
    """(metric, 'max' or 'min'): train.monitor if set, else the task's choice; the direction is
    the one the task declares for that metric."""
    name = monitor or task.monitor
    if name not in task.goals:
        raise UserError(f"{key}: this task has no metric {name!r} (its metrics: {', '.join(task.goals)})")
    return name, task.goals[name]


class NanGuard:
    """Catches a NaN or inf loss. Reading a flag back from a GPU waits for it, so on CUDA the flags
    are kept and read at the next sync (every train.log_every steps, and before anything is evaluated
    or saved), unless on_nan=skip_batch must know before the update."""

    def __init__(self, on_nan: str, check_each_step: bool, world: distributed.World):
        self.on_nan, self.check_each_step, self.world = on_nan, check_each_step, world
        self.pending: list = []   # (finite flag tensor, (step, epoch, batch)) awaiting a sync

    @classmethod
    def for_run(cls, on_nan: str, device: torch.device, world, check_each_step: bool | None = None) -> "NanGuard":
        each = cls.checks_each_step(device, on_nan) if check_each_step is None else check_each_step
        return cls(on_nan, each, world)

    @staticmethod
    def checks_each_step(device: torch.device, on_nan: str) -> bool:
        return device.type != "cuda" or on_nan == "skip_batch"

    def finite(self, loss: torch.Tensor, where: tuple[int, int, int]) -> bool:
        """False if this step's loss is not finite on any process (checked now), else True."""
        flag = torch.isfinite(loss.detach())
        if not self.check_each_step:
            self.pending.append((flag, where))
            return True
        return not self.world.agree(not flag.item())  # every process skips, or none

    def take_pending(self) -> tuple[list[float], list]:
        pending, self.pending = self.pending, []
        flags = torch.stack([f for f, _ in pending]).logical_not().double().cpu().tolist() if pending else []
        return flags, [where for _, where in pending]

    def handle(self, p: Progress, where: tuple[int, int, int], found_at: int | None, display, run_dir: Path) -> None:
        """A non-finite loss at `where` (step, epoch, batch): skipped (on_nan=skip_batch), or the run
        stops with a line naming the step (and, on CUDA, the step where it was found)."""
        step, epoch, index = where
        at = f"step {step} (epoch {epoch + 1}, batch {index + 1})"
        if self.on_nan == "skip_batch":
            p.skipped_batches += 1
            display.note(f"skipped a batch with a non-finite loss at {at}")
            return
        display.stop()
        last = run_dir / "checkpoints" / "last.pt"
        late = f" (found at step {found_at}: on CUDA losses are checked every train.log_every steps)" \
            if found_at is not None and found_at != step else ""
        kept = f"checkpoints from before are intact in {last.parent}" if last.exists() \
            else "no checkpoint had been written yet"
        raise self.world.agreed(NonFiniteLoss(
            f"the loss became NaN or inf at {at}{late}; stopped, {kept} "
            f"(try a lower train.lr, train.clip_grad_norm, or train.on_nan=skip_batch)"))


class StopSignal:
    """Ctrl-C and SIGTERM ask the run to stop after the current step (then it saves last.pt); a
    second one abandons the step, leaving the checkpoints as they were. One that comes while a
    checkpoint is written (`deferred`) waits for the write to end: a file is never half-written
    (torch would report that as a failing disk), and best.pt never lags the last.pt that names it."""

    def __init__(self, note):
        self.requested = False
        self.note = note
        self.depth, self.abandon = 0, False  # inside `deferred`; a second signal came meanwhile

    @contextlib.contextmanager
    def installed(self):
        def request_stop(signum, frame):
            if self.requested:
                if self.depth:
                    self.abandon = True
                    return
                raise KeyboardInterrupt
            self.requested = True
            self.note("stopping after this step (Ctrl-C again to abandon it)...")

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            DROPPED_CTRL_C.raise_dropped()  # one pressed before, that Python dropped (core/interrupts.py)
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextlib.contextmanager
    def deferred(self):
        """A block (writing checkpoints) that a second Ctrl-C does not cut short; it acts after."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.abandon:
            raise KeyboardInterrupt

    @staticmethod
    def interrupted(p: Progress, run_dir: Path) -> Interrupted:
        return Interrupted(f"interrupted at epoch {p.epoch + 1}, step {p.step}; saved {run_dir / 'checkpoints' / 'last.pt'}\n"
                           f"resume with: seqtrain train {run_dir / 'config.yaml'} --resume {run_dir}")
