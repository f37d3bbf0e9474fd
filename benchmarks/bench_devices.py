"""One config on several devices and precisions for the same training time: throughput and the
validation metric reached.

    python benchmarks/bench_devices.py configs/pos-en-ewt.yaml --seconds 60 --runs cpu,cuda,cuda:bf16

Each run trains through seqtrain's trainer for SECONDS of training (evaluations and checkpoint
writes are not counted), then evaluates on the dev split. Prints one table and one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from common import config, device_name, trainer_run

from seqtrain.tasks import TASKS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", default="cpu,cuda", help="DEVICE[:PRECISION],... e.g. cpu,cuda,cuda:bf16")
    parser.add_argument("-o", "--override", action="append", default=[])
    args = parser.parse_args()
    rows = []
    for run in args.runs.split(","):
        device, _, precision = run.partition(":")
        cfg = config(args.config, device, f"train.precision={precision or 'fp32'}", *args.override)
        monitor = cfg.train.monitor or TASKS[cfg.task].monitor
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with tempfile.TemporaryDirectory() as tmp:
            summary = trainer_run(cfg, steps=10**9, run_dir=Path(tmp) / "run", time_limit=args.seconds)
        row = {"config": args.config, "device": device_name(device), "precision": cfg.train.precision,
               "train_seconds": round(summary["train_seconds"], 1), "steps": summary["steps"],
               "epochs": summary["epochs"], "tokens_per_s": round(summary["tokens_per_s"]),
               "monitor": monitor, "value": summary["final"][monitor],
               "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{args.config}, {args.seconds:.0f} s of training per run")
    print("| device | precision | steps | tokens/s | dev " + rows[0]["monitor"] + " |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['device']} | {r['precision']} | {r['steps']} | {r['tokens_per_s']:,} | {r['value']:.4f} |")


if __name__ == "__main__":
    main()
