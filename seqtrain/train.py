"""The one trainer: config -> data -> model -> steps -> evaluations -> checkpoints.

It knows nothing about any task: it calls task.collate, task.loss, task.evaluate_batch and
task.metrics (seqtrain/task.py), and writes the run directory:
  config.yaml  metrics.jsonl  summary.json  checkpoints/{last,best}.pt  (+ the task's plots)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
import yaml

from seqtrain import __version__, distributed
from seqtrain.batching import epoch_batches, eval_batches, prefetch, to_device
from seqtrain.checkpoint import REQUIRED, load_checkpoint, save_checkpoint
from seqtrain.config import Config, data_root, resolve_paths
from seqtrain.errors import UserError
from seqtrain.progress import TrainDisplay
from seqtrain.rnn import check_device
from seqtrain.tasks import TASKS


RESUMABLE = REQUIRED + ("optimizer", "rng")  # what --resume reads from last.pt


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: last.pt was saved; the message says how to resume."""


class NonFiniteLoss(UserError):
    """The loss became NaN or inf and train.on_nan is 'stop'."""


@dataclass
class Progress:
    epoch: int = 0            # epochs completed
    step: int = 0             # optimizer steps taken
    batch_in_epoch: int = 0   # batches of the current epoch already consumed
    best: float | None = None
    best_step: int = 0
    bad_evals: int = 0
    skipped_batches: int = 0
    world_size: int = 1       # processes that share each epoch's batches
    last_metrics: dict = field(default_factory=dict)


def train(cfg: Config, *, run_dir: str | Path | None = None, resume: str | Path | None = None,
          data_dir: str | Path | None = None, device: str | None = None, overwrite: bool = False,
          quiet: bool = False) -> dict:
    """Train `cfg` and return the summary (also written to RUN_DIR/summary.json)."""
    device_ = check_device(device or cfg.train.device)
    world = distributed.init_world(device_)
    clean = False
    try:
        with distributed.all_or_none(world):
            device_ = distributed.local_device(device_, world)
        summary = _train(cfg, run_dir, resume, data_dir, device_, world, overwrite, quiet)
        clean = True
        return summary
    except Exception as error:
        clean = getattr(error, "agreed", False)  # every process raised it: they can still leave together
        raise
    finally:
        distributed.shutdown(clean)


def _train(cfg, run_dir, resume, data_dir, device, world, overwrite, quiet) -> dict:
    if resume is not None:
        return start_and_run(cfg, run_dir, resume, data_dir, device, world, overwrite, quiet)
    # every process takes the main process's (time-stamped) directory
    run_dir = distributed.broadcast(Path(run_dir) if run_dir else default_run_dir(cfg), world)
    with new_run(Path(run_dir), overwrite, world):
        return start_and_run(cfg, run_dir, resume, data_dir, device, world, overwrite, quiet)


def start_and_run(cfg, run_dir, resume, data_dir, device, world, overwrite, quiet) -> dict:
    with distributed.all_or_none(world):  # a failure on any process (say, rank 0 alone claims the run
        parts = prepare(cfg, run_dir, resume, data_dir, device, world, overwrite)  # directory) stops all
    task, model, optimizer, scheduler, scaler, splits, run_dir, progress = parts
    trained = model
    if world.size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    loop = Loop(cfg, task, model, trained, optimizer, scheduler, scaler, splits, device, world,
                run_dir, progress, quiet)
    return loop.run()


