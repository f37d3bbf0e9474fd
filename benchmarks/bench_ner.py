"""Named entities: seqtrain's trainer vs a minimal hand-written BiLSTM-CRF loop on the same model, data
and batches (tokens/s, in one run), and batched predict throughput (length-sorted, constrained Viterbi).

    python benchmarks/bench_ner.py --threads 1                 # UNER English-EWT if $SEQTRAIN_DATA has it
    python benchmarks/bench_ner.py --threads 1 --steps 50 --sentences 2000

Without the corpus it runs on the toy sample (configs/ner-toy.yaml): the numbers then say little.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from common import REPO, compared, emit, tagger_arguments, tagging_speed

from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.inference import load_model


def arguments():
    return tagger_arguments(__doc__.splitlines()[0], "uner-en-ewt/en_ewt-ud-train.iob2", "configs/ner-en-uner.yaml",
                            "configs/ner-toy.yaml")


def predict_speed(checkpoint: Path, batch_size: int) -> float:
    """Tokens/s of tagging the dev sentences (repeated to 20k tokens at least) in length-sorted batches."""
    task, model, _ = load_model(checkpoint, "cpu")
    sentences = list(task.read_file(task.cfg, resolve_paths(task.cfg.data, data_root(), "data")["dev"]))
    return tagging_speed(task, model, sentences, batch_size)


def main() -> None:
    args = arguments()
    with compared(args) as (result, checkpoint):
        predict_32, predict_256 = (predict_speed(checkpoint, b) for b in (32, 256))
    print(f"{args.config} ({args.device}, {torch.get_num_threads()} threads, {args.steps} timed steps)")
    print(f"  train  seqtrain {result['seqtrain_tok_s']:8,.0f} tok/s   hand loop {result['hand_tok_s']:8,.0f} tok/s"
          f"   ratio {result['ratio']:.3f}")
    print(f"  predict  batch 32 {predict_32:8,.0f} tok/s   batch 256 {predict_256:8,.0f} tok/s  (length-sorted)")
    emit({"task": "entities", "unit": "tokens", "config": args.config, **result,
          "infer": "predict (length-sorted, batch 256)", "infer_tok_s": predict_256, "infer_bs32_tok_s": predict_32})


if __name__ == "__main__":
    os.chdir(REPO)
    main()
