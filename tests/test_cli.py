"""The command line as a user meets it."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import cli
from seqtrain.tasks import config_from_dict

REPO = Path(__file__).resolve().parent.parent


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "seqtrain", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_help_does_not_import_torch():
    code = ("import sys; sys.argv=['seqtrain','--help']\nfrom seqtrain.cli import app\n"
            "try: app()\nexcept SystemExit: pass\nprint('torch' in sys.modules, 'gensim' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip().endswith("False False")


@pytest.mark.slow
def test_every_command_has_help():
    for command in ["train", "evaluate", "predict", "info", "config"]:
        done = run(command, "--help")
        assert done.returncode == 0 and "Usage" in done.stdout, command


def test_train_prints_each_evaluations_report_and_a_summary(hello_config, tmp_path):
    # training a hello run to "ohlol" and predicting it in a fresh process: test_every_task.py
    done = cli("train", hello_config, "--run-dir", tmp_path / "run")
    assert done.code == 0, done.err
    assert "hello -> " in done.err  # the per-evaluation report: each shown input and its prediction
    assert "training summary" in done.out


def test_info_names_the_task_and_its_vocabulary(hello_run):
    info = cli("info", hello_run)
    assert info.code == 0, info.err
    assert "hello" in info.out and "vocab chars" in info.out


@pytest.mark.slow
def test_bad_override_is_one_line_and_exit_2(tmp_path):
    done = run("train", "configs/hello.yaml", "-o", "train.epoch=3", "--run-dir", tmp_path / "run")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: train.epoch: unknown key (did you mean 'epochs'?) (valid: epochs, "
                                   "max_steps, batch_size, optimizer, lr, momentum, weight_decay, schedule, "
                                   "clip_grad_norm, average_decay, eval_every, monitor, early_stopping, bucket, device, "
                                   "precision, threads, on_nan, log_every)")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_states_file_holds_every_step(tmp_path):
    assert run("train", "configs/hello.yaml", "--run-dir", tmp_path / "run", "-q").returncode == 0
    done = run("predict", tmp_path / "run", "hello", "hell", "--states", tmp_path / "states.npz")
    assert done.returncode == 0, done.stderr
    import numpy as np

    states = np.load(tmp_path / "states.npz")
    assert states["h"].shape == (1, 1, 2, 5, 4) and states["lengths"].tolist() == [5, 4]


@pytest.mark.slow
def test_config_command_prints_a_loadable_default_config():
    done = run("config", "sincos")
    assert done.returncode == 0, done.stderr
    cfg = config_from_dict(yaml.safe_load(done.stdout))
    assert cfg.task == "sincos" and cfg.model.hidden_size == 32
