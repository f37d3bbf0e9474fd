"""The benchmark scripts run and print their one JSON line (tiny settings: this checks they work, it
times nothing)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

TINY = {
    "bench_hello.py": ["--steps", "5"],
    "bench_sincos.py": ["--steps", "5"],
    "bench_ner.py": ["--config", "configs/ner-toy.yaml", "--steps", "5", "--threads", "1"],
    "bench_pos.py": ["--config", "configs/pos-toy.yaml", "--steps", "5", "--classic-seconds", "0.2"],
    "bench_tokenize.py": ["--config", "configs/tokenize-toy.yaml", "--steps", "5", "--mb", "0.01",
                          "--cold-repeats", "1", "--threads", "1"],
    "bench_tang.py": ["--config", "configs/tang-tiny.yaml", "--steps", "5", "--poems", "2",
                      "-o", "train.batch_size=4"],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_prints_both_throughputs_and_their_ratio(script):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *TINY[script], "--rounds", "1"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seqtrain_tok_s"] > 0 and result["hand_tok_s"] > 0 and result["infer_tok_s"] > 0
    assert result["ratio"] == pytest.approx(result["seqtrain_tok_s"] / result["hand_tok_s"])
