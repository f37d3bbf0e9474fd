"""Tokenizer: seqtrain's trainer vs a minimal hand-written loop (characters/s, same model, data and
batches, in one run); batched tokenizing (task.tokenize) vs a hand-written batched pass of the same
model; raw-text `seqtrain predict` of a ~1 MB file through a tagger with data.tokenizer (and the same
file --pretokenized); the cold start of a one-sentence raw-text predict.

    python benchmarks/bench_tokenize.py --threads 1            # English-EWT if $SEQTRAIN_DATA has it
    python benchmarks/bench_tokenize.py --threads 1 --tokenizer runs/tokenize-en-ewt/<time> \\
        --tagger runs/pos-en-ewt/<time> --steps 50 --mb 1

Without --tokenizer the trainer's last short run (warm-up + --steps steps of --config) is the
tokenizer; without --tagger a tagger is trained for one epoch of configs/pos-toy.yaml reading raw text
with that tokenizer. Speed depends on the models' sizes, not on how well they are trained: the JSON
line names the checkpoints used and their configs. Without the corpus it runs on the toy sample
(configs/tokenize-toy.yaml): the numbers then say little.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from common import (
    REPO,
    bench_args,
    bench_parser,
    cold_start,
    compared,
    config,
    emit,
    synchronize,
    timed,
)
from torch.nn.utils.rnn import pad_sequence

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.paths import SAMPLES_DIR, data_root
from seqtrain.inference import load_model
from seqtrain.tasks.tokenize.document import read_document
from seqtrain.tasks.tokenize.labels import decode
from seqtrain.tasks.tokenize.task import label_texts
from seqtrain.training.state import MODEL_KEYS
from seqtrain.training.trainer import train

SENTENCE = "The dog ate the apple."
MIN_INFER_CHARS = 20_000  # the toy sample is repeated up to this many characters


def ewt_dev() -> Path:
    return data_root() / "ud-en-ewt" / "en_ewt-ud-dev.conllu"


def have_corpus() -> bool:
    return bool(os.environ.get("SEQTRAIN_DATA")) and ewt_dev().is_file()


def arguments():
    parser = bench_parser(default_steps=50, description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="", help="default: configs/tokenize-en-ewt.yaml if the corpus is "
                                                      "under $SEQTRAIN_DATA, else configs/tokenize-toy.yaml")
    parser.add_argument("--tokenizer", default="", help="a trained tokenizer (run directory or checkpoint) to time "
                                                        "inference with (default: the trainer's short run)")
    parser.add_argument("--tagger", default="", help="a tagger with data.tokenizer (run directory or checkpoint) "
                                                     "for the raw-text predict (default: one epoch of "
                                                     "configs/pos-toy.yaml)")
    parser.add_argument("--mb", type=float, default=1.0, help="size of the raw-text predict file in MB (10^6 bytes)")
    parser.add_argument("--batch-size", type=int, default=64, help="inference batch size (predict's default: 64)")
    parser.add_argument("--cold-repeats", type=int, default=3, help="one-sentence cold predicts (the median counts)")
    args = bench_args(parser)
    if not args.config:
        args.config = "configs/tokenize-en-ewt.yaml" if have_corpus() else "configs/tokenize-toy.yaml"
    if args.threads:  # the `seqtrain predict` processes use as many threads as this one
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    return args


def paragraphs() -> tuple[str, list[str]]:
    """(where from, raw-text paragraphs): EWT dev's paragraphs, else the toy sample's."""
    if have_corpus():
        return str(ewt_dev()), [p.text for p in read_document(ewt_dev())]
    sample = SAMPLES_DIR / "samples" / "pos-en-ud.txt"
    return str(sample), [p.text for p in read_document(sample)]


# ---------------------------------------------------------------- tokenizer inference

def hand_tokenize(task, model, texts: list[str], batch_size: int, device: str) -> list[torch.Tensor]:
    """The pass a user would write: every text's features once, length-sorted batches, forward and
    argmax; no pieces, no decoding into tokens and sentences."""
    features = [task.features(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    labels: list = [None] * len(texts)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = pad_sequence([features[i] for i in chunk], batch_first=True).to(device)
            lengths = torch.tensor([len(texts[i]) for i in chunk])
            best = model(batch, lengths).argmax(-1).cpu()
            for row, i in enumerate(chunk):
                labels[i] = best[row, :len(texts[i])]
    synchronize(device)
    return labels


def tokenize_speed(checkpoint, args, texts: list[str]) -> dict:
    """Characters/s of task.tokenize and of hand_tokenize over the same texts, alternating
    args.rounds times (best of each), and where task.tokenize's time goes (one more pass, in parts)."""
    task, model, _ = load_model(checkpoint, args.device)
    bs = args.batch_size
    task.tokenize(model, texts[:bs], bs)  # warm-up
    hand_tokenize(task, model, texts[:bs], bs, args.device)
    ours, hand = [], []
    for _ in range(args.rounds):
        hand.append(timed(hand_tokenize, task, model, texts, bs, args.device)[0])
        seconds, sentences = timed(task.tokenize, model, texts, bs)
        synchronize(args.device)
        ours.append(seconds)
    features_s, features = timed(lambda: [task.features(t) for t in texts])
    model_s, labels = timed(label_texts, model, features, texts, bs)
    decode_s, _ = timed(lambda: [decode(t, ids, task.splitter) for t, ids in zip(texts, labels)])
    chars = sum(map(len, texts))
    return {"infer_tok_s": chars / min(ours), "hand_infer_tok_s": chars / min(hand),
            "infer_ratio": min(hand) / min(ours), "infer_chars": chars,
            "infer_sentences": sum(map(len, sentences)),
            "infer_parts_s": {"features": round(features_s, 3), "label_texts": round(model_s, 3),
                              "decode": round(decode_s, 3)}}


