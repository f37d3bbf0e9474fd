"""Helpers shared by the benchmark scripts (scripts, not tests).

Training throughput is measured twice in the same process on the same model, data and batch order:
once through seqtrain's trainer (seqtrain.train.train: pinned copies, NaN checks, syncs, progress,
checkpoints outside the timed window) and once through the minimal hand-written PyTorch loop below.
Their ratio is seqtrain's overhead (1.0 = none).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from seqtrain.data.batching import epoch_batches  # noqa: E402
from seqtrain.core.config import Config  # noqa: E402
from seqtrain.core.paths import data_root, resolve_paths  # noqa: E402
from seqtrain.tasks import TASKS, load_config  # noqa: E402
from seqtrain.training.parts import Callback  # noqa: E402
from seqtrain.training.trainer import train  # noqa: E402

WARMUP = 5  # steps left out of every timing (allocations, cuDNN plans, lazy imports)


def config(path: str | Path, device: str, *overrides: str) -> Config:
    return load_config(REPO / path, [f"train.device={device}", *overrides])


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------- seqtrain's trainer

class StepTimer(Callback):
    """Times training steps warmup+1.. through the trainer's hooks: the time from one step's end to
    the next (collating, copying, the step), leaving out intervals that held an evaluation or a
    checkpoint. Stops the run after `time_limit` seconds of timed steps (0: no limit)."""

    def __init__(self, warmup: int, device: str, time_limit: float = 0.0):
        self.warmup, self.device, self.time_limit = warmup, device, time_limit
        self.seconds, self.tokens, self.steps = 0.0, 0, 0
        self.last: float | None = None
        self.paused = False

    def on_step_end(self, trainer, tokens: int) -> None:
        if trainer.state.progress.step < self.warmup:
            return
        if trainer.state.progress.step in (self.warmup, trainer.tc.max_steps):
            synchronize(self.device)  # the GPU's queue is empty where timing starts and ends
        now = time.perf_counter()
        if self.last is not None and not self.paused:
            self.seconds += now - self.last
            self.tokens += tokens
            self.steps += 1
        self.last, self.paused = now, False
        if self.time_limit and self.seconds > self.time_limit:
            trainer.stop("time_limit")

    def on_evaluation(self, trainer, metrics: dict, improved: bool) -> None:
        self.paused = True

    def on_save(self, trainer, name: str) -> None:
        self.paused = True


def trainer_run(cfg: Config, steps: int, run_dir: Path, warmup: int = WARMUP, time_limit: float = 0.0) -> dict:
    """Train through seqtrain's trainer for warmup + steps steps (or until time_limit seconds of
    training); time the steps after the warmup (StepTimer). Returns the summary with tokens_per_s,
    steps_per_s and train_seconds added."""
    cfg.train.max_steps = warmup + steps
    cfg.train.epochs = 10_000
    timer = StepTimer(warmup, str(cfg.train.device), time_limit)
    summary = train(cfg, run_dir=run_dir, quiet=True, overwrite=True, callbacks=[timer])
    return {**summary, "train_seconds": timer.seconds, "tokens_per_s": timer.tokens / timer.seconds,
            "steps_per_s": timer.steps / timer.seconds}


# ---------------------------------------------------------------- the minimal hand-written loop

def hand_loop(cfg: Config, steps: int, warmup: int = WARMUP) -> dict:
    """The loop a user would write: collate, .to(device), loss, backward, clip, Adam step. Same task
    model, data and batches (seed, bucketing) as the trainer."""
    device = torch.device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    task, splits = TASKS[cfg.task].for_training(cfg, resolve_paths(cfg.data, data_root(None), "data"), None)
    torch.manual_seed(cfg.seed)
    model = task.build_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    sizes = [task.size(e) for e in splits.train]

    def batches():  # reshuffled every epoch, as a DataLoader would
        epoch = 0
        while True:
            yield from epoch_batches(sizes, cfg.train.batch_size, seed=cfg.seed, epoch=epoch,
                                     bucket=cfg.train.bucket, shuffle=not task.sequential)
            epoch += 1
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.precision)
    autocast = (lambda: torch.autocast("cuda", dtype=dtype)) if dtype and device.type == "cuda" \
        else contextlib.nullcontext
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 and device.type == "cuda" else None
    model.train()
    tokens, started = 0, None
    for i, indices in zip(range(warmup + steps), batches()):
        if i == warmup:
            synchronize(str(device))
            started = time.perf_counter()
        examples = [splits.train[j] for j in indices]
        batch = {k: v.to(device) for k, v in task.collate(examples).items()}
        with autocast():
            loss = task.loss(model, batch)
        optimizer.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if cfg.train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if started is not None:
            tokens += sum(task.size(e) for e in examples)
    synchronize(str(device))
    seconds = time.perf_counter() - started
    return {"tokens_per_s": tokens / seconds, "steps_per_s": steps / seconds, "final_loss": float(loss.detach())}


def compare_training(cfg_path: str, device: str, steps: int, run_dir: Path, *overrides: str,
                     rounds: int = 3) -> dict:
    """seqtrain's trainer and the hand loop on the same model and batches, alternating `rounds`
    times; the best of each (load from other processes only ever slows a round down). The
    trainer's last run, with its checkpoints, is left in run_dir for inference timings."""
    hand, ours = [], []
    for _ in range(rounds):
        hand.append(hand_loop(config(cfg_path, device, *overrides), steps)["tokens_per_s"])
        ours.append(trainer_run(config(cfg_path, device, *overrides), steps, run_dir)["tokens_per_s"])
    return {"seqtrain_tok_s": max(ours), "hand_tok_s": max(hand), "ratio": max(ours) / max(hand)}


