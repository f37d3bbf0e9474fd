"""Tang poetry char LM: trainer vs hand loop (chars/s, same model, data and batches, in one run), and
generate-poem throughput (characters written per second, poems side by side in one batch; and poems
per second for 100 5x4 poems with --rhyme --tones).

    python benchmarks/bench_tang.py --threads 1       # the full corpus if $SEQTRAIN_DATA has it

Without the corpus it runs on the tiny sample (configs/tang-tiny.yaml): the numbers then say little.
"""

from __future__ import annotations

import os

import torch
from common import REPO, bench_args, bench_parser, compared, emit, timed

from seqtrain.core.paths import data_root
from seqtrain.inference import generate_poems
from seqtrain.tasks.tang.generate import PoemRequest


def arguments():
    parser = bench_parser(default_steps=30, description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="")
    parser.add_argument("--poems", type=int, default=64, help="poems per generate-poem call")
    args = bench_args(parser)
    if not args.config:
        corpus = data_root() / "chinese-poetry-tang" / "poet.tang.0.json"
        args.config = "configs/tang.yaml" if corpus.is_file() else "configs/tang-tiny.yaml"
    return args


def main() -> None:
    args = arguments()
    # the steps are timed, not the word2vec pretraining of the embeddings (it would run six times)
    with compared(args, "", "model.word2vec_epochs=0") as (result, checkpoint):
        request = lambda: PoemRequest(form=5, lines=4, num=args.poems, seed=1)  # noqa: E731
        generate_poems(checkpoint, PoemRequest(form=5, lines=4, num=2), device=args.device)  # warm-up
        seconds, out = timed(generate_poems, checkpoint, request(), device=args.device)
        chars = sum(len(p["poem"]) for p in out["poems"])
        verse = PoemRequest(form=5, lines=4, num=100, seed=1, rhyme=True, tones=True)
        verse_seconds = min(timed(generate_poems, checkpoint, verse, device=args.device)[0] for _ in range(3))
    print(f"{args.config} ({args.device}, {torch.get_num_threads()} threads, {args.steps} timed steps)")
    print(f"  train  seqtrain {result['seqtrain_tok_s']:8,.0f} chars/s   hand loop {result['hand_tok_s']:8,.0f} chars/s"
          f"   ratio {result['ratio']:.3f}")
    print(f"  generate-poem  {args.poems} poems (5x4) in {seconds:.2f} s: {chars / seconds:,.0f} chars/s")
    print(f"  generate-poem --rhyme --tones  100 poems (5x4), best of 3: {100 / verse_seconds:,.0f} poems/s")
    emit({"task": "tang", "unit": "chars", "config": args.config, **result,
          "infer": f"generate-poem ({args.poems} poems, one batch)", "infer_tok_s": chars / seconds,
          "verse_poems_s": 100 / verse_seconds})


if __name__ == "__main__":
    os.chdir(REPO)
    main()
