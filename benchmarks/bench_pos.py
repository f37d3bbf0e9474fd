"""POS tagging: seqtrain's trainer vs a minimal hand-written loop (tokens/s, same model, data and
batches, in one run), the batch-size-1 per-sentence loop of the classic tutorial, and predict
throughput (batched, length-sorted).

    python benchmarks/bench_pos.py --threads 1                 # English-EWT if $SEQTRAIN_DATA has it
    python benchmarks/bench_pos.py --threads 1 --steps 50 --sentences 2000 --classic-seconds 10

Without the corpus it runs on the toy sample (configs/pos-toy.yaml): the numbers then say little.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from common import REPO, WARMUP, compared, config, emit, tagger_arguments, tagging_speed

from seqtrain.inference import load_model
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.tasks.pos.conll import read_tagged
from seqtrain.tasks.pos.task import PosTask


def arguments():
    return tagger_arguments(__doc__.splitlines()[0], "ud-en-ewt/en_ewt-ud-train.conllu", "configs/pos-en-ewt.yaml",
                            "configs/pos-toy.yaml", extra=lambda parser: parser.add_argument(
                                "--classic-seconds", type=float, default=20, help="time for the one-sentence loop"))


def classic_loop(args, seconds: float) -> float:
    """The tutorial's loop: one sentence per step, SGD lr 0.1, word embedding + the same BiLSTM, no
    character features. Tokens/s over `seconds` after a short warm-up."""
    cfg = config(args.config, args.device, *args.overrides, "model.chars=none")
    task, splits = PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)
    torch.manual_seed(cfg.seed)
    model = task.build_model().to(args.device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tokens, started = 0, None
    for i, example in enumerate(splits.train * 100):
        if i == WARMUP:
            started = time.perf_counter()
        batch = {k: v.to(args.device) for k, v in task.collate([example]).items()}
        model.zero_grad()
        model(**batch).backward()
        optimizer.step()
        if started is not None:
            tokens += task.size(example)
            if time.perf_counter() - started > seconds:
                break
    return tokens / (time.perf_counter() - started)


def predict_speed(checkpoint: Path, args, batch_size: int) -> float:
    """Tokens/s of tagging the dev sentences (or the training ones) in length-sorted batches."""
    task, model, _ = load_model(checkpoint, args.device)
    paths = resolve_paths(task.cfg.data, data_root(), "data")
    sentences = read_tagged(paths.get("dev", paths["train"]), task.cfg.data.format, task.cfg.data.tag_column)
    return tagging_speed(task, model, sentences, batch_size)


def main() -> None:
    args = arguments()
    with compared(args) as (result, checkpoint):
        predict_32, predict_256 = (predict_speed(checkpoint, args, b) for b in (32, 256))
    classic = classic_loop(args, args.classic_seconds)
    print(f"{args.config} ({args.device}, {torch.get_num_threads()} threads, {args.steps} timed steps)")
    print(f"  train  seqtrain {result['seqtrain_tok_s']:8,.0f} tok/s   hand loop {result['hand_tok_s']:8,.0f} tok/s"
          f"   ratio {result['ratio']:.3f}")
    print(f"  train  one sentence at a time (SGD, no chars) {classic:8,.0f} tok/s")
    print(f"  predict  batch 32 {predict_32:8,.0f} tok/s   batch 256 {predict_256:8,.0f} tok/s  (length-sorted)")
    emit({"task": "pos", "unit": "tokens", "config": args.config, **result, "classic_tok_s": classic,
          "infer": "predict (length-sorted, batch 256)", "infer_tok_s": predict_256, "infer_bs32_tok_s": predict_32})


if __name__ == "__main__":
    os.chdir(REPO)
    main()
