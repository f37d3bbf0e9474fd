"""Guards for the trainer's behaviour, written before its redesign: each test fails when the behaviour
it is named for breaks (each was checked against a deliberately broken trainer).

Runs are tiny (hidden size 8, a few dozen steps, one thread); the runs several tests read are made
once per module.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_HELLO, snapshot
from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.errors import UserError
from seqtrain.data.batching import epoch_batches
from seqtrain.inference import evaluate_checkpoint
from seqtrain.tasks import load_config
from seqtrain.training.trainer import train


# ---------------------------------------------------------------- helpers

def config(tmp: Path, task: str, overrides: list[str], text: str | None = None):
    path = tmp / f"{task}.yaml"
    path.write_text(text or f"task: {task}\n")
    return load_config(path, ["train.device=cpu", "train.threads=1", *overrides])


def ckpt(run: Path, name: str = "last.pt") -> dict:
    return load_checkpoint(run / "checkpoints" / name)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def dev(run: Path, metric: str) -> list[tuple[int, float]]:
    return [(r["step"], r["metrics"][metric]) for r in records(run) if r["split"] == "dev"]


def without_elapsed(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "elapsed"} for r in records(run)]


def assert_tensors_equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: {key}"


def assert_same_state(a, b, where: str = "") -> None:
    """Nested state dicts (optimizer, scheduler): every tensor torch.equal, every other value ==."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a.keys(), getattr(b, "keys", None))
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


# ---------------------------------------------------------------- 1. resume is exact, and reads the checkpoint

# 6 steps an epoch, an evaluation every 3 steps, dropout (the random state matters), a per-epoch
# learning-rate decay (the scheduler state matters). Dev MSE is best at step 6 and worse after it, so
# best / best_step / bad_evals carried over the resume point matter too.
RESUME = ["data.train_windows=96", "data.dev_windows=16", "data.steps=12", "model.hidden_size=8",
          "model.num_layers=2", "model.dropout=0.3", "train.batch_size=16", "train.lr=0.05",
          "train.eval_every=3", "train.schedule.name=step", "train.schedule.step_size=1",
          "train.schedule.gamma=0.5"]
STEPS_PER_EPOCH = 96 // 16


@pytest.fixture(scope="module")
def resume_runs(tmp_path_factory) -> dict:
    """An uninterrupted 3-epoch run; one stopped by train.max_steps mid-epoch 2 and resumed to its end;
    one trained for 2 epochs and resumed with train.epochs=3."""
    root = tmp_path_factory.mktemp("resume")
    cfg = lambda *extra: config(root, "sincos", RESUME + list(extra))  # noqa: E731
    train(cfg("train.epochs=3"), run_dir=root / "whole", quiet=True)
    train(cfg("train.epochs=3", "train.max_steps=9"), run_dir=root / "split", quiet=True)
    split_at = ckpt(root / "split")
    train(cfg("train.epochs=3"), resume=root / "split", quiet=True)
    train(cfg("train.epochs=2"), run_dir=root / "longer", quiet=True)
    longer_at = ckpt(root / "longer")
    longer_before = records(root / "longer")
    summary = train(cfg("train.epochs=3"), resume=root / "longer", quiet=True)
    return {"whole": root / "whole", "split": root / "split", "split_at": split_at,
            "longer": root / "longer", "longer_at": longer_at, "longer_before": longer_before,
            "longer_summary": summary}


def test_resume_mid_epoch_ends_in_the_exact_state_of_an_uninterrupted_run(resume_runs):
    at = resume_runs["split_at"]["progress"]
    assert (at["step"], at["epoch"], at["batch_in_epoch"]) == (9, 1, 3)  # stopped mid-epoch 2
    assert at["best_step"] == 6 and at["bad_evals"] == 1  # the resumed run must carry these on
    whole, split = ckpt(resume_runs["whole"]), ckpt(resume_runs["split"])
    assert whole["progress"]["step"] == 3 * STEPS_PER_EPOCH
    assert_tensors_equal(whole["model"], split["model"], "model weights")
    assert_same_state(whole["optimizer"], split["optimizer"], "optimizer")
    assert whole["optimizer"]["state"], "the optimizer state is empty: nothing compared"
    assert whole["scheduler"] is not None
    assert_same_state(whole["scheduler"], split["scheduler"], "scheduler")
    assert torch.equal(whole["rng"]["torch"], split["rng"]["torch"]), "random state"
    for key in ("step", "epoch", "batch_in_epoch", "best", "best_step", "bad_evals"):
        assert whole["progress"][key] == split["progress"][key], key
    # dev MSE got worse after step 6: the run's best must have survived the resume
    assert whole["progress"]["best_step"] == 6 and whole["progress"]["bad_evals"] == 4
    assert without_elapsed(resume_runs["split"]) == without_elapsed(resume_runs["whole"])