@contextlib.contextmanager
def compared(args, config: str = "", *overrides: str):
    """compare_training as the command line asked (its config, or `config`; device, steps, rounds;
    `overrides`, then its -o overrides), in a temporary run directory. Yields (result, the trainer's
    last checkpoint), which lasts until the block ends."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        result = compare_training(config or args.config, args.device, args.steps, run, *overrides, *args.overrides,
                                  rounds=args.rounds)
        yield result, run / "checkpoints" / "last.pt"


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t, result


def bench_parser(default_steps: int, description: str = ""):
    """The options every bench script takes; a script adds its own before bench_args()."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=default_steps, help="timed training steps per side")
    parser.add_argument("--rounds", type=int, default=3,
                        help="trainer and hand loop alternate this many times; the best of each counts")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("-o", "--override", action="append", default=[], help="KEY=VALUE for both sides")
    return parser


def bench_args(parser):
    """Parsed options, with `overrides` (the config overrides both sides train with) added."""
    args = parser.parse_args()
    args.overrides = [f"train.threads={args.threads}", *args.override]
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


# ---------------------------------------------------------------- memory, cold starts, output

def tagger_arguments(description: str, corpus: str, full: str, toy: str, extra=None):
    """Arguments of a tagger benchmark: --config (default FULL if CORPUS is under $SEQTRAIN_DATA, else
    TOY), --sentences (the first N training sentences), and what EXTRA adds to the parser."""
    parser = bench_parser(default_steps=100, description=description)
    parser.add_argument("--config", default="", help=f"default: {full} if the corpus is under $SEQTRAIN_DATA, "
                                                     f"else {toy}")
    parser.add_argument("--sentences", type=int, default=0, help="train on the first N sentences only (0: all)")
    if extra is not None:
        extra(parser)
    args = bench_args(parser)
    if not args.config:
        args.config = full if os.environ.get("SEQTRAIN_DATA") and (data_root() / corpus).is_file() else toy
    if args.sentences:
        args.overrides.append(f"data.max_train={args.sentences}")
    return args


def tagging_speed(task, model, sentences: list, batch_size: int) -> float:
    """Tokens/s of a tagger's `task.tag` over SENTENCES in length-sorted batches (repeated to 20k tokens
    at least: the toy samples are small), after a warm-up batch."""
    while sum(len(s.words) for s in sentences) < 20_000:
        sentences = sentences * 2
    task.tag(model, sentences[:batch_size], batch_size)
    started = time.perf_counter()
    task.tag(model, sentences, batch_size)
    return sum(len(s.words) for s in sentences) / (time.perf_counter() - started)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_gpu_mb() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def cold_start(args: list[str], repeats: int = 3) -> float:
    """Median wall time of `python -m seqtrain ARGS` in a fresh process."""
    times = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seqtrain", *args], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def emit(result: dict) -> None:
    """The one JSON line run_all.py reads from each bench script (plus a readable echo)."""
    result = {**result, "peak_rss_mb": round(peak_rss_mb()), "peak_gpu_mb": peak_gpu_mb()}
    print(json.dumps(result))


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