# ---------------------------------------------------------------- raw-text predict

def predict_file(path: Path, texts: list[str], mb: float) -> Path:
    """One paragraph a line, the texts repeated until the file holds `mb` MB."""
    lines, size = [], 0
    while size < mb * 1e6:
        for text in texts:
            lines.append(text)
            size += len(text.encode()) + 1
            if size >= mb * 1e6:
                break
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def predict_speed(tagger, path: Path, args, *flags: str) -> dict:
    """Words printed per second of wall time of `seqtrain predict TAGGER --input FILE` in a fresh
    process (start, loading and writing included)."""
    cmd = [sys.executable, "-m", "seqtrain", "predict", str(tagger), "--input", str(path),
           "--device", args.device, "--batch-size", str(args.batch_size), *flags]
    seconds, done = timed(subprocess.run, cmd, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    words = len(done.stdout.split())
    return {"tok_s": words / seconds, "words": words, "seconds": round(seconds, 2)}


def quick_tagger(tokenizer, args, run_dir: Path) -> Path:
    """One epoch of the toy tagger, reading raw text with `tokenizer`."""
    cfg = config("configs/pos-toy.yaml", args.device, f"data.tokenizer={tokenizer}", "train.epochs=1",
                 f"train.threads={args.threads}")
    train(cfg, run_dir=run_dir, quiet=True, overwrite=True)
    return run_dir


def described(path, kind: str) -> dict:
    """Which checkpoint, its config's name and its parameter count (and a tagger's tokenizer)."""
    ckpt = load_checkpoint(path, require=MODEL_KEYS)
    out = {kind: str(path), f"{kind}_config": ckpt["config"].get("name", ""),
           f"{kind}_params": sum(v.numel() for v in ckpt["model"].values())}
    tokenizer = ckpt["task_state"].get("tokenizer") if kind == "tagger" else None
    if tokenizer is not None:
        out["tagger_tokenizer"] = tokenizer.get("source", tokenizer["name"])
        if tokenizer["name"] == "trained":
            out["tagger_tokenizer_config"] = tokenizer["config"].get("name", "")
    return out


def main() -> None:
    args = arguments()
    source, texts = paragraphs()
    infer_texts = texts
    while sum(map(len, infer_texts)) < MIN_INFER_CHARS:  # the toy sample: repeat it
        infer_texts = infer_texts * 2
    with compared(args) as (result, checkpoint), tempfile.TemporaryDirectory() as tmp:
        tokenizer = args.tokenizer or checkpoint
        infer = tokenize_speed(tokenizer, args, infer_texts)
        tagger = args.tagger or quick_tagger(tokenizer, args, Path(tmp) / "tagger")
        models = {**described(tokenizer, "tokenizer"), **described(tagger, "tagger")}
        if not args.tokenizer:
            models["tokenizer"] = f"the trainer's run of {args.config} ({args.steps} timed steps)"
        if not args.tagger:
            models["tagger"] = "configs/pos-toy.yaml, 1 epoch, data.tokenizer: the tokenizer above"
        path = predict_file(Path(tmp) / "raw.txt", texts, args.mb)
        raw = predict_speed(tagger, path, args)
        pre = predict_speed(tagger, path, args, "--pretokenized")
        cold = cold_start(["predict", str(tagger), "--device", args.device, SENTENCE], repeats=args.cold_repeats)
    print(f"{args.config} ({args.device}, {torch.get_num_threads()} threads, {args.steps} timed steps)")
    print(f"  train    seqtrain {result['seqtrain_tok_s']:9,.0f} chars/s"
          f"   hand loop {result['hand_tok_s']:9,.0f} chars/s"
          f"   ratio {result['ratio']:.3f}")
    print(f"  tokenize seqtrain {infer['infer_tok_s']:9,.0f} chars/s"
          f"   hand pass {infer['hand_infer_tok_s']:9,.0f} chars/s"
          f"   ratio {infer['infer_ratio']:.3f}   (batch {args.batch_size}, {infer['infer_chars']:,} chars)")
    print(f"  predict  raw {raw['tok_s']:8,.0f} words/s   --pretokenized {pre['tok_s']:8,.0f} words/s"
          f"   ({args.mb:g} MB, {raw['words']:,} words)   cold one sentence {cold:.2f} s")
    emit({"task": "tokenize", "unit": "characters", "config": args.config, **result,
          "infer": f"task.tokenize (length-sorted pieces, batch {args.batch_size})", **infer,
          "infer_texts": source, "raw_predict_tok_s": raw["tok_s"], "raw_predict_words": raw["words"],
          "raw_predict_s": raw["seconds"], "pretokenized_predict_tok_s": pre["tok_s"],
          "pretokenized_predict_words": pre["words"], "pretokenized_predict_s": pre["seconds"],
          "predict_mb": args.mb, "cold_predict_s": cold, **models, "steps": args.steps, "rounds": args.rounds,
          "threads": torch.get_num_threads(), "batch_size": args.batch_size, "device": args.device})


if __name__ == "__main__":
    os.chdir(REPO)
    main()