def test_resume_with_more_epochs_continues_from_the_checkpoint_step(resume_runs):
    at = resume_runs["longer_at"]["progress"]
    assert (at["step"], at["epoch"]) == (2 * STEPS_PER_EPOCH, 2)
    before = [(r["step"], r["split"]) for r in resume_runs["longer_before"]]
    after = [(r["step"], r["split"]) for r in records(resume_runs["longer"])]
    assert after[:len(before)] == before  # what was logged before the resume is kept
    new = after[len(before):]
    assert len(after) == len(set(after)), "a step was logged twice"
    assert new and all(step > at["step"] for step, _ in new), new
    new_dev = [step for step, split in new if split == "dev"]
    # the first new evaluation is train.eval_every steps after the checkpoint, the last at 3 epochs
    assert new_dev == [at["step"] + 3, 3 * STEPS_PER_EPOCH]
    assert resume_runs["longer_summary"]["steps"] == 3 * STEPS_PER_EPOCH
    # and it trained exactly like the uninterrupted 3-epoch run
    whole, longer = ckpt(resume_runs["whole"]), ckpt(resume_runs["longer"])
    assert_tensors_equal(whole["model"], longer["model"], "model weights")
    assert_same_state(whole["optimizer"], longer["optimizer"], "optimizer")
    assert_same_state(whole["scheduler"], longer["scheduler"], "scheduler")
    assert without_elapsed(resume_runs["longer"]) == without_elapsed(resume_runs["whole"])


def test_resume_with_more_epochs_anneals_the_cosine_schedule_over_the_new_length(tmp_path):
    cfg = lambda *extra: config(tmp_path, "sincos", RESUME + ["train.schedule.name=cosine", *extra])  # noqa: E731
    train(cfg("train.epochs=2"), run_dir=tmp_path / "split", quiet=True)
    assert ckpt(tmp_path / "split")["scheduler"]["T_max"] == 12
    train(cfg("train.epochs=3"), resume=tmp_path / "split", quiet=True)
    resumed = ckpt(tmp_path / "split")
    assert resumed["scheduler"]["T_max"] == 18 and resumed["progress"]["step"] == 18
    dev = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    after = [r["lr"] for r in dev if r["split"] == "dev" and 12 < r["step"] < 18]
    assert after and all(lr > 1e-6 for lr in after)  # not stuck at the minimum the first plan reached


def test_a_run_stopped_by_max_steps_and_resumed_follows_the_uninterrupted_cosine_schedule(tmp_path):
    cfg = lambda *extra: config(tmp_path, "sincos", RESUME + ["train.schedule.name=cosine", *extra])  # noqa: E731
    train(cfg("train.epochs=3"), run_dir=tmp_path / "whole", quiet=True)
    train(cfg("train.epochs=3", "train.max_steps=9"), run_dir=tmp_path / "split", quiet=True)
    train(cfg("train.epochs=3"), resume=tmp_path / "split", quiet=True)
    assert_same_state(ckpt(tmp_path / "whole")["scheduler"], ckpt(tmp_path / "split")["scheduler"], "scheduler")
    assert_tensors_equal(ckpt(tmp_path / "whole")["model"], ckpt(tmp_path / "split")["model"], "model")



