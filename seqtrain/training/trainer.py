"""The one trainer: config -> data -> model -> steps -> evaluations -> checkpoints.

It knows nothing about any task: it calls the task contract (seqtrain/tasks/base.py) and writes
the run directory: config.yaml, metrics.jsonl, summary.json, checkpoints/{last,best}.pt and the
task's plots. `Trainer.run` is the step loop; everything else it does is a named part
(seqtrain/training/parts.py) called at a known point.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from seqtrain.core.checkpoint import load_checkpoint, same_plain_data
from seqtrain.core.config import Config
from seqtrain.core.device import check_device
from seqtrain.core.errors import UserError
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.data.batching import EpochPlan, prefetch, to_device
from seqtrain.distributed import world as distributed
from seqtrain.tasks import TASKS
from seqtrain.tasks.base import Splits
from seqtrain.training.average import WeightAverage
from seqtrain.training.evaluate import evaluate
from seqtrain.training.lr import LrPolicy, make_optimizer
from seqtrain.training.parts import (BestTracker, Callback, Checkpointer, MetricsLog, NanGuard, StopSignal,
                                     monitored_metric)
from seqtrain.training.run_dir import default_run_dir, forget_metrics_after, new_run, resumed_run, write_file
from seqtrain.training.state import RESUME_KEYS, Progress, TrainState
from seqtrain.ui.progress import TrainDisplay


@dataclass
class RunOptions:
    run_dir: str | Path | None = None    # default: runs/<config name>/<timestamp>
    resume: str | Path | None = None     # continue the run in this directory
    data_dir: str | Path | None = None   # the data root (default: $SEQTRAIN_DATA, else ./data)
    device: str | None = None            # overrides train.device
    overwrite: bool = False              # replace a run already in run_dir
    quiet: bool = False
    callbacks: list[Callback] = field(default_factory=list)
    nan_check_each_step: bool | None = None  # None: on the CPU, or where on_nan=skip_batch needs it
    task_class: type | None = None           # the Task to train (default: TASKS[cfg.task]): a variant of
                                             # a task, as an experiment or a test double, without registering it


def train(cfg: Config, options: RunOptions | None = None, **kwargs) -> dict:
    """Train `cfg` and return the summary (also written to RUN_DIR/summary.json). Options are a
    RunOptions, or its fields as keywords."""
    options = options or RunOptions(**kwargs)
    if options.resume is not None and (options.run_dir is not None or options.overwrite):
        given = " and ".join(o for o, v in (("--run-dir", options.run_dir), ("--overwrite", options.overwrite)) if v)
        raise UserError(f"--resume {options.resume}: continues the run in its own directory; drop {given} "
                        f"(or start a new run without --resume)")
    device = check_device(options.device or cfg.train.device, "--device" if options.device else "train.device")
    world = distributed.init_world(device)
    clean = False
    try:
        with world.all_or_none():
            device = world.device(device)
        if options.resume is not None:
            with resumed_run(Path(options.resume), world):
                summary = prepare(cfg, options, Path(options.resume), device, world).run()
        else:  # every process takes the main process's (time-stamped) directory
            run_dir = world.broadcast(Path(options.run_dir or default_run_dir(cfg.name)))
            with new_run(run_dir, options.overwrite, world):
                summary = prepare(cfg, options, run_dir, device, world).run()
        clean = True
        return summary
    except distributed.Agreed as agreed:  # every process raised it: they can still leave together
        clean = True
        raise agreed.outcome() from None
    finally:
        distributed.shutdown(clean)


def prepare(cfg: Config, options: RunOptions, run_dir: Path, device: torch.device,
            world: distributed.World) -> "Trainer":
    """Everything before the first step: data, task, model, optimizer, restored state. A failure on
    any process (a file one machine lacks, say) stops them all."""
    with world.all_or_none():
        paths = resolve_paths(cfg.data, data_root(options.data_dir), "data")
        ckpt = None
        if options.resume is not None:
            ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt", require=RESUME_KEYS)
            check_resumable(cfg, ckpt)
            if world.is_main:
                forget_metrics_after(run_dir / "metrics.jsonl", ckpt["progress"]["step"])
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        torch.manual_seed(cfg.seed)
        task, splits = (options.task_class or TASKS[cfg.task]).for_training(cfg, paths, run_dir)
        if not splits.train:
            raise UserError("data: the training split is empty")
        if ckpt is not None and not same_plain_data(task.state_dict(), ckpt["task_state"]):
            raise UserError(f"{run_dir}: the training data changed since this run started "
                            f"(its vocabulary differs); start a new run instead of --resume")
        model = build_model(task, device)
        optimizer = make_optimizer(cfg.train, model)
        monitor = monitored_metric(cfg.train.monitor, type(task))
        lr = LrPolicy(cfg.train, optimizer, len(splits.train) // world.size, monitor[1])
        scaler = torch.amp.GradScaler("cuda") if cfg.train.precision == "fp16" and device.type == "cuda" else None
        average = WeightAverage(model, cfg.train.average_decay) if cfg.train.average_decay else None
        state = TrainState(task, model, optimizer, lr, scaler, Progress(world_size=world.size), average)
        if ckpt is not None:
            state.restore(ckpt, world)
        else:
            world.on_main(write_file, run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False,
                                                                              allow_unicode=True))
            if world.rank:  # DDP copies rank 0's weights; dropout should differ between processes
                world.seed(cfg.seed)
    return Trainer(cfg, state, splits, run_dir, device, world, monitor, options)


def build_model(task, device: torch.device) -> torch.nn.Module:
    try:
        return task.build_model().to(device)
    except (RuntimeError, MemoryError) as e:  # a failed CPU allocation is a plain RuntimeError
        if not isinstance(e, (MemoryError, torch.OutOfMemoryError)) and "can't allocate memory" not in str(e):
            raise
        raise UserError(f"model: the model does not fit in memory on {device}; use smaller model sizes") from None


class Trainer:
    """One training run: `run` is the step loop; each other method is one thing it does."""

    def __init__(self, cfg: Config, state: TrainState, splits: Splits, run_dir: Path, device: torch.device,
                 world: distributed.World, monitor: tuple[str, str], options: RunOptions):
        self.cfg, self.tc, self.state, self.task = cfg, cfg.train, state, state.task
        self.splits, self.run_dir, self.device, self.world = splits, run_dir, device, world
        self.trained = world.wrap(state.model, device)
        self.plan = EpochPlan([self.task.size(ex) for ex in splits.train], self.tc.batch_size, cfg.seed,
                              bucket=self.tc.bucket, shuffle=not self.task.sequential, world=world)
        self.display = TrainDisplay(quiet=options.quiet or not world.is_main)
        self.callbacks = list(options.callbacks)
        self.best = BestTracker(*monitor, patience=self.tc.early_stopping)
        self.checkpoints = Checkpointer(run_dir / "checkpoints", cfg.to_dict(), world)
        self.log = MetricsLog(run_dir / "metrics.jsonl")
        self.nan = NanGuard.for_run(self.tc.on_nan, device, world, options.nan_check_each_step)
        self.signal = StopSignal(self.display.note)
        self.autocast = autocast_for(self.tc.precision, device, self.display.note)
        self.started = time.perf_counter() - state.progress.last_metrics.get("elapsed", 0.0)
        self.loss_sum, self.loss_steps, self.tokens = 0.0, 0, 0  # since the last evaluation / sync
        self.mean_loss: float | None = None  # loss_sum / loss_steps over all processes, at the last sync
        self.stop_reason: str | None = None

    # ---------------------------------------------------------------- the step loop
    def run(self) -> dict:
        p, tc = self.state.progress, self.tc
        with self.world.all_or_none():
            total = self.plan.total_steps(p.epoch, tc.epochs, tc.max_steps)
        self.display.start(total_steps=total, done=p.step, run_dir=self.run_dir)
        self.call("on_train_start")
        with self.signal.installed():
            while p.epoch < tc.epochs and self.stop_reason is None:
                for index, batch, tokens in device_batches(self, p.epoch, p.batch_in_epoch):
                    self.call("on_step_start")
                    stepped = self.step(batch, index, tokens)
                    p.batch_in_epoch = index + 1
                    self.call("on_step_end", tokens)
                    # one process alone acts on Ctrl-C at once; a group agrees on it at the next sync
                    if stepped and p.step % tc.log_every == 0 or self.signal.requested and self.world.size == 1:
                        self.sync()
                    if stepped and tc.eval_every and p.step % tc.eval_every == 0:
                        self.evaluate_and_save()
                    if tc.max_steps and p.step >= tc.max_steps:
                        self.stop("max_steps")
                    if self.stop_reason:
                        break
                else:
                    self.end_epoch()
            if p.last_metrics.get("step") != p.step:
                self.evaluate_and_save(scheduled=False)
        self.display.stop()
        summary = run_summary(self)
        self.call("on_train_end", summary)
        return summary

    def step(self, batch: dict, index: int, tokens: int) -> bool:
        """One optimizer step on `batch` (collated, on the device); False if it was skipped (a
        non-finite loss, on_nan=skip_batch). Nothing here waits for the GPU, except the finite check
        that skip_batch needs."""
        p = self.state.progress
        self.trained.train()
        with self.autocast():
            loss = self.task.loss(self.trained, batch)
        if not self.nan.finite(loss, (p.step + 1, p.epoch, index)):
            self.nan.handle(p, (p.step + 1, p.epoch, index), None, self.display, self.run_dir)
            return False
        update(self.state, loss, self.tc.clip_grad_norm)
        if self.state.average is not None:
            self.state.average.update(self.state.model)
        self.state.lr.after_step()
        p.step += 1
        self.loss_sum += loss.detach().float()
        self.loss_steps += 1
        self.tokens += tokens
        return True

    # ---------------------------------------------------------------- the parts it calls
    def stop(self, reason: str) -> None:
        """End the run after the current step (a callback may call it: a time limit, pruning)."""
        self.stop_reason = self.stop_reason or reason

    def call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def end_epoch(self) -> None:
        p = self.state.progress
        self.sync()  # before the epoch-boundary checkpoint
        p.epoch += 1
        p.batch_in_epoch = 0
        self.state.lr.after_epoch()
        if self.tc.eval_every:
            self.save("last.pt")  # an epoch boundary is always a resume point
        else:
            self.evaluate_and_save()

    def sync(self) -> None:
        """Where the step loop waits for the device and the other processes: every train.log_every
        steps, at the end of each epoch and before each evaluation. Sums loss and token counts over the
        processes, reads the finite flags CUDA steps left unchecked, and acts on a stop request."""
        p = self.state.progress
        flags, wheres = self.nan.take_pending()
        stop, loss_sum, loss_steps, tokens, *bad = self.world.sum_floats(
            [float(self.signal.requested), float(self.loss_sum), self.loss_steps, self.tokens, *flags])
        first_bad = next((where for flag, where in zip(bad, wheres) if flag), None)
        if first_bad is not None:
            self.nan.handle(p, first_bad, p.step, self.display, self.run_dir)
        self.mean_loss = loss_sum / loss_steps if loss_steps else None
        if self.mean_loss is not None:
            self.display.update(p.step, self.mean_loss, int(tokens))
        self.tokens = 0
        if stop:
            self.save("last.pt")
            raise self.world.agreed(self.signal.interrupted(p, self.run_dir))

    def evaluate_and_save(self, scheduled: bool = True) -> None:
        """Evaluate on dev, log, save last.pt (and best.pt if it is the best). The closing evaluation
        of a run stopped between scheduled ones (scheduled=False) may write best.pt, but it records
        nothing that steers training (best value, early stopping, plateau schedule): a resumed run
        goes on exactly as the run that never stopped."""
        self.sync()
        p = self.state.progress
        with self.state.averaged():
            metrics = evaluate(self.task, self.state.model, self.splits.dev or self.splits.train,
                               self.tc.batch_size, self.device, self.world)
        train_loss, self.mean_loss = self.mean_loss, None
        self.loss_sum, self.loss_steps = 0.0, 0
        with self.world.all_or_none():  # a bad train.monitor: every process finds it
            improved = self.best.update(p, metrics) if scheduled else self.best.beats(p, metrics)
        if scheduled:
            self.state.lr.after_evaluation(metrics[self.best.monitor])
        elapsed = time.perf_counter() - self.started
        p.last_metrics = {"step": p.step, "elapsed": elapsed, **metrics}
        with self.world.all_or_none():  # a full disk on the main process stops them all
            self.world.on_main(report_evaluation, self, metrics, train_loss, elapsed, improved)
        self.call("on_evaluation", metrics, improved)
        with self.signal.deferred():  # best.pt first: a kill between the two leaves an older last.pt,
            if improved:              # whose resume finds this best again; never a best.pt older
                self.save("best.pt")  # than the best last.pt records
            self.save("last.pt")
        if self.best.should_stop(p):
            self.stop("early_stopping")

    def save(self, name: str) -> None:
        with self.signal.deferred():
            self.checkpoints.save(name, self.state)
        self.call("on_save", name)



def report_evaluation(trainer: Trainer, metrics: dict, train_loss: float | None, elapsed: float,
                      improved: bool) -> None:
    """An evaluation recorded where people and tools read it: a line of metrics.jsonl, and on screen
    the metrics with the task's own line (hello's predictions, a tagged sentence)."""
    t, p = trainer, trainer.state.progress
    t.log.write(p, metrics, train_loss, elapsed, t.state.lr.lr)
    with t.state.averaged():
        report = t.task.epoch_report(t.state.model)
    t.display.evaluation(p.epoch, p.step, metrics, t.best.monitor, improved, report)


def autocast_for(precision: str, device: torch.device, note):
    """The context each step runs in: torch.autocast for train.precision on CUDA; fp32 elsewhere (said once)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is not None and device.type != "cuda":
        note(f"train.precision {precision} applies on CUDA only; this run trains in fp32")
    return (lambda: torch.autocast("cuda", dtype=dtype)) if dtype and device.type == "cuda" else contextlib.nullcontext


