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

from seqtrain.batching import epoch_batches  # noqa: E402
from seqtrain.config import Config, data_root, load_config, resolve_paths  # noqa: E402
from seqtrain.tasks import TASKS  # noqa: E402
from seqtrain.train import Loop, train  # noqa: E402

WARMUP = 5  # steps left out of every timing (allocations, cuDNN plans, lazy imports)


def config(path: str | Path, device: str, *overrides: str) -> Config:
    return load_config(REPO / path, [f"train.device={device}", *overrides])


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------- seqtrain's trainer

def trainer_run(cfg: Config, steps: int, run_dir: Path, warmup: int = WARMUP, time_limit: float = 0.0) -> dict:
    """Train through seqtrain.train.train for warmup + steps steps (or until time_limit seconds of
    training); time steps warmup+1.. without evaluation and checkpoint writing. Returns the summary
    with tokens_per_s, steps_per_s and train_seconds added."""
    cfg.train.max_steps = warmup + steps
    cfg.train.epochs = 10_000
    device = str(cfg.train.device)
    marks = {"tokens": 0, "excluded": 0.0, "started": None}
    step, evaluate_and_save, save = Loop.step, Loop.evaluate_and_save, Loop.save

    def timed_step(self, examples, index, batch):
        if self.progress.step == warmup and marks["started"] is None:
            synchronize(device)
            marks["started"] = time.perf_counter()
        stepped = step(self, examples, index, batch)
        if marks["started"] is not None:
            marks["tokens"] += sum(self.task.size(e) for e in examples)
            if time_limit and time.perf_counter() - marks["started"] - marks["excluded"] > time_limit:
                self.tc.max_steps = self.progress.step  # stop here, evaluate, save
        if stepped and self.progress.step == self.tc.max_steps:
            synchronize(device)
            marks["ended"] = time.perf_counter()
        return stepped

    def excluded(method):
        def run(self, *args):
            if marks.get("inside"):  # save() inside evaluate_and_save() is counted once
                return method(self, *args)
            marks["inside"], t = True, time.perf_counter()
            try:
                return method(self, *args)
            finally:
                marks["inside"] = False
                if marks["started"] is not None and "ended" not in marks:
                    marks["excluded"] += time.perf_counter() - t
        return run

    Loop.step, Loop.evaluate_and_save, Loop.save = timed_step, excluded(evaluate_and_save), excluded(save)
    try:
        summary = train(cfg, run_dir=run_dir, quiet=True, overwrite=True)
    finally:
        Loop.step, Loop.evaluate_and_save, Loop.save = step, evaluate_and_save, save
    seconds = marks["ended"] - marks["started"] - marks["excluded"]
    timed_steps = summary["steps"] - warmup
    return {**summary, "train_seconds": seconds, "tokens_per_s": marks["tokens"] / seconds,
            "steps_per_s": timed_steps / seconds}


# ---------------------------------------------------------------- the minimal hand-written loop

def hand_loop(cfg: Config, steps: int, warmup: int = WARMUP) -> dict:
    """The loop a user would write: collate, .to(device), loss, backward, clip, Adam step. Same task
    model, data and batches (seed, bucketing) as the trainer."""
    device = torch.device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    task = TASKS[cfg.task](cfg)
    task.run_dir = None
    splits = task.load_data(resolve_paths(cfg.data, data_root(None), "data"))
    torch.manual_seed(cfg.seed)
    model = task.build_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    sizes = [task.size(e) for e in splits.train]

    def batches():  # reshuffled every epoch, as a DataLoader would
        epoch = 0
        while True:
            yield from epoch_batches(sizes, cfg.train.batch_size, seed=cfg.seed, epoch=epoch,
                                     bucket=cfg.train.bucket, shuffle=not getattr(task, "sequential", False))
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
