"""Data-parallel training under torchrun: gloo on the CPU, 2 processes, through `seqtrain train --nproc 2`.

Each 2-process run takes half the per-process batch of its 1-process twin, so both train with the
same global batch; each quality test states the tolerance it allows between the two.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, assert_user_error, run_cli
from test_entity_documents import DOCUMENTS
from seqtrain.data.batching import epoch_batches
from seqtrain.tasks import load_config
from seqtrain.distributed.launch import exit_status, torchrun_args
from seqtrain.inference import evaluate_checkpoint
from seqtrain.training.trainer import train

pytestmark = pytest.mark.slow  # every test here starts several processes (torchrun, DDP)

SINCOS = """\
task: sincos
data: {train_windows: 256, dev_windows: 64, steps: 30}
model: {cell: gru, hidden_size: 32}
train: {epochs: 12, batch_size: 16, lr: 0.01, device: cpu, threads: 1}
"""
SINCOS_STEPS_PER_EPOCH = 256 // 16  # per process, with 8 windows each: the same global batches

HELLO = """\
task: hello
data: {pairs: [[hello, ohlol]], repeat: 8}
model: {cell: rnn, hidden_size: 4}
train: {epochs: 100000, batch_size: 2, lr: 0.1, clip_grad_norm: 0, device: cpu, threads: 1}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def two_processes(config: Path, run_dir: Path, *overrides: str, resume: bool = False):
    where = ["--resume", run_dir] if resume else ["--run-dir", run_dir]
    args = ["train", config, *where, "--nproc", "2", "--quiet"]
    for item in overrides:
        args += ["-o", item]
    result = run_cli(*args, cwd=REPO, timeout=120)
    assert result.code == 0, result.err
    return result


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def dev_steps(run_dir: Path) -> list[int]:
    return [r["step"] for r in records(run_dir) if r["split"] == "dev"]


# ---------------------------------------------------------------- runs shared by the tests below

@pytest.fixture(scope="module")
def sincos_config(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("sincos") / "sincos.yaml", SINCOS)


@pytest.fixture(scope="module")
def sincos_resumed(sincos_config) -> dict:
    """A 2-process run stopped at step 40 (mid-epoch 3), then resumed under torchrun to its end."""
    run = sincos_config.parent / "two"
    two_processes(sincos_config, run, "train.batch_size=8", "train.max_steps=40")
    first = {"summary": json.loads((run / "summary.json").read_text()), "dev_steps": dev_steps(run),
             "last": torch.load(run / "checkpoints" / "last.pt", weights_only=True)["progress"]}
    two_processes(sincos_config, run, "train.batch_size=8", "train.max_steps=0", resume=True)
    return {"run": run, "first": first, "summary": json.loads((run / "summary.json").read_text())}


@pytest.fixture(scope="module")
def sincos_single(sincos_config) -> dict:
    return train(load_config(sincos_config), run_dir=sincos_config.parent / "one", quiet=True)


# ---------------------------------------------------------------- outputs

def test_two_processes_write_one_set_of_outputs(sincos_resumed):
    run = sincos_resumed["run"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines))
    keys = [(r["step"], r["split"]) for r in records(run)]
    assert len(keys) == len(set(keys)) and keys == sorted(keys, key=lambda k: (k[0], k[1] == "dev"))
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert files == [".seqtrain-run", "checkpoints/best.pt", "checkpoints/last.pt", "config.yaml", "loss.png",
                     "metrics.jsonl", "prediction.png", "summary.json"]


def test_each_process_takes_half_the_batches(sincos_resumed):
    assert sincos_resumed["summary"]["steps"] == 12 * SINCOS_STEPS_PER_EPOCH