def update(state: TrainState, loss: torch.Tensor, clip_grad_norm: float) -> None:
    """backward, clip, optimizer step (through the fp16 GradScaler when there is one)."""
    optimizer, scaler = state.optimizer, state.scaler
    optimizer.zero_grad(set_to_none=True)
    (scaler.scale(loss) if scaler is not None else loss).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    if clip_grad_norm:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), clip_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def device_batches(trainer: Trainer, epoch: int, start: int):
    """(index, batch on the device, tokens) for the rest of an epoch's batches. On CUDA the host
    builds batch i+1 while the GPU runs step i."""
    t, plan = trainer, trainer.plan.epoch(epoch)

    def make(i: int):
        batch = t.task.collate([t.splits.train[j] for j in plan[i]])
        return i, to_device(batch, t.device), sum(t.plan.sizes[j] for j in plan[i])
    return prefetch(make, range(start, len(plan)), ahead=t.device.type == "cuda")


def run_summary(trainer: Trainer) -> dict:
    """summary.json (written by the main process, with the loss plot and the task's artifacts)."""
    t, p, folder = trainer, trainer.state.progress, trainer.run_dir / "checkpoints"
    summary = {
        "task": t.cfg.task, "run_dir": str(t.run_dir), "stopped": t.stop_reason or "completed",
        "epochs": p.epoch, "steps": p.step, "elapsed_seconds": round(time.perf_counter() - t.started, 2),
        "monitor": t.best.monitor, "best": {"value": p.best, "step": p.best_step},
        "final": {k: v for k, v in p.last_metrics.items() if k not in ("step", "elapsed")},
        "skipped_batches": p.skipped_batches,
        "checkpoints": {"last": str(folder / "last.pt"), "best": str(folder / "best.pt")},
    }
    if t.world.is_main:
        from seqtrain.ui.plots import plot_losses

        files = [plot_losses(t.run_dir / "metrics.jsonl", t.run_dir / "loss.png", monitor=t.best.monitor)]
        with t.state.averaged():
            files += t.task.write_artifacts(t.state.model, t.splits, t.run_dir)
        summary["artifacts"] = [str(f) for f in files if f]
        write_file(t.run_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def check_resumable(cfg: Config, ckpt: dict) -> None:
    """Only train.* may change on --resume (more epochs, say); data and model must match the run."""
    stored = ckpt["config"]
    current = cfg.to_dict()
    for section in ("task", "seed", "data", "model"):
        if not isinstance(stored, dict) or stored.get(section) != current[section]:
            key = section
            if isinstance(current[section], dict) and isinstance(stored, dict) and isinstance(stored.get(section), dict):
                diff = [k for k in current[section] if stored[section].get(k) != current[section][k]]
                key = f"{section}.{diff[0]}" if diff else section
            raise UserError(f"{key}: differs from the run being resumed; only train.* settings may change")
