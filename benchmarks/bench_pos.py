"""POS tagging: seqtrain's trainer vs a minimal hand-written loop (tokens/s, same model, data and
batches, in one run), the batch-size-1 per-sentence loop of the classic tutorial, predict
throughput (batched, length-sorted), and the encoder's CPU path (Recurrent.outputs, padded) against
nn.LSTM on packed input, forward and backward on the training batches' shapes.

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

from seqtrain.data.batching import epoch_batches
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


def encoder_speed(model, sizes: list[int], batch_size: int, batches: int = 40, rounds: int = 3) -> dict:
    """Tokens/s of the trained tagger's encoder, forward and backward on random inputs shaped as
    the first `batches` training batches (bucketed), run packed (`rnn(x, lengths)`, what
    nn.LSTM users write) and padded (`rnn.outputs`, what the tagger runs on the CPU); best of
    `rounds`, alternating."""
    rnn = model.rnn.train()
    shapes = [[sizes[i] for i in b] for b in epoch_batches(sizes, batch_size, seed=0, epoch=0, bucket=True,
                                                           shuffle=True)[:batches]]
    torch.manual_seed(0)
    data = [(torch.randn(len(b), max(b), rnn.args["input_size"]), torch.tensor(b)) for b in shapes]
    tokens = sum(map(sum, shapes))
    runs = {"packed": lambda x, lengths: rnn(x, lengths)[0], "padded": rnn.outputs}
    best = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            for x, lengths in data:
                run(x, lengths).sum().backward()
            best[name] = max(best[name], tokens / (time.perf_counter() - started))
    return {"encoder_packed_tok_s": best["packed"], "encoder_padded_tok_s": best["padded"],
            "encoder_ratio": best["padded"] / best["packed"]}


def main() -> None:
    args = arguments()
    with compared(args) as (result, checkpoint):
        predict_32, predict_256 = (predict_speed(checkpoint, args, b) for b in (32, 256))
        task, model, _ = load_model(checkpoint, "cpu")
        train_file = resolve_paths(task.cfg.data, data_root(), "data")["train"]
        sizes = [len(s.words) for s in read_tagged(train_file, task.cfg.data.format, task.cfg.data.tag_column)]
        encoder = encoder_speed(model, sizes, task.cfg.train.batch_size)
    classic = classic_loop(args, args.classic_seconds)
    print(f"{args.config} ({args.device}, {torch.get_num_threads()} threads, {args.steps} timed steps)")
    print(f"  train  seqtrain {result['seqtrain_tok_s']:8,.0f} tok/s   hand loop {result['hand_tok_s']:8,.0f} tok/s"
          f"   ratio {result['ratio']:.3f}")
    print(f"  train  one sentence at a time (SGD, no chars) {classic:8,.0f} tok/s")
    print(f"  predict  batch 32 {predict_32:8,.0f} tok/s   batch 256 {predict_256:8,.0f} tok/s  (length-sorted)")
    print(f"  encoder (CPU, forward + backward)  packed {encoder['encoder_packed_tok_s']:8,.0f} tok/s   padded "
          f"{encoder['encoder_padded_tok_s']:8,.0f} tok/s   ratio {encoder['encoder_ratio']:.3f}")
    emit({"task": "pos", "unit": "tokens", "config": args.config, **result, **encoder, "classic_tok_s": classic,
          "infer": "predict (length-sorted, batch 256)", "infer_tok_s": predict_256, "infer_bs32_tok_s": predict_32})


if __name__ == "__main__":
    os.chdir(REPO)
    main()