def test_the_closing_evaluation_of_a_stopped_run_steers_neither_early_stopping_nor_the_plateau_schedule(tmp_path):
    # step 8 is not an evaluation step (every 3): the stopped run evaluates there once more, off schedule
    cfg = lambda *extra: config(tmp_path, "sincos", RESUME + [  # noqa: E731
        "train.schedule.name=plateau", "train.schedule.patience=0", "train.early_stopping=3", *extra])
    train(cfg("train.epochs=3"), run_dir=tmp_path / "whole", quiet=True)
    train(cfg("train.epochs=3", "train.max_steps=8"), run_dir=tmp_path / "split", quiet=True)
    stopped = ckpt(tmp_path / "split")
    assert stopped["progress"]["step"] == 8 and [r["step"] for r in records(tmp_path / "split")][-1] == 8
    assert (stopped["progress"]["best_step"], stopped["progress"]["bad_evals"]) == (6, 0)
    train(cfg("train.epochs=3"), resume=tmp_path / "split", quiet=True)
    whole, split = ckpt(tmp_path / "whole"), ckpt(tmp_path / "split")
    assert_same_state(whole["scheduler"], split["scheduler"], "scheduler")
    for key in ("step", "best", "best_step", "bad_evals"):
        assert whole["progress"][key] == split["progress"][key], key
    assert_tensors_equal(whole["model"], split["model"], "model")

# ---------------------------------------------------------------- 2. Ctrl-C

CTRL_C_HELLO = """\
task: hello
data: {pairs: [[hello, ohlol]], repeat: 50000}
model: {cell: rnn, hidden_size: 4}
train: {epochs: 2, batch_size: 2, lr: 0.1, device: cpu, threads: 1}
"""  # 25000 steps an epoch, evaluated (and checkpointed) only at its end


@pytest.mark.slow
def test_ctrl_c_saves_last_pt_at_the_step_the_message_names(tmp_path):
    cfg = tmp_path / "hello.yaml"
    cfg.write_text(CTRL_C_HELLO)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "seqtrain", "train", str(cfg), "--run-dir", str(run), "-q"],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "config.yaml").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(1.5)  # into the step loop, far from the end of the epoch
        assert proc.poll() is None, proc.communicate()
        assert not (run / "checkpoints" / "last.pt").exists(), "a checkpoint existed before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    found = re.search(r"interrupted at epoch (\d+), step (\d+)", err)
    assert found, err
    epoch, step = int(found[1]), int(found[2])
    assert epoch == 1 and 0 < step < 25000, err
    saved = load_checkpoint(run / "checkpoints" / "last.pt")["progress"]
    assert saved["step"] == step
    assert saved["epoch"] == 0 and saved["batch_in_epoch"] == step


# ---------------------------------------------------------------- 3. best.pt follows the monitored metric

# TINY_HELLO with adam at lr 1.0 and an evaluation every 2 steps (24 in all): dev loss and accuracy
# go up and down (loss is best at step 18 of 24, accuracy first reaches its best at step 8)
BEST_HELLO = ["train.epochs=6", "train.eval_every=2", "train.lr=1.0", "train.optimizer=adam"]


@pytest.mark.parametrize("monitor, mode, other", [("loss", min, max), ("accuracy", max, min)])
def test_best_pt_is_the_evaluation_with_the_best_monitored_value(tmp_path, monitor, mode, other):
    run = tmp_path / "run"
    train(config(tmp_path, "hello", BEST_HELLO + [f"train.monitor={monitor}"], TINY_HELLO),
          run_dir=run, quiet=True)
    values = dev(run, monitor)
    best_value = mode(v for _, v in values)
    best_step = next(s for s, v in values if v == best_value)  # the first to reach it
    # preconditions: a later evaluation was worse, and the opposite direction would pick another step
    assert values[-1][0] != best_step, values
    assert next(s for s, v in values if v == other(v for _, v in values)) != best_step, values
    if monitor == "accuracy":  # and the default monitor (loss) would pick another step too
        losses = dev(run, "loss")
        assert min(losses, key=lambda sv: sv[1])[0] != best_step, (values, losses)
    best, last = ckpt(run, "best.pt"), ckpt(run, "last.pt")
    assert best["progress"]["step"] == best_step, (values, best["progress"])
    assert best["progress"]["best"] == best_value
    assert last["progress"]["step"] == values[-1][0] and last["progress"]["best_step"] == best_step
    # best.pt holds the weights of that evaluation, not only its label
    assert evaluate_checkpoint(run / "checkpoints" / "best.pt")["metrics"][monitor] == pytest.approx(best_value)
    assert any(not torch.equal(best["model"][k], last["model"][k]) for k in best["model"])


