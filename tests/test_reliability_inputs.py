"""Reliability, round 2: inputs that are not files, resources that run out, runs that collide, and
numbers that are not numbers. Each case ends in one line naming the file, key or option, exit
status 2, and nothing lost or left behind (docs/reliability.md lists them with these tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_HELLO, assert_user_error, cli, run_cli_limited, trained
from seqtrain.core.checkpoint import load_checkpoint, save_checkpoint
from seqtrain.tasks.init_from import finite_weights

TANG_TINY = REPO / "configs" / "tang-tiny.yaml"
POS_TOY = REPO / "configs" / "pos-toy.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tang_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, TANG_TINY, "train.epochs=1", "model.hidden_size=16")


@pytest.fixture(scope="module")
def pos_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, POS_TOY, "train.epochs=1", "train.threads=1")


# ---------------------------------------------------------------- inputs that are not regular files

@pytest.mark.slow
def test_a_device_as_training_data_is_refused_before_a_byte_is_read(tmp_path):
    result = run_cli_limited("train", POS_TOY, "--run-dir", tmp_path / "run", "-o", "data.train=/dev/zero",
                             memory_mb=3072, timeout=90)
    assert_user_error(result, "data.train", "/dev/zero", "a device")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_fifo_as_data_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pairs.tsv"
    os.mkfifo(fifo)
    config = write(tmp_path / "c.yaml", f"task: hello\ndata: {{file: {fifo}}}\n")
    assert_user_error(run_cli_limited("train", config, "--run-dir", tmp_path / "run", timeout=90),
                      "data.file", "a FIFO")


@pytest.mark.slow
def test_a_device_as_config_checkpoint_or_input_is_refused(hello_run):
    assert_user_error(run_cli_limited("train", "/dev/zero", timeout=90), "/dev/zero", "a device")
    assert_user_error(run_cli_limited("info", "/dev/zero", timeout=90), "/dev/zero", "a device")
    assert_user_error(run_cli_limited("predict", hello_run, "--input", "/dev/zero", timeout=90), "a device")


def test_a_directory_as_input_is_named_a_directory(hello_run, tmp_path):
    assert_user_error(cli("predict", hello_run, "--input", tmp_path), "is a directory")


def test_a_symlink_loop_is_named_a_loop(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    assert_user_error(cli("train", loop), "loop of symbolic links")


def test_a_config_larger_than_the_limit_is_refused_unread(tmp_path):
    from seqtrain.core.errors import UserError
    from seqtrain.core.textfile import read_text

    big = write(tmp_path / "big.yaml", "x" * 2000)
    with pytest.raises(UserError, match="larger than"):
        read_text(big, max_bytes=1000)


# ---------------------------------------------------------------- run directories

def test_run_dir_naming_an_existing_file_is_one_line(tmp_path, hello_config):
    target = write(tmp_path / "notes.txt", "precious")
    assert_user_error(cli("train", hello_config, "--run-dir", target), "not a directory")
    assert target.read_text() == "precious"


def test_run_dir_under_a_file_is_one_line(tmp_path, hello_config):
    target = write(tmp_path / "notes.txt", "precious")
    assert_user_error(cli("train", hello_config, "--run-dir", target / "run"), "cannot create the run directory")


def test_a_run_killed_before_its_first_checkpoint_names_the_way_out(tmp_path, hello_config):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    write(run / "config.yaml", TINY_HELLO)  # what a kill -9 during data loading leaves
    assert_user_error(cli("train", hello_config, "--run-dir", run), "before its first checkpoint", "--overwrite")
    assert_user_error(cli("train", hello_config, "--resume", run), "before its first checkpoint",
                      f"--run-dir {run} --overwrite")
    assert cli("train", hello_config, "--run-dir", run, "--overwrite", "-q").code == 0


@pytest.mark.slow
def test_two_runs_on_one_run_directory_are_not_both_allowed(tmp_path):
    config = write(tmp_path / "slow.yaml", TINY_HELLO.replace("epochs: 3", "epochs: 100000"))
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "seqtrain", "train", config, "--run-dir", run, "-q"],
                             env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (run / "checkpoints" / "last.pt").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        assert_user_error(cli("train", config, "--resume", run, "-q"), "in use by another seqtrain run")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    assert cli("train", config, "--resume", run, "-q", "-o", "train.max_steps=1").code == 0  # free again


# ---------------------------------------------------------------- a full disk

def test_a_full_disk_inside_torch_save_is_one_line_and_says_no_checkpoint_exists_yet(tmp_path, hello_config,
                                                                                      monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 4800 vs 4736")

    monkeypatch.setattr(torch, "save", full)
    line = assert_user_error(cli("train", hello_config, "--run-dir", tmp_path / "run", "-q"),
                             "could not write the checkpoint")
    assert "no earlier one exists" in line and "intact" not in line


def test_a_full_disk_at_a_later_save_keeps_the_one_before(tmp_path, hello_config, monkeypatch):
    real, calls = torch.save, []

    def full_after_two(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_after_two)
    assert_user_error(cli("train", hello_config, "--run-dir", tmp_path / "run", "-q"), "No space left on device",
                      "the one written before is intact")
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["progress"]["step"] == 4


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("override, fragment", [
    ("seed=1700000000000000000", "seed: must be at most 4294967295"),
    ("seed=-1", "seed: must be at least 0"),
    ("train.threads=100000", "train.threads: must be at most 1024"),
    ("model.num_layers=1000", "model.num_layers: must be at most 64"),
    ("train.lr=.inf", "train.lr: expected a finite number"),
])
def test_numbers_out_of_a_working_range_are_refused_naming_the_key(hello_config, override, fragment):
    assert_user_error(cli("train", hello_config, "-o", override), fragment)


@pytest.mark.parametrize("option, value", [
    ("--temperature", "nan"), ("--temperature", "inf"), ("--temperature", "1e308"),
    ("--repetition-penalty", "nan"), ("--top-p", "nan"), ("--seed", str(2**64)), ("--num", "1000000"),
    ("--max-chars", "100000000"),
])
def test_generate_poem_numbers_out_of_range_name_the_option(tang_run, option, value):
    assert_user_error(cli("generate-poem", tang_run, option, value), option)


@pytest.mark.parametrize("args, fragment", [
    (["--lines", "0"], "--lines: expected 4 or 8, got 0"),
    (["--form", "0"], "--form: expected 5 or 7, got 0"),
    (["--acrostic", ""], "--acrostic: empty"),
])
def test_explicit_empty_or_zero_poem_options_are_refused(tang_run, args, fragment):
    assert_user_error(cli("generate-poem", tang_run, *args), fragment)


@pytest.mark.parametrize("nproc", ["0", "-1"])
def test_nproc_below_one_is_refused(hello_config, nproc):
    assert_user_error(cli("train", hello_config, "--nproc", nproc), "--nproc: must be at least 1")


def test_many_poems_are_written_in_bounded_batches_with_their_own_seeds(tang_run):
    from seqtrain.inference import generate_poems
    from seqtrain.tasks.tang.generate import BATCH
    from seqtrain.tasks.tang.request import PoemRequest

    poems = generate_poems(tang_run, PoemRequest(form=5, lines=4, num=BATCH + 3, seed=7))["poems"]
    assert len(poems) == BATCH + 3 and [p["seed"] for p in poems] == list(range(7, 7 + BATCH + 3))
    again = generate_poems(tang_run, PoemRequest(form=5, lines=4, num=1, seed=7 + BATCH + 1))["poems"]
    assert again[0]["poem"] == poems[BATCH + 1]["poem"]  # poem i is the poem of seed + i, batch or not


# ---------------------------------------------------------------- YAML

def test_duplicate_keys_are_refused_naming_the_line(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\ntrain: {epochs: 2}\nseed: 1\ntrain: {epochs: 5}\n")
    assert_user_error(cli("train", config), "c.yaml:4", "duplicate key 'train'")


@pytest.mark.slow
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    config = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\ntask: *i\n")
    started = time.monotonic()
    line = assert_user_error(run_cli_limited("train", config, timeout=60), "aliases")
    assert time.monotonic() - started < 30 and len(line) < 300


def test_error_lines_quote_a_bounded_prefix_of_huge_values(hello_config):
    line = assert_user_error(cli("train", hello_config, "-o", "train.optimizer=" + "x" * 100_000), "train.optimizer")
    assert len(line) < 400


# ---------------------------------------------------------------- predict, info and crafted checkpoints

def test_data_paths_of_evaluate_resolve_under_the_data_root(hello_run, tmp_path):
    write(tmp_path / "root" / "pairs.tsv" if (tmp_path / "root").mkdir() is None else None, "hello\tohlol\n")
    result = cli("evaluate", hello_run, "pairs.tsv", "--data-dir", tmp_path / "root", "--json")
    assert result.code == 0, result.err
    assert '"examples": 1' in result.out


@pytest.mark.parametrize("name", ["missing/states.npz", "."])
def test_states_into_a_missing_folder_or_onto_a_directory_is_one_line(hello_run, tmp_path, name):
    target = tmp_path / name if name != "." else tmp_path / "dir.npz"
    if name == ".":
        target.mkdir()
    assert_user_error(cli("predict", hello_run, "hello", "--states", target), "--states")


@pytest.mark.parametrize("key, value, fragment", [
    ("task_state", None, "task_state is a NoneType"),
    ("task", ["hello"], "task is a list"),
    ("progress", "step 3", "progress is a str"),
])
def test_crafted_checkpoints_with_the_wrong_structure_are_one_line(hello_run, tmp_path, key, value, fragment):
    ckpt = load_checkpoint(hello_run / "checkpoints" / "best.pt")
    ckpt[key] = value
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, tmp_path / "bad.pt")
    for command in (["info"], ["predict"]):
        assert_user_error(cli(*command, tmp_path / "bad.pt", *(["hello"] if command == ["predict"] else [])),
                          fragment)


def test_a_vocabulary_without_its_entries_is_one_line(hello_run, tmp_path):
    ckpt = load_checkpoint(hello_run / "checkpoints" / "best.pt")
    ckpt["task_state"] = {"shown": ["hello"]}  # no "chars"
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, tmp_path / "bad.pt")
    assert_user_error(cli("predict", tmp_path / "bad.pt", "hello"), "task_state cannot be read")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_one_nan_or_inf_anywhere_in_the_weights_makes_them_unusable(bad):
    table = torch.zeros(1000, 50, dtype=torch.float16)  # the shape of a vectors table
    assert finite_weights({"rows": table, "empty": torch.zeros(0, 4), "ids": torch.arange(3)})
    table[617, 3] = bad
    assert not finite_weights({"rows": table, "ids": torch.arange(3)})


def test_nan_weights_are_refused_by_predict_and_reported_by_info(hello_run, tmp_path):
    ckpt = load_checkpoint(hello_run / "checkpoints" / "best.pt")
    first = next(iter(ckpt["model"]))
    ckpt["model"][first] = torch.full_like(ckpt["model"][first], float("nan"))
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, tmp_path / "nan.pt")
    assert_user_error(cli("predict", tmp_path / "nan.pt", "hello"), "NaN or inf")
    info = cli("info", tmp_path / "nan.pt", "--json")
    assert info.code == 0 and '"usable for prediction": "no: the stored weights hold NaN' in info.out


def test_a_poetry_model_names_the_input_not_an_option_it_was_not_given(tang_run):
    line = assert_user_error(cli("predict", tang_run, "hello"), "input 'hello'", "not in the model's vocabulary")
    assert "--start" not in line


def test_a_bad_device_for_predict_names_the_flag(hello_run):
    assert_user_error(cli("predict", hello_run, "hello", "--device", "meta"), "--device")


def test_help_shows_the_shapes_of_the_states(hello_run):
    out = cli("predict", "--help").out
    assert "[layers, directions, batch, steps, hidden]" in " ".join(out.split()) and "[batch]" in out


# ---------------------------------------------------------------- long inputs

@pytest.mark.slow
def test_a_long_sentence_and_a_huge_word_are_tagged_in_bounded_time(pos_run, tmp_path):
    words = " ".join(["the", "dog", "ate", "an", "apple", "."] * 1500)  # 9,000 words
    lines = write(tmp_path / "long.txt", words + "\n" + "a" * 1_000_000 + " .\n")
    result = run_cli_limited("predict", pos_run, "--input", lines, timeout=90)
    assert result.code == 0, result.err
    first, second = result.out.splitlines()
    assert len(first.split()) == 9000 and len(second.split()) == 2
