"""Every task trains briefly, saves, loads in a fresh process, and predicts and evaluates the same."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent

# task -> (config, overrides for a run of a few seconds, predict input, check of the printed prediction)
QUICK = {
    "entities": ("configs/ner-toy.yaml", ["train.epochs=3"], ["Ada Lovelace moved to Paris with Tom ."],
                 lambda out: re.sub(r"\[\w+ |\]", "", out).split() == "Ada Lovelace moved to Paris with Tom .".split()),
    "hello": ("configs/hello.yaml", [], ["hello"], lambda out: out.strip() == "ohlol"),
    "sincos": ("configs/sincos.yaml", ["train.epochs=2", "data.train_windows=64"], ["--values", "0.0,0.1,0.2"],
               lambda out: len(out.split()) == 3),
    "pos": ("configs/pos-toy.yaml", ["train.epochs=3"], ["The dog ate the apple ."],
            lambda out: len(out.split()) == 6 and all("/" in t for t in out.split())),
    "tang": ("configs/tang-tiny.yaml", ["train.epochs=2"], ["春"], lambda out: out.strip().startswith("春")),
    "tokenize": ("configs/tokenize-toy.yaml", ["train.epochs=3"], ["The dog ate. The cat sat."],
                 lambda out: "".join(out.split()) == "Thedogate.Thecatsat."),
}


def seqtrain(*args, cwd=REPO):
    done = subprocess.run([sys.executable, "-m", "seqtrain", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_registered_task_has_a_quick_run():
    assert set(TASKS) == set(QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUICK))
def test_train_save_load_in_a_fresh_process_and_predict(name, tmp_path):
    config, overrides, predict_input, looks_right = QUICK[name]
    run = tmp_path / "run"
    seqtrain("train", config, "--run-dir", run, "--quiet", *[a for o in overrides for a in ("-o", o)])
    best = run / "checkpoints" / "best.pt"

    assert looks_right(seqtrain("predict", best, *predict_input))

    # a fresh process that loads the checkpoint scores the dev split exactly as training did
    stored = load_checkpoint(best)["metrics"]
    scored = json.loads(seqtrain("evaluate", best, "--json"))["metrics"]
    for key, value in scored.items():
        assert value == pytest.approx(stored[key], rel=1e-5, abs=1e-6), key

    # every metric the task reports declares whether higher is better (train.monitor and tune read it)
    assert set(scored) <= set(TASKS[name].goals), set(scored) - set(TASKS[name].goals)
    assert TASKS[name].monitor in scored
