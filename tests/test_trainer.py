"""The shared trainer: exact resume, atomic checkpoints, run directory contents, schedules."""

import json

import pytest
import torch
import yaml

from seqtrain.core.checkpoint import load_checkpoint, save_checkpoint
from seqtrain.tasks import load_config
from seqtrain.core.errors import UserError
from seqtrain.training.trainer import train

SMALL_SINCOS = ["data.train_windows=96", "data.dev_windows=16", "data.steps=12", "model.hidden_size=8",
                "model.num_layers=2", "model.dropout=0.3", "train.batch_size=16", "train.schedule.name=none",
                "train.threads=1"]


def sincos(tmp_path, *extra):
    path = tmp_path / "sincos.yaml"
    path.write_text("task: sincos\n")
    return load_config(path, SMALL_SINCOS + list(extra))


def weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_after_an_epoch_reaches_the_same_weights_bitwise(tmp_path):
    train(sincos(tmp_path, "train.epochs=4"), run_dir=tmp_path / "whole", quiet=True)
    train(sincos(tmp_path, "train.epochs=2"), run_dir=tmp_path / "split", quiet=True)
    summary = train(sincos(tmp_path, "train.epochs=4"), resume=tmp_path / "split", quiet=True)
    assert summary["epochs"] == 4 and summary["steps"] == 4 * 6
    assert_bitwise_equal(weights(tmp_path / "whole"), weights(tmp_path / "split"))


def test_resume_in_the_middle_of_an_epoch_is_exact(tmp_path):
    train(sincos(tmp_path, "train.epochs=2"), run_dir=tmp_path / "whole", quiet=True)
    train(sincos(tmp_path, "train.epochs=2", "train.max_steps=4"), run_dir=tmp_path / "split", quiet=True)
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["progress"]["batch_in_epoch"] == 4
    train(sincos(tmp_path, "train.epochs=2"), resume=tmp_path / "split", quiet=True)
    assert_bitwise_equal(weights(tmp_path / "whole"), weights(tmp_path / "split"))


def test_resume_refuses_a_changed_model(tmp_path):
    train(sincos(tmp_path, "train.epochs=1"), run_dir=tmp_path / "run", quiet=True)
    with pytest.raises(UserError, match="model.hidden_size: differs from the run being resumed"):
        train(sincos(tmp_path, "train.epochs=2", "model.hidden_size=9"), resume=tmp_path / "run", quiet=True)


def test_run_directory_holds_config_metrics_summary_and_checkpoints(tmp_path):
    run = tmp_path / "run"
    summary = train(sincos(tmp_path, "train.epochs=2"), run_dir=run, quiet=True)
    stored = yaml.safe_load((run / "config.yaml").read_text())
    assert stored["model"]["hidden_size"] == 8 and stored["train"]["epochs"] == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    dev = [r for r in records if r["split"] == "dev"]
    assert [r["epoch"] for r in dev] == [1, 2]
    assert {"step", "epoch", "split", "metrics", "elapsed"} <= dev[0].keys()
    assert json.loads((run / "summary.json").read_text())["best"] == summary["best"]
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["config"] == stored
    assert best["progress"]["best"] == min(r["metrics"]["mse"] for r in dev)
    assert (run / "loss.png").stat().st_size > 0 and (run / "prediction.png").stat().st_size > 0


def test_checkpoints_hold_only_plain_data(tmp_path):
    train(sincos(tmp_path, "train.epochs=1"), run_dir=tmp_path / "run", quiet=True)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert {"config", "task_state", "model", "optimizer", "rng", "progress"} <= ckpt.keys()


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"task": "x", "value": torch.ones(3)}, path)

    def disk_full(obj, f):
        f.write(b"partial bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        save_checkpoint({"task": "x", "value": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["value"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_early_stopping_stops_after_patience(tmp_path):
    # a learning rate this small cannot improve validation MSE by much; patience 1 stops it early
    summary = train(sincos(tmp_path, "train.epochs=30", "train.lr=1e-9", "train.early_stopping=1",
                           "train.monitor=loss"), run_dir=tmp_path / "run", quiet=True)
    assert summary["stopped"] == "early_stopping" and summary["epochs"] < 30


@pytest.mark.parametrize("schedule", ["step", "plateau", "cosine"])
def test_schedules_lower_the_learning_rate(tmp_path, schedule):
    run = tmp_path / schedule
    train(sincos(tmp_path, "train.epochs=3", f"train.schedule.name={schedule}", "train.schedule.step_size=1",
                 "train.schedule.patience=0", "train.lr=1e-6" if schedule == "plateau" else "train.lr=1e-3"),
          run_dir=run, quiet=True)
    rates = [json.loads(line)["lr"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rates[-1] < rates[0]


def test_max_steps_ends_training(tmp_path):
    summary = train(sincos(tmp_path, "train.epochs=5", "train.max_steps=3"), run_dir=tmp_path / "r", quiet=True)
    assert summary["steps"] == 3 and summary["stopped"] == "max_steps"


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_every_optimizer_trains(tmp_path, optimizer):
    summary = train(sincos(tmp_path, "train.epochs=2", f"train.optimizer={optimizer}", "train.lr=0.01",
                           "train.momentum=0.9" if optimizer == "sgd" else "train.weight_decay=0.01"),
                    run_dir=tmp_path / optimizer, quiet=True)
    assert summary["final"]["mse"] < 0.6


def test_a_checkpoint_holds_exactly_the_schema(tmp_path):
    from seqtrain.training.state import CHECKPOINT_SCHEMA

    train(sincos(tmp_path, "train.epochs=1"), run_dir=tmp_path / "run", quiet=True)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt").keys() == CHECKPOINT_SCHEMA.keys()
