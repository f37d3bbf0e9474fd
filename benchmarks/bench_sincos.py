"""sin -> cos: trainer vs hand loop (time steps/s), and predict throughput (values/s)."""

import math

from common import bench_args, bench_parser, compared, emit, timed

from seqtrain.inference import predict
from seqtrain.tasks.base import PredictOptions


def main() -> None:
    args = bench_args(bench_parser(default_steps=100, description=__doc__))
    with compared(args, "configs/sincos.yaml") as (result, checkpoint):
        series = ",".join(f"{math.sin(0.1 * t):.4f}" for t in range(2000))
        seconds, _ = timed(lambda: [predict(checkpoint, [series], PredictOptions(),
                                            device=args.device) for _ in range(5)])
    emit({"task": "sincos", "unit": "steps", "config": "configs/sincos.yaml", **result,
          "infer": "predict", "infer_tok_s": 5 * 2000 / seconds})


if __name__ == "__main__":
    main()