# ---------------------------------------------------------------- 4. optimizers

# dt = 1 rad a step makes cos(t) a linear function of two successive inputs: 36 steps learn it
# (dev MSE 0.002-0.007 over seeds 0-4 for every optimizer; predicting 0 scores 0.5)
FAST_SINCOS = ["data.train_windows=96", "data.dev_windows=32", "data.steps=12", "data.dt=1.0",
               "model.cell=rnn", "model.hidden_size=8", "train.batch_size=8", "train.epochs=3",
               "train.schedule.name=none"]


@pytest.mark.parametrize("optimizer, settings", [
    ("sgd", ["train.lr=0.1", "train.momentum=0.9"]),
    ("adam", ["train.lr=0.03"]),
    ("adamw", ["train.lr=0.03", "train.weight_decay=0.01"]),
])
def test_the_configured_optimizer_is_used_and_trains_sincos(tmp_path, optimizer, settings):
    summary = train(config(tmp_path, "sincos", FAST_SINCOS + [f"train.optimizer={optimizer}", *settings]),
                    run_dir=tmp_path / "run", quiet=True)
    state = ckpt(tmp_path / "run")["optimizer"]
    group = state["param_groups"][0]
    if optimizer == "sgd":
        assert group.get("momentum") == 0.9 and "betas" not in group
    else:
        assert "momentum" not in group and group["betas"] == (0.9, 0.999)
        decoupled = group.get("decoupled_weight_decay", None)
        if decoupled is not None:  # torch >= 2.6 records it; AdamW is Adam with it on
            assert decoupled == (optimizer == "adamw")
        assert group["weight_decay"] == (0.01 if optimizer == "adamw" else 0.0)
    assert state["state"], "no per-parameter state (momentum buffers, moment estimates): it never stepped"
    per_param = next(iter(state["state"].values()))
    if optimizer == "sgd":
        assert "momentum_buffer" in per_param and "exp_avg" not in per_param
    else:
        assert {"exp_avg", "exp_avg_sq"} <= per_param.keys()
    assert group["lr"] == float(settings[0].split("=")[1])
    assert summary["final"]["mse"] < 0.05, summary["final"]


# ---------------------------------------------------------------- 5. clip_grad_norm

CLIP_LR, CLIP = 0.1, 0.01


def one_sgd_step(tmp_path, name: str, lr: float, clip: float) -> dict[str, torch.Tensor]:
    run = tmp_path / name
    train(config(tmp_path, "sincos", FAST_SINCOS + ["train.optimizer=sgd", "train.momentum=0", f"train.lr={lr}",
                                                    f"train.clip_grad_norm={clip}", "train.max_steps=1"]),
          run_dir=run, quiet=True)
    assert ckpt(run)["progress"]["step"] == 1
    return {k: v.double() for k, v in ckpt(run)["model"].items()}


def flat(delta: dict) -> torch.Tensor:
    return torch.cat([v.flatten() for v in delta.values()])


def test_clip_grad_norm_bounds_the_sgd_update_to_lr_times_clip(tmp_path):
    # a step at a vanishing rate leaves the initial weights (same seed, same initialisation)
    start = one_sgd_step(tmp_path, "start", 1e-30, 0)
    clipped = flat({k: v - start[k] for k, v in one_sgd_step(tmp_path, "clipped", CLIP_LR, CLIP).items()})
    free = flat({k: v - start[k] for k, v in one_sgd_step(tmp_path, "free", CLIP_LR, 0).items()})
    bound = CLIP_LR * CLIP
    assert free.norm() > 10 * bound, "the unclipped gradient is too small for this test to mean anything"
    assert clipped.norm() <= bound * 1.001, (clipped.norm(), bound)
    assert clipped.norm() >= bound * 0.99  # scaled down to the bound, not further
    cosine = torch.dot(clipped, free) / (clipped.norm() * free.norm())
    assert cosine > 0.999, cosine  # clipping the norm keeps the direction


# ---------------------------------------------------------------- 6. batches: bucketing, shuffling, shards

def flatten(batches: list[list[int]]) -> list[int]:
    return [i for b in batches for i in b]