def test_checkpoints_record_the_number_of_processes(sincos_resumed):
    ckpt = torch.load(sincos_resumed["run"] / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["progress"]["world_size"] == 2 and len(ckpt["rng"]["ranks"]) == 2


# ---------------------------------------------------------------- resume

def test_resumed_two_process_run_continues_from_its_step(sincos_resumed):
    first = sincos_resumed["first"]
    assert first["summary"]["stopped"] == "max_steps" and first["summary"]["steps"] == 40
    assert (first["last"]["step"], first["last"]["epoch"], first["last"]["batch_in_epoch"]) == (40, 2, 8)
    # epochs end every 16 steps; the stop at 40 added one evaluation; the resumed run goes on from there
    assert first["dev_steps"] == [16, 32, 40]
    assert dev_steps(sincos_resumed["run"]) == [16, 32, 40] + list(range(48, 12 * 16 + 1, 16))
    assert sincos_resumed["summary"]["stopped"] == "completed"


# ---------------------------------------------------------------- quality

def test_two_processes_reach_one_process_quality_sincos(sincos_resumed, sincos_single):
    # validation MSE starts near 0.5; across seeds the 1-process run ends between 0.006 and 0.009,
    # so two processes (another order of batches) must land in that band: below 0.03 and within 3x
    two, one = sincos_resumed["summary"]["final"]["mse"], sincos_single["final"]["mse"]
    assert one < 0.03 and two < 0.03
    assert max(one, two) / min(one, two) < 3


@pytest.mark.parametrize("config, per_process_batch, tolerance", [
    # dev accuracy of the toy tagger: 42 dev tokens, so 0.1 is 4 tokens (seeds move it by ~2-3)
    ("configs/pos-toy.yaml", 2, 0.10),
    # best dev loss (nats/char) of the tiny poetry model: 0.1 nats is 10% in perplexity
    ("configs/tang-tiny.yaml", 4, 0.10),
])
def test_two_processes_reach_one_process_quality(tmp_path, config, per_process_batch, tolerance):
    one = train(load_config(REPO / config, ["train.threads=1"]), run_dir=tmp_path / "one", quiet=True)
    two_processes(REPO / config, tmp_path / "two", f"train.batch_size={per_process_batch}")
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert two["steps"] == one["steps"]  # the same global batch: the same number of steps
    assert abs(two["best"]["value"] - one["best"]["value"]) <= tolerance, (one["best"], two["best"])


def test_entity_scores_of_whole_documents_sum_across_processes(tmp_path):
    # model.document_consistency: each process scores whole documents (the toy dev file's one and
    # two more), and their sums are the one-process evaluation of the same checkpoint
    dev = tmp_path / "dev.iob2"
    dev.write_text((REPO / "data/samples/ner-en-toy-dev.iob2").read_text() + "\n" + DOCUMENTS, encoding="utf-8")
    two_processes(REPO / "configs/ner-toy.yaml", tmp_path / "two", "train.epochs=4", "train.batch_size=4",
                  f"data.dev={dev}", "data.tokenizer=whitespace", "model.document_consistency=true")
    best = json.loads((tmp_path / "two" / "summary.json").read_text())["best"]
    one = evaluate_checkpoint(tmp_path / "two" / "checkpoints" / "best.pt")["metrics"]
    assert one["f1"] > 0 and one["f1"] == pytest.approx(best["value"], abs=1e-9)
    logged = [r["metrics"]["f1"] for r in records(tmp_path / "two") if r["split"] == "dev" and r["step"] == best["step"]]
    assert logged == [best["value"]]


# ---------------------------------------------------------------- failures and Ctrl-C

def test_an_error_on_one_process_stops_every_process_with_one_line(sincos_resumed):
    # only rank 0 claims the run directory; rank 1 must not be left waiting for it
    started = time.monotonic()
    result = run_cli("train", sincos_resumed["run"] / "config.yaml", "--run-dir", sincos_resumed["run"],
                     "--nproc", "2", "--quiet", cwd=REPO, timeout=90)
    assert_user_error(result, "already holds a run")
    assert time.monotonic() - started < 60


def test_ctrl_c_under_torchrun_saves_last_pt_once_and_exits_130(tmp_path):
    # hello's dev set is one example: process 1 evaluates nothing and adds zeros to the sums
    config = write(tmp_path / "hello.yaml", HELLO)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "seqtrain", "train", str(config), "--run-dir", str(run),
                             "--nproc", "2", "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 90
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.count("interrupted at epoch") == 1 and f"--resume {run}" in err
    saved = torch.load(last, weights_only=True)["progress"]
    assert saved["step"] > 0 and saved["world_size"] == 2


# ---------------------------------------------------------------- pieces

def test_process_shards_partition_the_global_batches():
    sizes = [(i * 7) % 13 + 1 for i in range(103)]
    whole = epoch_batches(sizes, 4, seed=3, epoch=2)
    for world_size in (2, 3, 4):
        shards = [epoch_batches(sizes, 4, seed=3, epoch=2, rank=r, world_size=world_size)
                  for r in range(world_size)]
        assert len({len(s) for s in shards}) == 1  # the same number of steps on every process
        usable = len(whole) - len(whole) % world_size
        assert sorted(map(tuple, sum(shards, []))) == sorted(map(tuple, whole[:usable]))


def test_unshuffled_batches_are_shared_within_each_batch():
    # streams carried across batches (tang data.mode: chunks): batch k holds chunk k of every
    # stream, so each process takes the same streams from every batch
    shards = [epoch_batches([5] * 24, 6, seed=0, epoch=0, shuffle=False, rank=r, world_size=2) for r in (0, 1)]
    assert shards[0] == [[0, 2, 4], [6, 8, 10], [12, 14, 16], [18, 20, 22]]
    assert shards[1] == [[1, 3, 5], [7, 9, 11], [13, 15, 17], [19, 21, 23]]


def test_nproc_is_dropped_from_the_command_torchrun_repeats():
    assert torchrun_args(2, ["train", "c.yaml", "--nproc", "2", "-q"]) == \
        ["--standalone", "--nproc-per-node=2", "--module", "seqtrain", "train", "c.yaml", "-q"]
    assert torchrun_args(3, ["train", "--nproc=3", "c.yaml"])[-2:] == ["train", "c.yaml"]


class Failure:
    def __init__(self, exitcode: int):
        self.exitcode = exitcode


def test_exit_status_is_the_workers_own_reason():
    assert exit_status({0: Failure(2), 1: Failure(-15)}) == 2  # rank 1 was stopped by torchrun
    assert exit_status({0: Failure(2), 1: Failure(1)}) == 1    # a crash outranks its peers' 2
    assert exit_status({0: Failure(130), 1: Failure(130)}) == 130
    assert exit_status({0: Failure(-9), 1: Failure(-9)}) == 137