def prepare(cfg, run_dir, resume, data_dir, device, world, overwrite) -> tuple:
    """Everything before the first step: run directory, data, model, optimizer, restored state."""
    paths = resolve_paths(cfg.data, data_root(data_dir), "data")
    ckpt = None
    if resume is not None:
        run_dir = Path(resume)
        ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt", require=RESUMABLE)
        check_resumable(cfg, ckpt)
        if world.is_main:
            forget_metrics_after(run_dir / "metrics.jsonl", ckpt["progress"]["step"])
    else:
        run_dir = Path(run_dir)  # claimed by _train
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.seed)

    task = TASKS[cfg.task](cfg)
    task.run_dir = run_dir  # where a task may cache what it derives from the data (Task.run_dir)
    splits = task.load_data(paths)
    if not splits.train:
        raise UserError("data: the training split is empty")
    if ckpt is not None and task.state_dict() != ckpt["task_state"]:
        raise UserError(f"{run_dir}: the training data changed since this run started "
                        f"(its vocabulary differs); start a new run instead of --resume")
    try:
        model = task.build_model().to(device)
    except (RuntimeError, MemoryError) as e:  # a failed CPU allocation is a plain RuntimeError
        if not isinstance(e, (MemoryError, torch.OutOfMemoryError)) and "can't allocate memory" not in str(e):
            raise
        raise UserError(f"model: the model does not fit in memory on {device}; use smaller model sizes") from None
    optimizer = make_optimizer(cfg.train, model)
    scheduler = make_scheduler(cfg.train, optimizer, len(splits.train) // world.size,
                               monitored_metric(cfg, task)[1])
    scaler = torch.amp.GradScaler("cuda") if cfg.train.precision == "fp16" and device.type == "cuda" else None
    progress = Progress()
    if ckpt is not None:
        restore(ckpt, model, optimizer, scheduler, scaler, progress, device, world.rank)
        if progress.world_size != world.size:  # the same global batches, shared out over a new count
            progress.batch_in_epoch = progress.batch_in_epoch * progress.world_size // world.size
    else:
        if world.is_main:
            (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
        if world.rank:  # DDP copies rank 0's weights; dropout should differ between processes
            torch.manual_seed(cfg.seed + 1000 * world.rank)
    progress.world_size = world.size
    return task, model, optimizer, scheduler, scaler, splits, run_dir, progress


class Loop:
    """State of one training run; `run` is the whole schedule, each method one piece of it."""

    def __init__(self, cfg, task, model, trained, optimizer, scheduler, scaler, splits, device, world,
                 run_dir, progress, quiet):
        self.cfg, self.tc, self.task = cfg, cfg.train, task
        self.model, self.trained = model, trained
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.splits, self.device, self.world = splits, device, world
        self.run_dir, self.progress = run_dir, progress
        self.sizes = [task.size(ex) for ex in splits.train]
        self.monitor, self.mode = monitored_metric(cfg, task)
        self.display = TrainDisplay(quiet=quiet or not world.is_main)
        self.started = time.perf_counter() - progress.last_metrics.get("elapsed", 0.0)
        self.loss_sum, self.loss_steps = 0.0, 0   # since the last evaluation (loss_sum stays on the device)
        self.mean_loss: float | None = None       # loss_sum / loss_steps over all processes, at the last sync
        self.tokens = 0                           # since the last sync
        self.check_each_step = nan_check_each_step(device, self.tc.on_nan)
        self.unchecked: list = []                 # (finite flag, (step, epoch, batch)) awaiting a sync
        self.stop_requested = False
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.tc.precision)
        if self.autocast_dtype is not None and device.type != "cuda":
            self.display.note(f"train.precision {self.tc.precision} applies on CUDA only; this run trains in fp32")

    # ---------------------------------------------------------------- schedule
    def run(self) -> dict:
        p, tc = self.progress, self.tc
        reason = "completed"
        steps_per_epoch = len(self.epoch_plan(p.epoch))
        if not steps_per_epoch:
            raise distributed.quiet_unless_main(UserError(
                f"train.batch_size: {len(self.sizes)} training examples make fewer batches of "
                f"{tc.batch_size} than there are processes ({self.world.size}); lower train.batch_size"), self.world)
        self.display.start(total_steps=self.total_steps(steps_per_epoch), done=p.step,
                           run_dir=self.run_dir)
        with self.stop_signals():
            while p.epoch < tc.epochs and reason == "completed":
                reason = self.run_epoch()
                if reason == "completed" and not tc.eval_every:
                    reason = self.evaluate_and_save()
                elif reason == "completed":
                    self.save("last.pt")  # an epoch boundary is always a resume point
            if p.last_metrics.get("step") != p.step:
                self.evaluate_and_save()
        self.display.stop()
        return self.finish(reason)

    def run_epoch(self) -> str:
        p, tc = self.progress, self.tc
        plan = self.epoch_plan(p.epoch)
        todo = range(p.batch_in_epoch, len(plan))
        examples = lambda i: [self.splits.train[j] for j in plan[i]]  # noqa: E731
        batches = prefetch(lambda i: to_device(self.task.collate(examples(i)), self.device), todo,
                           ahead=self.device.type == "cuda")  # the host builds batch i+1 while the GPU runs step i
        for index, batch in zip(todo, batches):
            stepped = self.step(examples(index), index, batch)
            p.batch_in_epoch = index + 1
            # one process alone acts on Ctrl-C at once; a group agrees on it at the next sync
            if stepped and p.step % tc.log_every == 0 or self.stop_requested and self.world.size == 1:
                self.sync()
            if stepped and tc.eval_every and p.step % tc.eval_every == 0:
                if self.evaluate_and_save() == "early_stopping":
                    return "early_stopping"
            if tc.max_steps and p.step >= tc.max_steps:
                return "max_steps"
        self.sync()  # before the epoch-boundary checkpoint
        p.epoch += 1
        p.batch_in_epoch = 0
        if isinstance(self.scheduler, torch.optim.lr_scheduler.StepLR):
            self.scheduler.step()
        return "completed"

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        return epoch_batches(self.sizes, self.tc.batch_size, seed=self.cfg.seed, epoch=epoch,
                             bucket=self.tc.bucket, shuffle=not getattr(self.task, "sequential", False),
                             rank=self.world.rank, world_size=self.world.size)

    def total_steps(self, steps_per_epoch: int) -> int:
        total = steps_per_epoch * self.tc.epochs
        return min(total, self.tc.max_steps) if self.tc.max_steps else total

    # ---------------------------------------------------------------- one step
    def step(self, examples: list, index: int, batch: dict) -> bool:
        """One optimizer step on `batch` (the examples, collated and on the device); False if it was
        skipped (a non-finite loss, on_nan=skip_batch). Nothing here waits for the GPU, except the
        finite check that skip_batch needs."""
        p = self.progress
        self.trained.train()
        with self.autocast():
            loss = self.task.loss(self.trained, batch)
        finite = torch.isfinite(loss.detach())
        if not self.check_each_step:
            self.unchecked.append((finite, (p.step + 1, p.epoch, index)))
        elif distributed.agree(not finite.item(), self.world):  # every process skips, or none
            self.non_finite(p.step + 1, p.epoch, index)
            return False
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.tc.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.clip_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            self.scheduler.step()
        p.step += 1
        self.loss_sum += loss.detach().float()
        self.loss_steps += 1
        self.tokens += sum(self.task.size(ex) for ex in examples)
        return True

    def sync(self) -> None:
        """Where the step loop waits for the device and the other processes: every train.log_every
        steps, at the end of each epoch and before each evaluation. Sums loss and token counts over the
        processes, reads the finite flags CUDA steps left unchecked, and acts on a stop request."""
        p = self.progress
        unchecked, self.unchecked = self.unchecked, []
        flags = torch.stack([f for f, _ in unchecked]).logical_not().double().cpu().tolist() if unchecked else []
        stop, loss_sum, loss_steps, tokens, *bad = distributed.sum_floats(
            [float(self.stop_requested), float(self.loss_sum), self.loss_steps, self.tokens, *flags], self.world)
        first_bad = next((where for flag, (_, where) in zip(bad, unchecked) if flag), None)
        if first_bad is not None:
            self.non_finite(*first_bad, found_at=p.step)
        self.mean_loss = loss_sum / loss_steps if loss_steps else None
        if self.mean_loss is not None:
            self.display.update(p.step, self.mean_loss, int(tokens))
        self.tokens = 0
        if stop:
            self.save("last.pt")
            raise distributed.quiet_unless_main(Interrupted(self.interrupt_message()), self.world)

    def autocast(self):
        if self.autocast_dtype is None or self.device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.autocast_dtype)

    def non_finite(self, step: int, epoch: int, index: int, found_at: int | None = None) -> None:
        """A non-finite loss at `step`. On the CPU it is seen at once; on CUDA (on_nan=stop) at the
        next sync (`found_at`), before anything is evaluated or saved."""
        p = self.progress
        where = f"step {step} (epoch {epoch + 1}, batch {index + 1})"
        if self.tc.on_nan == "skip_batch":
            p.skipped_batches += 1
            self.display.note(f"skipped a batch with a non-finite loss at {where}")
            return
        self.display.stop()
        late = f" (found at step {found_at}: on CUDA losses are checked every train.log_every steps)" \
            if found_at is not None and found_at != step else ""
        kept = (f"checkpoints from before are intact in {self.run_dir / 'checkpoints'}"
                if (self.run_dir / "checkpoints" / "last.pt").exists() else "no checkpoint had been written yet")
        raise distributed.quiet_unless_main(NonFiniteLoss(
            f"the loss became NaN or inf at {where}{late}; stopped, {kept} (try a lower train.lr, "
            f"train.clip_grad_norm, or train.on_nan=skip_batch)"), self.world)

    # ---------------------------------------------------------------- evaluation and saving
    def evaluate_and_save(self) -> str:
        self.sync()
        p = self.progress
        metrics = evaluate(self.task, self.model, self.splits.dev or self.splits.train,
                           self.tc.batch_size, self.device, self.world)
        train_loss, self.mean_loss = self.mean_loss, None
        self.loss_sum, self.loss_steps = 0.0, 0
        if self.monitor not in metrics:
            raise distributed.quiet_unless_main(UserError(
                f"train.monitor: this task has no metric {self.monitor!r} "
                f"(it has {', '.join(sorted(metrics))})"), self.world)
        value = metrics[self.monitor]
        improved = p.best is None or (value > p.best if self.mode == "max" else value < p.best)
        if improved:
            p.best, p.best_step, p.bad_evals = value, p.step, 0
        else:
            p.bad_evals += 1
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(value)
        elapsed = time.perf_counter() - self.started
        p.last_metrics = {"step": p.step, "elapsed": elapsed, **metrics}
        with distributed.all_or_none(self.world):  # a full disk on the main process stops them all
            if self.world.is_main:
                self.log_metrics(metrics, train_loss, elapsed)
                report = self.task.epoch_report(self.model)
                self.display.evaluation(p.epoch, p.step, metrics, self.monitor, improved, report)
        self.save("last.pt")
        if improved:
            self.save("best.pt")
        if self.tc.early_stopping and p.bad_evals >= self.tc.early_stopping:
            return "early_stopping"
        return "completed"

    def log_metrics(self, metrics: dict, train_loss: float | None, elapsed: float) -> None:
        p = self.progress
        lr = self.optimizer.param_groups[0]["lr"]
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            if train_loss is not None:
                f.write(json.dumps({"step": p.step, "epoch": p.epoch, "split": "train",
                                    "metrics": {"loss": train_loss}, "elapsed": round(elapsed, 3),
                                    "lr": lr}) + "\n")
            f.write(json.dumps({"step": p.step, "epoch": p.epoch, "split": "dev", "metrics": metrics,
                                "elapsed": round(elapsed, 3), "lr": lr}) + "\n")

    def save(self, name: str) -> None:
        """Called by every process at the same points: all hand in their random state; rank 0 writes."""
        p = self.progress
        states = distributed.gather(rng_state(), self.world)
        with distributed.all_or_none(self.world):  # a full disk on the main process stops them all
            if self.world.is_main:
                try:
                    self.write_checkpoint(name, states)
                except OSError as e:  # a full disk, say: save_checkpoint left the previous file whole
                    raise UserError(f"{self.run_dir / 'checkpoints' / name}: could not write the checkpoint "
                                    f"({e.strerror or e}); the one written before is intact") from None

    def write_checkpoint(self, name: str, states: list[dict]) -> None:
        p = self.progress
        save_checkpoint({
            "task": self.cfg.task, "config": self.cfg.to_dict(), "task_state": self.task.state_dict(),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": states[0] if len(states) == 1 else {**states[0], "ranks": states},
            "progress": {"epoch": p.epoch, "step": p.step, "batch_in_epoch": p.batch_in_epoch,
                         "best": p.best, "best_step": p.best_step, "bad_evals": p.bad_evals,
                         "skipped_batches": p.skipped_batches, "world_size": p.world_size},
            "metrics": p.last_metrics, "seqtrain_version": __version__,
            "torch_version": str(torch.__version__),
        }, self.run_dir / "checkpoints" / name)

    def finish(self, reason: str) -> dict:
        p = self.progress
        ckpts = self.run_dir / "checkpoints"
        summary = {
            "task": self.cfg.task, "run_dir": str(self.run_dir), "stopped": reason,
            "epochs": p.epoch, "steps": p.step, "elapsed_seconds": round(time.perf_counter() - self.started, 2),
            "monitor": self.monitor, "best": {"value": p.best, "step": p.best_step},
            "final": {k: v for k, v in p.last_metrics.items() if k not in ("step", "elapsed")},
            "skipped_batches": p.skipped_batches,
            "checkpoints": {"last": str(ckpts / "last.pt"), "best": str(ckpts / "best.pt")},
        }
        if self.world.is_main:
            from seqtrain.plots import plot_losses

            files = [plot_losses(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png")]
            files += self.task.write_artifacts(self.model, self.splits, self.run_dir)
            summary["artifacts"] = [str(f) for f in files if f]
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        return summary

    # ---------------------------------------------------------------- Ctrl-C / SIGTERM
    @contextlib.contextmanager
    def stop_signals(self):
        def request_stop(signum, frame):
            if self.stop_requested:  # a second Ctrl-C abandons the step; checkpoints stay whole
                raise KeyboardInterrupt
            self.stop_requested = True
            self.display.note("stopping after this step (Ctrl-C again to abandon it)...")

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def interrupt_message(self) -> str:
        p = self.progress
        return (f"interrupted at epoch {p.epoch + 1}, step {p.step}; saved {self.run_dir / 'checkpoints' / 'last.pt'}\n"
                f"resume with: seqtrain train {self.run_dir / 'config.yaml'} --resume {self.run_dir}")


# -------------------------------------------------------------------- pieces used above

def evaluate(task, model, examples: list, batch_size: int, device, world=None, totals_out=None) -> dict:
    """Task metrics over `examples` (summed across processes under torchrun)."""
    world = world or distributed.World()
    model.eval()
    totals: dict[str, torch.Tensor] = {}
    sizes = [task.size(ex) for ex in examples]
    with torch.no_grad():
        for indices in eval_batches(sizes, batch_size, world.rank, world.size):
            batch = to_device(task.collate([examples[i] for i in indices]), device)
            for key, value in task.evaluate_batch(model, batch).items():  # summed on the device: no wait per batch
                value = torch.as_tensor(value).to(device, torch.float64)
                totals[key] = totals[key] + value if key in totals else value
    totals = distributed.sum_across({k: v.cpu() for k, v in totals.items()}, world)
    if totals_out is not None:
        totals_out.update(totals)
    return task.metrics(totals)


def nan_check_each_step(device: torch.device, on_nan: str) -> bool:
    """Whether each loss is checked for NaN/inf before its update. Reading a flag back from a GPU
    waits for it, so on CUDA the flags are read at the next sync (every train.log_every steps, and
    before anything is evaluated or saved), unless on_nan=skip_batch must know before the update."""
    return device.type != "cuda" or on_nan == "skip_batch"


def monitored_metric(cfg: Config, task) -> tuple[str, str]:
    name, mode = task.monitor
    if cfg.train.monitor and cfg.train.monitor != name:
        name = cfg.train.monitor
        mode = "min" if any(w in name for w in ("loss", "mse", "perplexity", "error", "bits", "nats")) else "max"
    return name, mode


def make_optimizer(tc, model) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    # on CUDA the fused Adam is one kernel per step, and lets an fp16 GradScaler skip without a sync
    fused = {"fused": True} if params and params[0].is_cuda else {}
    if tc.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay, **fused)
    return torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay, **fused)


