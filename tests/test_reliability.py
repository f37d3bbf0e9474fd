"""Bad input, faults and untrusted files (issue: reliability and security), each tried from the CLI.

Every bad input ends in one line `error: ...` naming the file and line or the config key, exit status 2,
no traceback, and nothing written or overwritten. Faults (kill -9, Ctrl-C, SIGTERM, a full disk, NaN)
lose nothing: the previous checkpoints stay loadable and --resume ends bitwise where an uninterrupted
run ends. docs/reliability.md lists every case with the test that covers it.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_HELLO, assert_user_error, cli, snapshot
from seqtrain.core.checkpoint import load_checkpoint, save_checkpoint
from seqtrain.core.errors import UserError
from seqtrain.core.interrupts import DROPPED_CTRL_C
from seqtrain.tasks import load_config
from seqtrain.tasks.hello import HelloTask
from seqtrain.training.run_dir import signals_held
from seqtrain.training.trainer import train


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# ---------------------------------------------------------------- configs

@pytest.mark.parametrize("text, fragment", [
    ("", "config file is empty"),
    ("# only a comment\n", "config file is empty"),
    ("task: hello\n  epochs: [\n", "cfg.yaml:2: not valid YAML"),
    ("- task\n- hello\n", "a config must be a mapping"),
    ("just a string\n", "got a str"),
    ("task: hallo\n", "unknown task 'hallo' (did you mean 'hello'?)"),
    ("task: [hello]\n", "unknown task"),
    ("task: hello\ntrian: {epochs: 2}\n", "trian: unknown key (did you mean 'train'?)"),
    ("task: hello\ntrain: {epochs: two}\n", "train.epochs: expected a whole number, got str 'two'"),
    ("task: hello\ntrain: {lr: fast}\n", "train.lr: expected a number"),
    ("task: hello\ntrain: {lr: .nan}\n", "train.lr: expected a finite number"),
    ("task: hello\nmodel: {hidden_size: 0}\n", "model.hidden_size: must be at least 1, got 0"),
    ("task: hello\ntrain: {batch_size: -4}\n", "train.batch_size: must be at least 1, got -4"),
    ("task: hello\ntrain: {lr: 0}\n", "train.lr: must be greater than 0"),
    ("task: hello\nseed: 123456789012345678901234567890\n", "seed: 123456789012345678901234567890 is out of range"),
    ("task: hello\ndata: {file: no/such/pairs.tsv}\n", "data.file: file not found: no/such/pairs.tsv"),
    ("task: hello\ntrain: 5\n", "train: expected a mapping of keys, got int 5"),
    ("task: !!python/object/apply:os.system ['touch pwned']\n", "not valid YAML"),
    ("task: hello\ndata: {pairs: " + "[" * 3000 + "]" * 3000 + "}\n", "nested too deeply"),
], ids=lambda value: value[:24] if isinstance(value, str) and len(value) > 24 else None)
def test_bad_config_is_one_line_and_creates_no_run_directory(tmp_path, monkeypatch, text, fragment):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cfg.yaml", text)
    before = snapshot(tmp_path)
    assert_user_error(cli("train", "cfg.yaml"), fragment)
    assert snapshot(tmp_path) == before  # no runs/, no pwned, the config untouched


@pytest.mark.parametrize("data, fragment", [
    (b"task: hello\x00\x01\x02", "cfg.yaml:1: binary data"),
    ("task: hello\nname: café\n".encode("cp1252"), "cfg.yaml:2: not UTF-8 (byte 0xe9); it may be Western"),
    ("task: hello\nname: 唐诗\n".encode("gbk"), "not UTF-8 (byte 0xcc); it may be Chinese GB18030"),
    ("task: hello\n".encode("utf-16"), "UTF-16 text"),
])
def test_config_in_another_encoding_is_named(tmp_path, monkeypatch, data, fragment):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cfg.yaml", data)
    assert_user_error(cli("train", "cfg.yaml"), fragment)
    assert not (tmp_path / "runs").exists()


def test_config_with_bom_and_crlf_is_accepted(tmp_path):
    path = write(tmp_path / "cfg.yaml", b"\xef\xbb\xbf" + TINY_HELLO.replace("\n", "\r\n").encode())
    assert cli("train", path, "--run-dir", tmp_path / "run", "-q").code == 0


@pytest.mark.parametrize("override, fragment", [
    ("train.epochs", "override 'train.epochs': expected KEY=VALUE"),
    ("=5", "override '=5': expected KEY=VALUE"),
    (".=5", "the key '.' has an empty part"),
    ("train..epochs=5", "the key 'train..epochs' has an empty part"),
    ("train.=5", "the key 'train.' has an empty part"),
    ("task.x=1", "task is not a section"),
    ("train.epoch=5", "train.epoch: unknown key (did you mean 'epochs'?)"),
    ("train.epochs=", "train.epochs: expected a whole number, got str ''"),
])
def test_bad_override_is_one_line_and_creates_no_run_directory(tmp_path, monkeypatch, hello_config, override,
                                                             fragment):
    monkeypatch.chdir(tmp_path)
    assert_user_error(cli("train", hello_config, "-o", override), fragment)
    assert not (tmp_path / "runs").exists()


def test_missing_config_file(tmp_path):
    assert_user_error(cli("train", tmp_path / "nope.yaml"), "nope.yaml: config file not found")


# ---------------------------------------------------------------- corpora (hello's pair files)

def pair_config(tmp_path: Path, pairs: Path) -> Path:
    return write(tmp_path / "pairs.yaml", TINY_HELLO.replace("pairs: [[hello, ohlol]]", f"file: {pairs}"))


@pytest.mark.parametrize("data, fragment", [
    (b"", "pairs.tsv: no input<TAB>target lines"),
    (b"\n \n\n", "pairs.tsv: no input<TAB>target lines"),
    (bytes(range(256)) * 4, "pairs.tsv:1: binary data"),
    ("abc\tbca\nnaïve\tnaive\n".encode("latin-1"), "pairs.tsv:2: not UTF-8 (byte 0xef); it may be"),
    ("唐诗\t诗唐\n".encode("gbk"), "pairs.tsv:1: not UTF-8 (byte 0xcc); it may be Chinese GB18030/GBK"),
    ("唐詩\t詩唐\n".encode("big5"), "pairs.tsv:1: not UTF-8 (byte 0xad); it may be Chinese Big5"),
    (b"abc\tbca\nabc\n", "pairs.tsv:2: expected [input, target]"),
    (b"abc\tbca\nabc\tb\tc\n", "pairs.tsv:2: expected [input, target]"),
    (b"abc\tbca\nabcd\tab\n", "pairs.tsv:2: input 'abcd' and target 'ab' differ in length"),
])
def test_bad_corpus_file_is_one_line_and_leaves_no_run_directory(tmp_path, data, fragment):
    pairs = write(tmp_path / "pairs.tsv", data)
    assert_user_error(cli("train", pair_config(tmp_path, pairs), "--run-dir", tmp_path / "run"), fragment)
    assert not (tmp_path / "run").exists()


def test_corpus_with_bom_and_crlf_is_accepted(tmp_path):
    pairs = write(tmp_path / "pairs.tsv", b"\xef\xbb\xbfabc\tbca\r\ncab\tabc\r\n")
    assert cli("train", pair_config(tmp_path, pairs), "--run-dir", tmp_path / "run", "-q").code == 0
    chars = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["task_state"]["chars"]
    assert chars == ["a", "b", "c"]  # no BOM, no CR in the vocabulary
    result = cli("evaluate", tmp_path / "run", pairs, "--json")
    assert result.code == 0 and json.loads(result.out)["examples"] == 2


def test_evaluating_a_corpus_with_unknown_characters_names_them(tmp_path, hello_run):
    pairs = write(tmp_path / "other.tsv", b"hello\tohlol\nxyz\tzyx\n")
    assert_user_error(cli("evaluate", hello_run, pairs), "not in the model's vocabulary", "'xyz'")


# ---------------------------------------------------------------- corpora (CoNLL-U for POS, poem JSON for tang)

TOKEN = "1\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n"


def task_config(tmp_path: Path, task: str, data: str) -> Path:
    return write(tmp_path / f"{task}.yaml", f"task: {task}\ndata: {data}\ntrain: {{epochs: 1, device: cpu}}\n")


@pytest.mark.parametrize("data, fragment", [
    (b"", "train.conllu: no sentences found"),
    (bytes(range(256)) * 2, "train.conllu:1: binary data"),
    (("1\t唐诗\t唐诗\tNOUN\tNN\t_\t0\troot\t_\t_\n").encode("gbk"), "train.conllu:1: not UTF-8 (byte 0xcc); it may be"),
    (("1\tcafé\tcafé\tNOUN\tNN\t_\t0\troot\t_\t_\n").encode("cp1252"), "it may be Western Windows-1252"),
    ((TOKEN + "\n2\tdog\tNOUN\n").encode(), "train.conllu:3: expected 10 tab-separated CoNLL-U columns, got 3"),
    ((TOKEN + "\n# sent_id = 2\n# text =\n\n" + TOKEN).encode(), "train.conllu:3: a sentence with no tokens"),
])
def test_bad_conllu_corpus_is_one_line_and_leaves_no_run_directory(tmp_path, data, fragment):
    corpus = write(tmp_path / "train.conllu", data)
    config = task_config(tmp_path, "pos", f"{{train: {corpus}}}")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("data, fragment", [
    ('{"not": "a list"}', "poems.json"),
    ('[{"title": "无题", "author": "佚名"}]', "paragraphs"),
    ('[{"paragraphs": "床前明月光，疑是地上霜。"}]', "paragraphs"),
    ("[1, 2, 3]", "poems.json"),
    ('[{"paragraphs": ["床前明月光', "not valid JSON"),
    (b"\x00\x01\x02", "poems.json"),
])
def test_bad_poem_json_is_one_line_and_leaves_no_run_directory(tmp_path, data, fragment):
    corpus = write(tmp_path / "poems.json", data)
    config = task_config(tmp_path, "tang", f"{{files: [{corpus}], min_freq: 1}}")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), fragment)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- predict

def test_predict_with_no_input_is_an_error(hello_run):
    assert_user_error(cli("predict", hello_run), "no input")


def test_predict_of_an_empty_string_is_an_error(hello_run):
    assert_user_error(cli("predict", hello_run, ""), "empty input")


def test_predict_names_characters_outside_the_vocabulary(hello_run):
    assert_user_error(cli("predict", hello_run, "help!"), "not in the model's vocabulary", "'!p'")


def test_predict_of_a_very_long_input_does_not_crash(hello_run):
    result = cli("predict", hello_run, "hello" * 4000)
    assert result.code == 0 and len(result.out.strip()) == 20000


@pytest.mark.parametrize("data, fragment", [
    ("hello\n".encode("utf-16"), "UTF-16"),
    ("hello\ncafé\n".encode("latin-1"), "inputs.txt:2: not UTF-8"),
    (b"hel\x00lo\n", "binary data"),
])
def test_predict_input_file_in_another_encoding_is_named(tmp_path, hello_run, data, fragment):
    assert_user_error(cli("predict", hello_run, "--input", write(tmp_path / "inputs.txt", data)), fragment)


def test_predict_from_standard_input_in_another_encoding_is_named(hello_run, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("hello\ncafé\n".encode("latin-1"))))
    assert_user_error(cli("predict", hello_run, "--input", "-"), "<stdin>:2: not UTF-8")


def test_predict_input_file_with_bom_and_crlf(tmp_path, hello_run):
    inputs = write(tmp_path / "inputs.txt", b"\xef\xbb\xbfhello\r\nhello\r\n")
    result = cli("predict", hello_run, "--input", inputs, "--output-format", "json")
    assert result.code == 0 and [r["input"] for r in json.loads(result.out)] == ["hello", "hello"]


@pytest.fixture(scope="module")
def pos_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("pos") / "run"
    result = cli("train", REPO / "configs" / "pos-toy.yaml", "-o", "train.epochs=1", "--run-dir", run, "-q")
    assert result.code == 0, result.err
    return run


def test_pos_predict_tags_unknown_words_and_refuses_empty_input(pos_run):
    result = cli("predict", pos_run, "Zyxqv the dog", "--output-format", "json")
    assert result.code == 0, result.err
    record = json.loads(result.out)[0]
    assert record["words"] == ["Zyxqv", "the", "dog"] and len(record["tags"]) == 3  # the unknown word is tagged
    assert_user_error(cli("predict", pos_run), "no input")
    assert_user_error(cli("predict", pos_run, "   "), "no input")


def test_pos_predict_of_a_very_long_sentence_does_not_crash(pos_run):
    result = cli("predict", pos_run, " ".join(["dog"] * 20000))
    assert result.code == 0 and len(result.out.split()) == 20000
    assert all(token.startswith("dog/") for token in result.out.split())


@pytest.fixture(scope="module")
def tang_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("tang") / "run"
    result = cli("train", REPO / "configs" / "tang-tiny.yaml", "-o", "train.epochs=1", "--run-dir", run, "-q")
    assert result.code == 0, result.err
    return run


@pytest.mark.parametrize("option, text, unknown", [("--start", "人山abc", "a b c"), ("--acrostic", "人Ω山", "Ω")])
def test_generate_poem_names_characters_outside_the_vocabulary(tang_run, option, text, unknown):
    assert_user_error(cli("generate-poem", tang_run, option, text), option, unknown)


def test_generate_poem_from_a_very_long_beginning_does_not_crash(tang_run):
    result = cli("generate-poem", tang_run, "--start", "白日上山江月照人" * 300)
    if result.code:  # longer than any poem it may write: a clean refusal is fine, a crash is not
        assert_user_error(result, "--start")


def test_generate_poem_with_a_checkpoint_of_another_task_is_one_line(tang_run, hello_run):
    assert_user_error(cli("generate-poem", hello_run), "hello")


# ---------------------------------------------------------------- checkpoints

class RunsCode:
    """Unpickling this calls os.system: what a malicious 'checkpoint' does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def bad_checkpoints(tmp_path: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    files = {"truncated": write(tmp_path / "truncated.pt", data[:len(data) // 2]),
             "empty": write(tmp_path / "empty.pt", b""),
             "text": write(tmp_path / "text.pt", "hello\tohlol\n"),
             "zip": write(tmp_path / "zip.pt", b"PK\x03\x04" + bytes(100))}
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    files["foreign"] = tmp_path / "foreign.pt"
    ckpt = torch.load(good, weights_only=True)
    torch.save({**ckpt, "version": 99}, tmp_path / "v99.pt")
    files["v99"] = tmp_path / "v99.pt"
    torch.save({k: v for k, v in ckpt.items() if k != "model"}, tmp_path / "no-model.pt")
    files["no-model"] = tmp_path / "no-model.pt"
    model = dict(ckpt["model"])
    model[next(iter(model))] = torch.zeros(3, 3, 3)
    torch.save({**ckpt, "model": model}, tmp_path / "reshaped.pt")
    files["reshaped"] = tmp_path / "reshaped.pt"
    return files


@pytest.mark.parametrize("name, fragment", [
    ("truncated", "not a readable checkpoint (truncated"),
    ("empty", "not a readable checkpoint"),
    ("text", "not a readable checkpoint"),
    ("zip", "not a readable checkpoint"),
    ("foreign", "not a seqtrain checkpoint"),
    ("v99", "checkpoint format version 99 is not supported by this seqtrain (reads version 1)"),
    ("no-model", "incomplete checkpoint (no model)"),
    ("reshaped", "the stored weights do not fit the model"),
])
@pytest.mark.parametrize("command", [["info"], ["predict", "@", "hello"], ["evaluate", "@"]])
def test_broken_checkpoint_is_one_line(tmp_path, hello_run, name, fragment, command):
    path = bad_checkpoints(tmp_path, hello_run / "checkpoints" / "last.pt")[name]
    if name == "reshaped" and command == ["info"]:
        # info only reads what is stored; it does not build the model the weights would have to fit
        result = cli("info", path)
        assert result.code == 0 and "hello" in result.out
        return
    args = [str(path) if a == "@" else a for a in command] if "@" in command else [*command, path]
    assert_user_error(cli(*args), path.name, fragment)


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, how):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    payload = {"format": "seqtrain-checkpoint", "version": 1, "task": "hello", "x": RunsCode(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    for command in (["info", path], ["predict", path, "hello"], ["evaluate", path]):
        line = assert_user_error(cli(*command), "evil.pt: refused: the file holds pickled Python objects")
    assert not marker.exists()
    if how == "torch.save":
        assert "system" in line  # names what it would have called


def test_resuming_a_run_of_another_task_is_refused(tmp_path, hello_run):
    sincos = write(tmp_path / "sincos.yaml", "task: sincos\ndata: {train_windows: 8, dev_windows: 4, steps: 5}\n")
    before = snapshot(hello_run)
    assert_user_error(cli("train", sincos, "--resume", hello_run), "task: differs from the run being resumed")
    assert snapshot(hello_run) == before


def test_a_checkpoint_given_to_a_command_for_another_task_is_refused(hello_run):
    from seqtrain.inference import generate_poems
    from seqtrain.tasks.tang.request import PoemRequest

    with pytest.raises(UserError, match="a hello checkpoint cannot write poems; generate-poem needs a poetry"):
        generate_poems(hello_run, PoemRequest())


def test_missing_checkpoint(tmp_path):
    assert_user_error(cli("info", tmp_path / "none.pt"), "none.pt: checkpoint not found")
    assert_user_error(cli("predict", tmp_path, "x"), "checkpoint not found")


# ---------------------------------------------------------------- run directories

def test_a_run_directory_in_use_is_not_reused_without_overwrite(hello_config, hello_run):
    before = snapshot(hello_run)
    assert_user_error(cli("train", hello_config, "--run-dir", hello_run), "already holds a run", "--overwrite")
    assert snapshot(hello_run) == before


def test_a_directory_of_other_files_is_not_taken_as_a_run_directory(tmp_path, hello_config):
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine" / "notes.txt", "precious")
    assert_user_error(cli("train", hello_config, "--run-dir", tmp_path / "mine"), "not a seqtrain run")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


class SigtermWhileDataLoads(HelloTask):
    """The hello task, with a SIGTERM arriving while its data is read (before any checkpoint)."""

    @classmethod
    def for_training(cls, cfg, paths, workdir):
        os.kill(os.getpid(), signal.SIGTERM)
        return super().for_training(cfg, paths, workdir)


def test_sigterm_while_data_loads_stops_like_ctrl_c_and_leaves_no_run_directory(tmp_path, hello_config):
    # the command line's exit 130 and "interrupted" line: test_reliability_runs.py (a slow lexicon load)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(hello_config), run_dir=tmp_path / "run", quiet=True, task_class=SigtermWhileDataLoads)
    assert not (tmp_path / "run").exists()


def test_a_ctrl_c_while_a_run_directory_is_claimed_acts_once_the_claim_is_done():
    # a SIGTERM there once left a claimed directory behind: the claim was made, not yet recorded as made
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("claimed")
    assert steps == ["claimed"]


def test_a_run_stopped_by_a_signal_leaves_the_next_run_of_the_process_alone(tmp_path, hello_config):
    with DROPPED_CTRL_C.watching():  # as the command line runs (the Ctrl-C Python drops: test_reliability_runs.py)
        with pytest.raises(KeyboardInterrupt):
            train(load_config(hello_config), run_dir=tmp_path / "a", quiet=True, task_class=SigtermWhileDataLoads)
        try:
            train(load_config(hello_config), run_dir=tmp_path / "b", quiet=True)
        except KeyboardInterrupt:  # (escaping, it would end the whole test session)
            pytest.fail("the second run was stopped by the first run's signal")
    assert (tmp_path / "b" / "checkpoints" / "last.pt").exists()


def test_overwrite_replaces_a_run(hello_config, hello_run):
    old = load_checkpoint(hello_run / "checkpoints" / "last.pt")["progress"]["step"]
    result = cli("train", hello_config, "--run-dir", hello_run, "--overwrite", "-q", "-o", "train.epochs=1")
    assert result.code == 0, result.err
    assert load_checkpoint(hello_run / "checkpoints" / "last.pt")["progress"]["step"] == old // 3
    assert not list(hello_run.parent.glob(".*replaced*"))


def test_overwrite_that_fails_on_bad_data_keeps_the_old_run(tmp_path, hello_run):
    before = snapshot(hello_run)
    config = pair_config(tmp_path, write(tmp_path / "pairs.tsv", b"abc\n"))
    assert_user_error(cli("train", config, "--run-dir", hello_run, "--overwrite"), "pairs.tsv:1")
    assert snapshot(hello_run) == before
    assert sorted(p.name for p in hello_run.parent.iterdir() if p.name.startswith(".")) == []


# ---------------------------------------------------------------- NaN and inf

def nan_at(step: int) -> type:
    """The hello task whose loss is NaN on its STEP-th call (a batch that blows up)."""
    class NanAtStep(HelloTask):
        calls = 0

        def loss(self, model, batch):
            NanAtStep.calls += 1
            value = super().loss(model, batch)
            return value * float("nan") if NanAtStep.calls == step else value
    return NanAtStep


def train_hello(config, run: Path, task_class: type, *overrides: str) -> dict:
    return train(load_config(config, overrides), run_dir=run, quiet=True, task_class=task_class)


def test_nan_loss_stops_at_once_naming_step_and_batch(tmp_path, hello_config):
    run = tmp_path / "run"  # 4 steps an epoch: step 7 is epoch 2, batch 3; last.pt/best.pt were written after epoch 1
    with pytest.raises(UserError) as stopped:
        train_hello(hello_config, run, nan_at(7))
    line = str(stopped.value)
    assert "NaN or inf at step 7 (epoch 2, batch 3)" in line and "checkpoints from before are intact" in line
    assert "on_nan=skip_batch" in line and "\n" not in line
    for name in ("last.pt", "best.pt"):
        assert load_checkpoint(run / "checkpoints" / name)["progress"]["step"] == 4
    assert not list((run / "checkpoints").glob(".*"))


def test_nan_before_the_first_checkpoint_leaves_no_run_directory(tmp_path, hello_config):
    with pytest.raises(UserError, match=r"step 2 \(epoch 1, batch 2\).*no checkpoint had been written yet"):
        train_hello(hello_config, tmp_path / "run", nan_at(2))
    assert not (tmp_path / "run").exists()


def test_on_nan_skip_batch_skips_it_and_finishes(tmp_path, hello_config):
    run = tmp_path / "run"
    train_hello(hello_config, run, nan_at(7), "train.on_nan=skip_batch")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["skipped_batches"] == 1 and summary["steps"] == 11
    assert all(torch.isfinite(v).all() for v in load_checkpoint(run / "checkpoints" / "last.pt")["model"].values())


# ---------------------------------------------------------------- a full disk, a kill between write and rename

def test_a_full_disk_while_saving_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, hello_config,
                                                                               monkeypatch):
    real_save, saves = torch.save, []

    def save(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 3:  # epoch 1 wrote best.pt and last.pt; epoch 2's best.pt hits the full disk
            f.write(b"partial")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    run = tmp_path / "run"
    assert_user_error(cli("train", hello_config, "--run-dir", run, "-q"),
                      "best.pt: could not write the checkpoint (No space left on device)")
    monkeypatch.undo()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["progress"]["step"] == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


KILL_BETWEEN_WRITE_AND_RENAME = """
import os, signal, sys, torch
from seqtrain.core.checkpoint import save_checkpoint
path = sys.argv[1]
save_checkpoint({"task": "x", "value": torch.ones(3)}, path)
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # dies after writing, before renaming
save_checkpoint({"task": "x", "value": torch.zeros(3)}, path)
"""


@pytest.mark.slow
def test_a_kill_between_write_and_rename_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    done = subprocess.run([sys.executable, "-c", KILL_BETWEEN_WRITE_AND_RENAME, str(path)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    assert torch.equal(load_checkpoint(path)["value"], torch.ones(3))
    leftover = [p.name for p in tmp_path.iterdir() if p.name != "last.pt"]
    assert len(leftover) == 1 and leftover[0].startswith(".last.pt.tmp-")  # hidden, never read
    save_checkpoint({"task": "x", "value": torch.full((3,), 2.0)}, path)  # the next save clears it
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


# ---------------------------------------------------------------- kill -9, Ctrl-C, SIGTERM, then --resume

# 12 steps an epoch, an evaluation (and last.pt) every 5 steps, so checkpoints fall mid-epoch;
# dropout makes the random state part of what must be restored.
FAULT_SINCOS = """\
task: sincos
data: {train_windows: 96, dev_windows: 16, steps: 12}
model: {hidden_size: 8, num_layers: 2, dropout: 0.3}
train: {epochs: EPOCHS, batch_size: 8, eval_every: 5, threads: 1, device: cpu, schedule: {name: cosine}}
"""


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory):
    """The fault config, and a run of it that nothing interrupted."""
    root = tmp_path_factory.mktemp("faults")
    config = write(root / "fault.yaml", FAULT_SINCOS.replace("EPOCHS", "6"))
    result = cli("train", config, "--run-dir", root / "whole", "-q")
    assert result.code == 0, result.err
    return config, root / "whole"


@pytest.fixture(scope="module")
def stopped_runs(fault_runs, tmp_path_factory) -> dict:
    """The fault config trained in three fresh processes at once; each gets its signal (kill -9, Ctrl-C,
    SIGTERM) as soon as its first checkpoint exists: mid-epoch, mid-run."""
    config, _ = fault_runs
    root = tmp_path_factory.mktemp("stopped")
    procs = {}
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        run = root / sig.name
        procs[sig] = run, subprocess.Popen(
            [sys.executable, "-m", "seqtrain", "train", str(config), "--run-dir", str(run), "-q"], cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting, deadline = set(procs), time.monotonic() + 180
    while waiting:
        for sig in list(waiting):
            run, proc = procs[sig]
            if (run / "checkpoints" / "last.pt").exists():
                proc.send_signal(sig)
                waiting.discard(sig)
            else:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    results = {}
    for sig, (run, proc) in procs.items():
        out, err = proc.communicate(timeout=180)
        results[sig] = run, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def assert_same_weights(run_a: Path, run_b: Path) -> None:
    a = load_checkpoint(run_a / "checkpoints" / "last.pt")
    b = load_checkpoint(run_b / "checkpoints" / "last.pt")
    assert a["progress"]["step"] == b["progress"]["step"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key in ("optimizer", "scheduler"):
        assert str(a[key]) == str(b[key])


def dev_records(run: Path) -> list:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["metrics"]) for r in records if r["split"] == "dev"]


@pytest.mark.slow
def test_kill_9_then_resume_ends_with_the_weights_of_an_uninterrupted_run(fault_runs, stopped_runs):
    config, whole = fault_runs
    run, killed = stopped_runs[signal.SIGKILL]
    assert killed.returncode == -signal.SIGKILL
    stopped_at = load_checkpoint(run / "checkpoints" / "last.pt")["progress"]
    assert stopped_at["step"] < 72 and stopped_at["batch_in_epoch"] not in (0, 12)  # mid-run, mid-epoch
    result = cli("train", config, "--resume", run, "-q")
    assert result.code == 0, result.err
    assert_same_weights(whole, run)
    assert dev_records(run) == dev_records(whole)  # nothing logged twice or lost


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_saves_last_pt_and_says_how_to_resume(fault_runs, stopped_runs, sig):
    config, whole = fault_runs
    run, stopped = stopped_runs[sig]
    assert stopped.returncode == 130 and "Traceback" not in stopped.stderr
    resume_line = f"resume with: seqtrain train {run / 'config.yaml'} --resume {run}"
    assert resume_line in stopped.stderr
    assert load_checkpoint(run / "checkpoints" / "last.pt")["progress"]["step"] < 72
    result = cli(*resume_line.removeprefix("resume with: seqtrain ").split(), "-q")  # exactly what it said
    assert result.code == 0, result.err
    assert_same_weights(whole, run)
