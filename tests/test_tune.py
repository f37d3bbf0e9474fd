"""seqtrain tune: a study of ordinary runs, best.yaml, resuming a killed study, pruning, a shared
storage, and bad search spaces refused before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_HELLO, assert_user_error, cli

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

SPACE = "train.lr: {low: 0.02, high: 0.3, log: true}\nmodel.hidden_size: {choices: [4, 8]}\n"


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with hello.yaml and space.yaml, made the working directory (runs/ goes there)."""
    (tmp_path / "hello.yaml").write_text(TINY_HELLO)
    (tmp_path / "space.yaml").write_text(SPACE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tune_args(*extra: str) -> list[str]:
    return ["tune", "hello.yaml", "--space", "space.yaml", *extra]


def popen_tune(cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "seqtrain", *tune_args(*args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load(study_dir: Path, name: str = "default"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / 'study.db'}")


def states(study) -> dict[int, TrialState]:
    return {t.number: t.state for t in study.get_trials(deepcopy=False)}


@pytest.mark.slow
def test_study_writes_best_yaml_that_trains_to_the_same_metric(workdir):
    result = cli(*tune_args("--trials", "4", "--pruner", "none", "--plots", "--json"))
    assert result.code == 0, result.err
    out = json.loads(result.out)
    study_dir = workdir / "runs" / "hello-tune" / "default"
    assert out["counts"] == {"complete": 4, "pruned": 0, "fail": 0, "running": 0}
    for n in range(4):  # every trial is an ordinary run
        run = study_dir / f"trial-{n}"
        assert (run / "config.yaml").exists() and (run / "metrics.jsonl").exists()
        assert (run / "checkpoints" / "best.pt").exists() and (run / "loss.png").exists()
    best = out["best"]
    values = [t["value"] for t in out["trials"]]
    assert best["value"] == min(values)  # hello's loss is minimised
    best_yaml = study_dir / "best.yaml"
    assert out["best_yaml"] == str(Path("runs/hello-tune/default/best.yaml"))
    # best.yaml is the best trial's fully resolved config, and trains to the same metric, exactly
    assert yaml.safe_load(best_yaml.read_text()) == yaml.safe_load((Path(best["run_dir"]) / "config.yaml").read_text())
    again = cli("train", best_yaml, "--run-dir", workdir / "again", "--quiet")
    assert again.code == 0, again.err
    summary = json.loads((workdir / "again" / "summary.json").read_text())
    assert summary["best"]["value"] == best["value"]
    assert sorted(Path(p).name for p in out["plots"]) == ["optimization-history.png", "param-importances.png"]
    assert all(Path(p).stat().st_size > 0 for p in out["plots"])


@pytest.mark.slow
def test_a_killed_study_continues_to_exactly_n_finished_trials(workdir):
    args = ("--trials", "2", "--pruner", "none", "-o", "train.epochs=60")
    first = popen_tune(workdir, *args)
    trial0 = workdir / "runs" / "hello-tune" / "default" / "trial-0"
    deadline = time.monotonic() + 60
    while not (trial0 / "metrics.jsonl").exists():  # trial 0 is training
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (trial0 / "summary.json").exists()  # it was killed mid-trial
    assert states(load(trial0.parent)) == {0: TrialState.RUNNING}

    second = cli(*tune_args(*args, "--json"))
    assert second.code == 0, second.err
    assert "trial 0: its process is gone; marked failed" in second.err
    assert states(load(trial0.parent)) == {0: TrialState.FAIL, 1: TrialState.COMPLETE, 2: TrialState.COMPLETE}
    assert json.loads(second.out)["counts"] == {"complete": 2, "pruned": 0, "fail": 1, "running": 0}
    third = cli(*tune_args(*args, "--json"))  # a finished study runs no more trials
    assert third.code == 0 and "trial" not in third.err.replace("trials", ""), third.err
    assert len(states(load(trial0.parent))) == 3


@pytest.mark.slow
def test_the_pruner_stops_a_trial_whose_metric_is_bad(workdir):
    (workdir / "space.yaml").write_text("seed: {choices: [0, 1]}\n")
    common = ("--pruner", "median", "--startup-trials", "2", "--sampler", "random")
    good = cli(*tune_args("--trials", "2", *common, "-o", "train.lr=0.1", "-o", "train.epochs=6"))
    assert good.code == 0, good.err
    # the same study, now with a learning rate far too small: its first evaluation is worse than
    # the median of the earlier trials at that evaluation
    bad = cli(*tune_args("--trials", "3", *common, "-o", "train.lr=0.0001", "-o", "train.epochs=6", "--json"))
    assert bad.code == 0, bad.err
    study_dir = workdir / "runs" / "hello-tune" / "default"
    assert states(load(study_dir)) == {0: TrialState.COMPLETE, 1: TrialState.COMPLETE, 2: TrialState.PRUNED}
    summary = json.loads((study_dir / "trial-2" / "summary.json").read_text())
    assert summary["stopped"] == "pruned" and summary["epochs"] < 6
    assert json.loads(bad.out)["best"]["number"] in (0, 1)
    # with a warm-up longer than the run, the pruner never acts on it
    late = cli(*tune_args("--trials", "4", *common, "-o", "train.lr=0.0001", "-o", "train.epochs=6",
                          "--prune-warmup", "6"))
    assert late.code == 0, late.err
    assert states(load(study_dir))[3] == TrialState.COMPLETE


@pytest.mark.slow
def test_two_processes_share_one_study_without_duplicate_trials(workdir):
    storage = f"sqlite:///{workdir / 'shared.db'}"
    args = ("--trials", "6", "--pruner", "none", "--storage", storage, "-o", "train.epochs=40")
    procs = [popen_tune(workdir, *args) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    study = optuna.load_study(study_name="default", storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 6
    # a trial started when the other process had just started the last one is told failed at once
    assert all(t.user_attrs.get("surplus") for t in trials if t.state == TrialState.FAIL)
    assert len({t.user_attrs["pid"] for t in finished}) == 2  # both processes ran trials
    dirs = sorted(p.name for p in (workdir / "runs" / "hello-tune" / "default").glob("trial-*"))
    assert dirs == sorted(f"trial-{t.number}" for t in finished)


@pytest.mark.parametrize("space, fragments", [
    ("train.lrr: {low: 0.01, high: 0.1}\n", ["train.lrr: unknown key", "did you mean 'lr'"]),
    ("train.lr: {low: 0.1, high: 0.01}\n", ["train.lr", "low (0.1) is greater than high (0.01)"]),
    ("model.hidden_size: {choices: []}\n", ["model.hidden_size", "non-empty list"]),
    ("- train.lr\n- model.hidden_size\n", ["a search space must be a mapping"]),
    ("train.lr: 0.1\n", ["train.lr", "expected {low, high"]),
    ("model.hidden_size: {choices: [4, 0]}\n", ["model.hidden_size: must be at least 1, got 0"]),
    ("train.lr: {low: 0.0, high: 0.1}\n", ["train.lr: must be greater than 0"]),
    ("model.hidden_size: {low: 2, high: 8.5}\n", ["model.hidden_size: expected a whole number"]),
    ("model.cell: {low: 1, high: 2}\n", ["model.cell: a range needs a numeric key"]),
    ("train.lr: {low: 0.01, high: 0.1}\ntrain.lr: {choices: [0.1]}\n", ["duplicate key 'train.lr'"]),
])
def test_a_bad_space_is_one_line_and_leaves_nothing(workdir, space, fragments):
    (workdir / "space.yaml").write_text(space)
    assert_user_error(cli(*tune_args("--trials", "2")), "space.yaml", *fragments)
    assert not (workdir / "runs").exists()


def test_tune_under_torchrun_or_nproc_is_refused(workdir, monkeypatch):
    assert_user_error(cli(*tune_args("--trials", "2", "--nproc", "2")), "tune runs its trials in this process")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert_user_error(cli(*tune_args("--trials", "2")), "tune runs its trials in this process")
    assert not (workdir / "runs").exists()


@pytest.mark.slow
def test_help_imports_neither_torch_nor_optuna():
    code = "import sys, seqtrain.cli; assert not {'torch', 'optuna'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_an_error_in_the_first_trial_leaves_no_study_behind(workdir):
    # --metric is known to be wrong only at the first evaluation: the study that was started goes
    assert_user_error(cli(*tune_args("--trials", "2", "--metric", "bleu")),
                      "--metric: this task has no metric 'bleu'")
    assert not (workdir / "runs").exists()


@pytest.mark.slow
def test_sigterm_in_a_trial_fails_it_and_says_how_to_continue(workdir):
    proc = popen_tune(workdir, "--trials", "1", "-o", "train.epochs=200")
    trial0 = workdir / "runs" / "hello-tune" / "default" / "trial-0"
    deadline = time.monotonic() + 60
    while not (trial0 / "metrics.jsonl").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("interrupted in trial 0 (marked failed; its run is in "
                                            f"{Path('runs/hello-tune/default/trial-0')}); run the same "
                                            "command again to continue the study")
    assert states(load(trial0.parent)) == {0: TrialState.FAIL}
    assert (trial0 / "checkpoints" / "last.pt").exists()  # the run itself stopped as any run does