def test_bucketed_batches_are_consecutive_runs_of_the_length_order():
    # one window (<= batch_size * 50 examples): the batches are the length-sorted order cut in pieces
    sizes = torch.randperm(150, generator=torch.Generator().manual_seed(1)).add(1).tolist()  # distinct
    batches = epoch_batches(sizes, 4, seed=5, epoch=0)
    by_length = sorted(range(len(sizes)), key=lambda i: sizes[i])
    chunks = {tuple(by_length[i:i + 4]) for i in range(0, len(sizes), 4)}
    assert {tuple(sorted(b, key=lambda i: sizes[i])) for b in batches} == chunks
    assert [len(b) for b in batches].count(4) == len(batches) - 1  # only one short batch
    # batches are shuffled, not served shortest first
    assert [min(sizes[i] for i in b) for b in batches] != sorted(min(sizes[i] for i in b) for b in batches)


def test_bucketing_sorts_within_windows_of_50_batches_not_the_whole_epoch():
    # two lengths, 4 windows of 200: each window holds at most one batch mixing both lengths
    n, batch_size = 800, 4
    sizes = [1 + (i % 2) for i in range(n)]
    batches = epoch_batches(sizes, batch_size, seed=0, epoch=0)
    mixed = [b for b in batches if len({sizes[i] for i in b}) > 1]
    assert len(mixed) <= n // (batch_size * 50)
    unbucketed = epoch_batches(sizes, batch_size, seed=0, epoch=0, bucket=False)
    assert sum(len({sizes[i] for i in b}) > 1 for b in unbucketed) > len(batches) // 2
    # windows are random: which examples share a batch changes from epoch to epoch
    distinct = torch.randperm(n, generator=torch.Generator().manual_seed(2)).tolist()
    groups = lambda e: {frozenset(b) for b in epoch_batches(distinct, batch_size, seed=0, epoch=e)}  # noqa: E731
    assert len(groups(0) & groups(1)) < len(groups(0)) // 2


@pytest.mark.parametrize("bucket, shuffle", [(True, True), (False, True), (True, False)])
def test_every_example_appears_exactly_once_per_epoch(bucket, shuffle):
    sizes = [(i * 7) % 13 + 1 for i in range(103)]
    batches = epoch_batches(sizes, 4, seed=3, epoch=2, bucket=bucket, shuffle=shuffle)
    assert sorted(flatten(batches)) == list(range(103))
    assert all(0 < len(b) <= 4 for b in batches)


def test_batch_order_depends_only_on_seed_and_epoch():
    sizes = [(i * 7) % 13 + 1 for i in range(400)]
    first = epoch_batches(sizes, 4, seed=3, epoch=2)
    torch.manual_seed(12345)  # the global generator must not matter
    torch.rand(7)
    assert epoch_batches(sizes, 4, seed=3, epoch=2) == first
    assert epoch_batches(sizes, 4, seed=3, epoch=3) != first
    assert epoch_batches(sizes, 4, seed=4, epoch=2) != first
    assert flatten(epoch_batches(sizes, 4, seed=3, epoch=2, bucket=False)) != list(range(400))


def test_unshuffled_batches_keep_the_example_order():
    sizes = [(i * 7) % 13 + 1 for i in range(103)]
    for epoch in (0, 1):
        batches = epoch_batches(sizes, 4, seed=3, epoch=epoch, shuffle=False)
        assert batches == [list(range(i, min(i + 4, 103))) for i in range(0, 103, 4)]


@pytest.mark.parametrize("shuffle", [True, False])
def test_two_process_shards_are_disjoint_and_equally_long(shuffle):
    sizes = [(i * 7) % 13 + 1 for i in range(99)]  # 25 batches of 4: one cannot be shared out
    shards = [epoch_batches(sizes, 4, seed=3, epoch=1, rank=r, world_size=2, shuffle=shuffle) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) > 0  # the same number of steps on both processes
    assert not set(flatten(shards[0])) & set(flatten(shards[1]))
    assert len(set(flatten(shards[0]))) == len(flatten(shards[0]))
    assert len(flatten(shards[0]) + flatten(shards[1])) >= 99 - 4  # at most one batch left out