def make_scheduler(tc, optimizer, n_train: int, mode: str):
    s = tc.schedule
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=s.factor,
                                                          patience=s.patience, min_lr=s.min_lr)
    if s.name == "cosine":
        steps = math.ceil(n_train / tc.batch_size) * tc.epochs
        steps = min(steps, tc.max_steps) if tc.max_steps else steps
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps), eta_min=s.min_lr)
    return None


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore(ckpt, model, optimizer, scheduler, scaler, progress: Progress, device, rank: int = 0) -> None:
    model.load_state_dict(ckpt["model"])
    model.to(device)
    optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler"):
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    saved = ckpt["progress"]
    for key, value in saved.items():
        setattr(progress, key, value)
    progress.last_metrics = dict(ckpt.get("metrics") or {})
    rng = ckpt["rng"]
    if rank:  # under torchrun each process resumes its own generators, if the run had this process
        ranks = rng.get("ranks", [])
        rng = ranks[rank] if rank < len(ranks) else None
    if rng is None:
        torch.manual_seed(1000 * rank + progress.step)
    else:
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def check_resumable(cfg: Config, ckpt: dict) -> None:
    """Only train.* may change on --resume (more epochs, say); data and model must match the run."""
    stored = ckpt["config"]
    current = cfg.to_dict()
    for section in ("task", "seed", "data", "model"):
        if stored.get(section) != current[section]:
            key = section
            if isinstance(current[section], dict):
                diff = [k for k in current[section] if stored[section].get(k) != current[section][k]]
                key = f"{section}.{diff[0]}" if diff else section
            raise UserError(f"{key}: differs from the run being resumed; only train.* settings may change")


