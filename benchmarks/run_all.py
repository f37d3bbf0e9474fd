"""Every benchmark, one table (scripts, not tests):

    python benchmarks/run_all.py --threads 1                  # CPU
    python benchmarks/run_all.py --device cuda                # a GPU

Per task: training throughput of seqtrain's trainer and of a minimal hand-written PyTorch loop on the
same model, data and batches, measured in the same process (bench_<task>.py), and their ratio;
inference throughput (predict, generate-poem); the peak resident memory of that process. Then the
cold start of `seqtrain --help` and of `seqtrain predict` on a tagger checkpoint. Each bench script
also runs alone and prints its own details. Corpora are used when $SEQTRAIN_DATA has them; without
them the POS and Tang rows run on the tiny samples and say little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

BENCHES = {
    "hello": ["bench_hello.py"],
    "sincos": ["bench_sincos.py"],
    "pos": ["bench_pos.py", "--classic-seconds", "5"],
    "entities": ["bench_ner.py"],
    "tang": ["bench_tang.py"],
    "tokenize": ["bench_tokenize.py", "--mb", "0.2"],  # its raw-text predict columns: bench_tokenize.py alone
}


def run_bench(name: str, args) -> dict:
    cmd = [sys.executable, str(HERE / BENCHES[name][0]), *BENCHES[name][1:], "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"task": name, "error": tail}
    return json.loads(lines[-1])


def seconds_of(*args: str, repeats: int = 3) -> float:
    """Median wall time of `python -m seqtrain ARGS` in a fresh process."""
    import statistics
    import time

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seqtrain", *args], check=True, capture_output=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cold_starts() -> dict:
    """`seqtrain --help`, and `seqtrain predict` of one sentence with a tagger checkpoint (the
    English-EWT model's size when the corpus is there: one training step is enough to time loading)."""
    ewt = Path(os.environ.get("SEQTRAIN_DATA", "data")) / "ud-en-ewt" / "en_ewt-ud-train.conllu"
    config = "configs/pos-en-ewt.yaml" if ewt.is_file() else "configs/pos-toy.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "seqtrain", "train", config, "--run-dir", f"{tmp}/run", "-q",
                        "-o", "train.max_steps=1", "-o", "train.device=cpu"], check=True, capture_output=True,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        size = Path(f"{tmp}/run/checkpoints/best.pt").stat().st_size / 2**20
        predict = seconds_of("predict", f"{tmp}/run", "The dog ate the apple .")
    return {"help": seconds_of("--help", repeats=5), "predict": predict, "predict_model": f"{config}, {size:.0f} MB"}


def machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}"
    if device.startswith("cuda"):
        text += f"; {torch.cuda.get_device_name()}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per benchmark (0: torch's default)")
    parser.add_argument("--tasks", default=",".join(BENCHES))
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()
    rows = [run_bench(name, args) for name in args.tasks.split(",")]
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}" if args.threads else "default threads"
    print(f"\nmachine: {machine(args.device)}; device {args.device}, {threads}")
    print("\n| task | data | train: seqtrain | train: hand loop | ratio | inference | peak RSS |")
    print("|---|---|---:|---:|---:|---|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['task']} | failed: {r['error']} | | | | | |")
            continue
        unit = r["unit"]
        gpu = f", GPU {r['peak_gpu_mb']:,.0f} MB" if r.get("peak_gpu_mb") else ""
        print(f"| {r['task']} | {r.get('config', '').removeprefix('configs/')} "
              f"| {r['seqtrain_tok_s']:,.0f} {unit}/s | {r['hand_tok_s']:,.0f} {unit}/s | {r['ratio']:.2f} "
              f"| {r['infer']}: {r['infer_tok_s']:,.0f} {unit}/s | {r['peak_rss_mb']:,} MB{gpu} |")
    if not args.no_cold_start:
        cold = cold_starts()
        print(f"\ncold start: `seqtrain --help` {cold['help']:.2f} s; `seqtrain predict` one sentence "
              f"{cold['predict']:.2f} s ({cold['predict_model']} checkpoint)")


if __name__ == "__main__":
    main()
