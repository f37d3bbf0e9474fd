"""train.average_decay: an exponential moving average of the weights, evaluated, saved as the
checkpoint's model (so predict uses it), and resumed exactly."""

import pytest
import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.inference import evaluate_checkpoint
from seqtrain.training.average import WeightAverage
from seqtrain.training.trainer import train

from test_trainer import assert_bitwise_equal, sincos

AVERAGED = ["train.average_decay=0.9"]


def test_the_average_moves_toward_each_steps_weights_by_one_minus_the_decay():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, decay=0.9)
    expected = torch.zeros(1, 2)
    for n in range(1, 30):
        with torch.no_grad():
            model.weight.fill_(float(n))
        average.update(model)
        keep = min(0.9, (1 + n) / (10 + n))  # the first updates keep less of the average
        expected = keep * expected + (1 - keep) * n
        assert torch.allclose(average.weights["weight"], expected)


def test_inside_applied_the_model_holds_the_average_and_after_it_its_own_weights():
    model = torch.nn.Linear(2, 1)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(model)
    trained = model.weight.detach().clone()
    with average.applied(model):
        assert torch.equal(model.weight, average.weights["weight"])
        assert not torch.equal(model.weight, trained)
    assert torch.equal(model.weight, trained)


def test_the_checkpoint_model_is_the_average_and_evaluate_scores_what_the_run_logged(tmp_path):
    summary = train(sincos(tmp_path, "train.epochs=2", *AVERAGED), run_dir=tmp_path / "run", quiet=True)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ckpt["average"]["updates"] == summary["steps"]
    assert any(not torch.equal(ckpt["model"][k], ckpt["average"]["trained"][k]) for k in ckpt["model"])
    again = evaluate_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["metrics"]
    assert again["mse"] == pytest.approx(summary["final"]["mse"], rel=1e-6)


def test_with_averaging_a_run_resumed_mid_epoch_ends_with_both_weights_of_the_uninterrupted_run(tmp_path):
    train(sincos(tmp_path, "train.epochs=2", *AVERAGED), run_dir=tmp_path / "whole", quiet=True)
    train(sincos(tmp_path, "train.epochs=2", "train.max_steps=4", *AVERAGED), run_dir=tmp_path / "split", quiet=True)
    train(sincos(tmp_path, "train.epochs=2", *AVERAGED), resume=tmp_path / "split", quiet=True)
    whole, split = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt") for run in ("whole", "split"))
    assert_bitwise_equal(whole["model"], split["model"])
    assert_bitwise_equal(whole["average"]["trained"], split["average"]["trained"])
    assert whole["average"]["updates"] == split["average"]["updates"] == 12


def test_averaging_turned_on_at_resume_starts_from_the_restored_weights(tmp_path):
    train(sincos(tmp_path, "train.epochs=1"), run_dir=tmp_path / "run", quiet=True)
    restored = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    train(sincos(tmp_path, "train.epochs=2", "train.max_steps=7", "train.average_decay=0.999"),
          resume=tmp_path / "run", quiet=True)
    after = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert after["average"]["updates"] == 1
    keep = 2 / 11  # the first update's share of the average
    for key, value in restored.items():
        expected = keep * value + (1 - keep) * after["average"]["trained"][key]
        assert torch.allclose(after["model"][key], expected, atol=1e-6), key