def forget_metrics_after(path: Path, step: int) -> None:
    """Drop what a killed run logged after its last checkpoint (the resumed run logs those steps again),
    and a line torn by the kill."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)

    def logged_step(line: str) -> float:
        try:
            return json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            return math.inf

    kept = [line for line in lines if line.endswith("\n") and logged_step(line) <= step]
    if len(kept) != len(lines):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)


def default_run_dir(cfg: Config) -> Path:
    return Path("runs") / cfg.name / datetime.now().strftime("%Y%m%d-%H%M%S")


def claim_run_dir(run_dir: Path, overwrite: bool) -> Path | None:
    """A run directory that already holds a run is never reused silently. With --overwrite the old
    run is moved aside (the path returned) until the new one has started."""
    aside = None
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise UserError(f"{run_dir}: already holds a run; use --resume {run_dir} to continue it, "
                            f"--overwrite to replace it, or another --run-dir")
        aside = run_dir.with_name(f".{run_dir.name}.replaced")
        shutil.rmtree(aside, ignore_errors=True)  # left by a start that was killed
        run_dir.rename(aside)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return aside


@contextlib.contextmanager
def new_run(run_dir: Path, overwrite: bool, world):
    """Claim RUN_DIR for a new run. A run that stops (bad data, a bad train.monitor, a NaN, Ctrl-C)
    before its first checkpoint leaves nothing behind, and the run it replaced (--overwrite) comes back."""
    created = [p for p in [run_dir, *run_dir.parents] if not p.exists()]  # what this run creates
    previous = signal.signal(signal.SIGTERM, interrupt)  # until the loop takes over: undo, like Ctrl-C
    claimed, replaced = False, None
    try:
        with distributed.all_or_none(world):  # rank 0 alone claims; a refusal stops every process
            replaced = claim_run_dir(run_dir, overwrite) if world.is_main else None
        claimed = world.is_main
        yield
    except BaseException:
        if claimed and not (run_dir / "checkpoints" / "last.pt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in created[1:]:  # empty parents this run made (runs/NAME/)
                with contextlib.suppress(OSError):
                    parent.rmdir()
            if replaced is not None:
                replaced.rename(run_dir)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if replaced is not None and replaced.exists():
            shutil.rmtree(replaced, ignore_errors=True)


def interrupt(signum, frame):
    raise KeyboardInterrupt
