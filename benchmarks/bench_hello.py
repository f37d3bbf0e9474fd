"""hello -> ohlol: trainer vs hand loop (chars/s), and predict throughput (chars/s)."""

from common import bench_args, bench_parser, compared, emit, timed

from seqtrain.inference import predict
from seqtrain.tasks.base import PredictOptions


def main() -> None:
    # steps of ~3 ms: fewer would time mostly noise
    args = bench_args(bench_parser(default_steps=1500, description=__doc__))
    with compared(args, "configs/hello-embedding.yaml", "data.repeat=2048", "train.batch_size=16") \
            as (result, checkpoint):
        inputs = ["hello", "ohlol", "lleho", "hhhhh"] * 250
        seconds, _ = timed(predict, checkpoint, inputs, PredictOptions(), device=args.device)
    emit({"task": "hello", "unit": "chars", "config": "configs/hello-embedding.yaml", **result, "infer": "predict",
          "infer_tok_s": sum(map(len, inputs)) / seconds})


if __name__ == "__main__":
    main()