# ---------------------------------------------------------------- 7. data: data_dir, changed data

FILE_HELLO = """\
task: hello
data: {file: guard-pairs.tsv, repeat: 4}
model: {cell: rnn, hidden_size: 4}
train: {epochs: 1, batch_size: 2}
"""


def file_run(tmp_path) -> tuple:
    root = tmp_path / "data-root"
    root.mkdir()
    (root / "guard-pairs.tsv").write_text("hello\tohlol\nabc\tcba\n")
    cfg = config(tmp_path, "hello", [], FILE_HELLO)
    train(cfg, run_dir=tmp_path / "run", data_dir=root, quiet=True)
    return cfg, root, tmp_path / "run"


def test_data_dir_resolves_a_relative_data_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQTRAIN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data here: only data_dir can find the file
    _, _, run = file_run(tmp_path)
    chars = ckpt(run)["task_state"]["chars"]
    assert "".join(chars) == "abcehlo"  # the file's pairs were read, not the default hello pair
    assert ckpt(run)["progress"]["step"] == 2 * 4 // 2


def test_resume_refuses_changed_training_data(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQTRAIN_DATA", raising=False)
    cfg, root, run = file_run(tmp_path)
    (root / "guard-pairs.tsv").write_text("hello\tohlol\nxyz\tzyx\n")  # another vocabulary
    before = snapshot(run)
    with pytest.raises(UserError, match="training data changed"):
        train(cfg, resume=run, data_dir=root, quiet=True)
    assert snapshot(run) == before


# ---------------------------------------------------------------- 8. DDP: every process ends with the same weights

DDP_SINCOS = """\
task: sincos
data: {train_windows: 64, dev_windows: 16, steps: 12, dt: 1.0}
model: {cell: rnn, hidden_size: 8, dropout: 0.0}
train: {epochs: 2, batch_size: 4, lr: 0.03, device: cpu, threads: 1, schedule: {name: none}}
"""

# Only rank 0 writes checkpoints: each process saves its own weights through the trainer's
# end-of-training hook.
DDP_SCRIPT = """\
import os, sys
from pathlib import Path
import torch
from seqtrain.tasks import load_config
from seqtrain.training.parts import Callback
from seqtrain.training.trainer import train

config, out = Path(sys.argv[1]), Path(sys.argv[2])

class SaveEachRank(Callback):
    def on_train_end(self, trainer, summary):
        state = trainer.state.model.state_dict()
        torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, out / f"rank{os.environ['RANK']}.pt")

train(load_config(config), run_dir=out / "run", quiet=True, callbacks=[SaveEachRank()])
# leave as `seqtrain train` does under torchrun (cli.main): without the interpreter's teardown, where
# gloo's threads now and then abort a process ("terminate called without an active exception")
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_ddp_processes_end_with_equal_weights(tmp_path):
    (tmp_path / "sincos.yaml").write_text(DDP_SINCOS)
    (tmp_path / "each_rank.py").write_text(DDP_SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(tmp_path / "each_rank.py"), str(tmp_path / "sincos.yaml"), str(tmp_path)],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:])
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    last = ckpt(tmp_path / "run")
    assert last["progress"]["world_size"] == 2 and last["progress"]["step"] == 2 * 64 // (4 * 2)
    assert_tensors_equal(ranks[0], last["model"], "rank 0 vs last.pt")  # the recorded model is the trained one
    assert_tensors_equal(ranks[0], ranks[1], "rank 0 vs rank 1")
    assert math.isfinite(last["metrics"]["mse"]) and last["metrics"]["mse"] < 0.2  # it did train (0.04 here)


def test_a_monitored_metric_goes_the_way_its_task_declares_not_the_way_its_name_suggests(tmp_path):
    # unknown_share has no "loss" in its name, yet a smaller share of unknown words is what the POS task
    # declares better; best.pt then follows the minimum
    from seqtrain.tasks import TASKS
    from seqtrain.training.parts import monitored_metric

    assert monitored_metric("unknown_share", TASKS["pos"]) == ("unknown_share", "min")
    assert monitored_metric("", TASKS["pos"]) == ("accuracy", "max")
    assert monitored_metric("below_bigram", TASKS["tang"]) == ("below_bigram", "max")
