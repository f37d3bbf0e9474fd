"""Round 3 of the reliability promise (docs/reliability.md): run directories, --resume, destructive
operations, signals and the tune storage. seqtrain replaces or deletes only what it can tell it
wrote itself, never what a live run holds; anything else is one line, exit 2, nothing touched."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

import seqtrain
from conftest import REPO, TINY_HELLO, assert_user_error, cli, snapshot
from seqtrain.core.interrupts import DROPPED_CTRL_C
from seqtrain.core.checkpoint import load_checkpoint


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def popen(*args, cwd=REPO, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seqtrain", *map(str, args)], cwd=cwd, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def wait_for(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.0005)


# ---------------------------------------------------------------- resume

def test_resume_of_a_run_whose_lexicon_changed_is_one_line(tmp_path):
    lexicon = write(tmp_path / "lex.tsv", "the\tDET\ndog\tNOUN VERB\n")
    args = ["train", REPO / "configs/pos-toy.yaml", "-o", f"data.lexicon={lexicon}", "-o", "train.threads=1", "-q"]
    assert cli(*args, "-o", "train.max_steps=2", "--run-dir", tmp_path / "run").code == 0
    write(lexicon, "the\tDET VERB\ndog\tNOUN\n")  # the same tags; the entries (tensors in the task state) differ
    assert_user_error(cli(*args, "--resume", tmp_path / "run"), "the training data changed")


@pytest.mark.parametrize("extra", [["--overwrite"], ["--run-dir", "elsewhere"]], ids=["overwrite", "run-dir"])
def test_resume_with_overwrite_or_run_dir_is_refused(tmp_path, hello_config, hello_run, extra, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(hello_run)
    assert_user_error(cli("train", hello_config, "--resume", hello_run, *extra), "--resume", extra[0])
    assert snapshot(hello_run) == before and not (tmp_path / "elsewhere").exists()


# ---------------------------------------------------------------- --overwrite

def test_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path, hello_config):
    thesis = write((tmp_path / "precious").mkdir() or tmp_path / "precious" / "thesis.txt", "years of work")
    assert_user_error(cli("train", hello_config, "--run-dir", tmp_path / "precious", "--overwrite", "-q"),
                      "not a seqtrain run")
    assert thesis.read_text() == "years of work" and os.listdir(tmp_path / "precious") == ["thesis.txt"]


def test_overwrite_refuses_a_run_holding_a_file_seqtrain_did_not_write(hello_config, hello_run):
    write(hello_run / "notes.md", "mine")
    before = snapshot(hello_run)
    assert_user_error(cli("train", hello_config, "--run-dir", hello_run, "--overwrite", "-q"),
                      "holds notes.md, which seqtrain did not write")
    assert snapshot(hello_run) == before


def test_overwrite_refuses_a_run_a_live_training_holds(hello_config, hello_run):
    from seqtrain.distributed.world import World
    from seqtrain.training.run_dir import locked

    with locked(hello_run, World()):  # the lock a live run holds while it trains
        before = snapshot(hello_run)
        assert_user_error(cli("train", hello_config, "--run-dir", hello_run, "--overwrite", "-q"),
                          "in use by another seqtrain run")
        assert snapshot(hello_run) == before
    assert not [p.name for p in hello_run.parent.iterdir() if p.name.startswith(".")]  # nothing moved aside


def test_overwrite_of_the_working_directory_is_one_line(hello_config, hello_run, monkeypatch):
    monkeypatch.chdir(hello_run)
    before = snapshot(hello_run)
    assert_user_error(cli("train", hello_config, "--run-dir", ".", "--overwrite", "-q"), "working directory")
    assert snapshot(hello_run) == before


@pytest.mark.skipif(not os.path.ismount("/proc"), reason="needs /proc mounted")
def test_overwrite_of_a_mount_point_is_one_line(hello_config):
    assert_user_error(cli("train", hello_config, "--run-dir", "/proc", "--overwrite", "-q"), "/proc")


def test_overwrite_replaces_a_run_it_wrote_and_marks_the_new_one(hello_config, hello_run):
    assert cli("train", hello_config, "--run-dir", hello_run, "--overwrite", "-q", "-o", "train.epochs=1").code == 0
    assert (hello_run / ".seqtrain-run").is_file()
    assert cli("train", hello_config, "--run-dir", hello_run, "--overwrite", "-q", "-o", "train.epochs=1").code == 0


# ---------------------------------------------------------------- predict --states

def test_states_never_overwrites_the_models_own_checkpoint(hello_run):
    best = hello_run / "checkpoints" / "best.pt"
    before = best.read_bytes()
    assert_user_error(cli("predict", hello_run, "hello", "--states", best), "--states", "not a states file")
    assert best.read_bytes() == before


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_states_refuses_an_existing_file_it_did_not_write(tmp_path, hello_run, suffix):
    other = write(tmp_path / f"other{suffix}", "someone's data")
    assert_user_error(cli("predict", hello_run, "hello", "--states", other), "not a states file")
    assert other.read_text() == "someone's data"


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_states_replaces_a_states_file_it_wrote(tmp_path, hello_run, suffix):
    (tmp_path / "out").mkdir()
    states = tmp_path / "out" / f"states{suffix}"
    assert cli("predict", hello_run, "hello", "--states", states).code == 0
    result = cli("predict", hello_run, "hello", "hello", "--states", states)
    assert result.code == 0, result.err
    assert os.listdir(tmp_path / "out") == [states.name]  # no temporary file left


# ---------------------------------------------------------------- run names

@pytest.mark.parametrize("name", ["../../../../tmp/x", "a/b", "''", "' '", "!!set {a: null}", ".hidden"])
def test_a_run_name_that_is_not_one_folder_name_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "hello.yaml", TINY_HELLO + f"name: {name}\n")
    assert_user_error(cli("train", config, "-q"), "name:")
    assert sorted(os.listdir(tmp_path)) == ["hello.yaml"]


# ---------------------------------------------------------------- signals

# one epoch: the interrupted best.pt is the run's last evaluation, which a resumed run does not repeat
BIG_HELLO = TINY_HELLO.replace("{cell: rnn, hidden_size: 4}", "{cell: lstm, hidden_size: 1200}").replace(
    "epochs: 3", "epochs: 1")


@pytest.fixture(scope="module")
def ctrl_c_twice_in_best_pt(tmp_path_factory):
    """A run whose checkpoints take a while to write (a 46 MB model), given Ctrl-C twice while its
    first best.pt is written: (config, run, finished process)."""
    root = tmp_path_factory.mktemp("ctrl-c-in-best")
    config, run = write(root / "big.yaml", BIG_HELLO), root / "run"
    proc = popen("train", config, "--run-dir", run, "-q")
    wait_for(proc, lambda: any((run / "checkpoints").glob(".best.pt.tmp-*")))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return config, run, proc.returncode, err


def test_a_second_ctrl_c_while_best_pt_is_written_is_reported_as_interrupted(ctrl_c_twice_in_best_pt):
    _, run, code, err = ctrl_c_twice_in_best_pt
    assert code == 130 and err.strip().splitlines()[-1] == "interrupted", err
    load_checkpoint(run / "checkpoints" / "best.pt")  # whole, not torn


def test_after_resume_best_pt_holds_the_model_summary_json_names(ctrl_c_twice_in_best_pt):
    config, run, *_ = ctrl_c_twice_in_best_pt
    result = cli("train", config, "--resume", run, "-q")
    assert result.code == 0, result.err
    summary = json.loads((run / "summary.json").read_text())
    assert load_checkpoint(run / "checkpoints" / "best.pt")["progress"]["step"] == summary["best"]["step"]


@pytest.mark.slow
def test_sigterm_while_data_loads_says_interrupted_and_leaves_no_run(tmp_path):
    run, lexicon = tmp_path / "run", tmp_path / "lexicon.tsv"
    write(lexicon, "".join(f"w{i}\tNOUN VERB\n" for i in range(200_000)))  # seconds of reading
    proc = popen("train", REPO / "configs/pos-toy.yaml", "--run-dir", run, "-q", "-o", "train.threads=1",
                 "-o", f"data.lexicon={lexicon}")
    wait_for(proc, lambda: (run / ".seqtrain-run").exists())  # claimed; the corpus is read next
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert not run.exists()


# ---------------------------------------------------------------- tune

SPACE = "train.lr: {low: 0.02, high: 0.3, log: true}\n"


@pytest.fixture
def tune_dir(tmp_path) -> Path:
    write(tmp_path / "hello.yaml", TINY_HELLO)
    write(tmp_path / "space.yaml", SPACE)
    return tmp_path


def tune(cwd: Path, *args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqtrain", "tune", "hello.yaml", "--space", "space.yaml", *args],
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=300, **kwargs)


def assert_one_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """The one-line contract after the trial lines tune writes as it goes."""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(f in last for f in fragments), last


@pytest.mark.slow
def test_ctrl_c_just_after_a_tune_trial_starts_says_interrupted(tune_dir):
    trial0 = tune_dir / "runs" / "hello-tune" / "default" / "trial-0"
    proc = popen("tune", "hello.yaml", "--space", "space.yaml", "--trials", "1", "-o", "train.epochs=200", cwd=tune_dir)
    wait_for(proc, lambda: (trial0 / ".seqtrain-run").exists())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith("interrupted in trial 0"), err


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop itself
def test_a_ctrl_c_python_dropped_in_a_weakref_callback_stops_the_run_as_training_starts(hello_config, tmp_path):
    """Python prints and drops a KeyboardInterrupt raised inside a weakref callback ("Exception
    ignored in ..."): the tune run above once trained to the end after such a Ctrl-C. While the
    command line watches, the dropped one is remembered, and the trainer raises it before its first step."""
    class Thing:
        pass

    with DROPPED_CTRL_C.watching():
        thing = Thing()
        ref = weakref.ref(thing, lambda _: signal.raise_signal(signal.SIGINT))
        del thing  # the callback's KeyboardInterrupt is dropped here
        assert ref() is None and DROPPED_CTRL_C.pending
        with pytest.raises(KeyboardInterrupt):
            seqtrain.train(hello_config, run_dir=tmp_path / "run")
        assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists() and not DROPPED_CTRL_C.pending


@pytest.mark.slow
def test_tune_with_a_read_only_database_is_one_line(tune_dir):
    assert tune(tune_dir, "--trials", "1").returncode == 0
    database = tune_dir / "runs" / "hello-tune" / "default" / "study.db"
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    assert_one_line(tune(tune_dir, "--trials", "3", "--storage", read_only), "cannot be written", "readonly")


@pytest.mark.slow
def test_tune_on_a_disk_that_fills_mid_study_is_one_line(tune_dir):
    assert tune(tune_dir, "--trials", "1").returncode == 0
    size = (tune_dir / "runs" / "hello-tune" / "default" / "study.db").stat().st_size

    def full_soon():  # no file may grow past the database's present size: it fills at once
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1, size + 1))

    assert_one_line(tune(tune_dir, "--trials", "200", preexec_fn=full_soon), "study.db", "cannot be written")


@pytest.mark.slow
def test_tune_where_the_study_directory_cannot_be_made_is_one_line(tune_dir):
    write(tune_dir / "runs", "a file where the runs folder would go")  # as a read-only folder, for root too
    assert_one_line(tune(tune_dir, "--trials", "1"), "cannot create the study directory")
