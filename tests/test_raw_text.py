"""Taggers that read raw text: a tokenizer named in data.tokenizer and carried in the tagger's
checkpoint, predict on raw and pretokenized text, CoNLL-U out, and evaluate --raw."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, assert_user_error, cli, run_cli

SAMPLE = REPO / "data" / "samples" / "pos-en-ud.txt"
QUICK = ["--quiet", "-o", "train.threads=1"]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory) -> Path:
    """A toy tagger whose tokenizer, a toy tokenize run, was deleted after the tagger was trained."""
    root = tmp_path_factory.mktemp("raw")
    tokenizer = root / "tokenizer"
    done = cli("train", REPO / "configs" / "tokenize-toy.yaml", "--run-dir", tokenizer, *QUICK)
    assert done.code == 0, done.err
    run = root / "tagger"
    done = cli("train", REPO / "configs" / "pos-toy.yaml", "--run-dir", run, "-o", f"data.tokenizer={tokenizer}",
               "-o", "train.epochs=15", *QUICK)
    assert done.code == 0, done.err
    shutil.rmtree(tokenizer)
    return run


@pytest.mark.slow
def test_a_tagger_tags_raw_text_with_the_tokenizer_its_checkpoint_carries(tagger):
    result = run_cli("predict", tagger, "The dog ate the apple. The cat sat on the mat.")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[-2:] == ["apple/NOUN", "./PUNCT"]


def test_pretokenized_text_is_read_as_words_between_spaces_one_sentence_a_line(tagger):
    result = cli("predict", tagger, "--pretokenized", "The dog ate the apple.")
    assert result.code == 0, result.err
    assert result.out.split()[-1].startswith("apple./")  # the period stays part of the word


def test_raw_text_comes_out_as_conllu_that_evaluate_raw_scores_perfect(tagger, tmp_path):
    text = "The dog ate the apple. I don't know the answer."
    result = cli("predict", tagger, text, "--output-format", "conllu")
    assert result.code == 0, result.err
    assert "# text = The dog ate the apple." in result.out and "SpaceAfter=No" in result.out
    written = tmp_path / "tagged.conllu"
    written.write_text(result.out, encoding="utf-8")
    scored = cli("evaluate", tagger, written, "--raw", "--json")
    assert scored.code == 0, scored.err
    metrics = json.loads(scored.out)["metrics"]
    assert [metrics[k] for k in ("tokens_f1", "sentences_f1", "words_f1", "upos_f1")] == [1.0] * 4


def test_evaluate_raw_reports_tokens_sentences_words_and_upos_f1(tagger):
    result = cli("evaluate", tagger, SAMPLE, "--raw", "--json")
    assert result.code == 0, result.err
    metrics = json.loads(result.out)["metrics"]
    assert all(0.5 < metrics[k] <= 1.0 for k in ("tokens_f1", "sentences_f1", "words_f1", "upos_f1"))
    assert metrics["upos_f1"] <= metrics["words_f1"]  # a word must be aligned before its tag counts


def test_a_whitespace_tagger_reads_raw_text_as_it_always_did(tmp_path):
    run = tmp_path / "run"
    assert cli("train", REPO / "configs" / "pos-toy.yaml", "--run-dir", run, "-o", "train.epochs=2", *QUICK).code == 0
    raw = cli("predict", run, "The dog ate the apple.", "", "A cat .")
    pretokenized = cli("predict", run, "--pretokenized", "The dog ate the apple.", "", "A cat .")
    assert raw.out == pretokenized.out and raw.out.splitlines()[1] == ""


def test_data_tokenizer_that_is_missing_or_not_a_tokenizer_is_one_line_naming_the_key(tmp_path, hello_run):
    config = REPO / "configs" / "pos-toy.yaml"
    missing = cli("train", config, "--run-dir", tmp_path / "a", "-o", f"data.tokenizer={tmp_path / 'nope'}", *QUICK)
    assert_user_error(missing, "data.tokenizer", "no such file")
    wrong = cli("train", config, "--run-dir", tmp_path / "b", "-o", f"data.tokenizer={hello_run}", *QUICK)
    assert_user_error(wrong, "data.tokenizer", "not a tokenizer")
    empty = cli("train", config, "--run-dir", tmp_path / "c", "-o", "data.tokenizer=", *QUICK)
    assert_user_error(empty, "data.tokenizer: empty", "whitespace")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_evaluate_raw_of_a_model_that_reads_no_raw_text_is_one_line(hello_run):
    assert_user_error(cli("evaluate", hello_run, SAMPLE, "--raw"), "does not read raw text")


def test_conllu_output_from_a_task_that_writes_none_is_one_line(hello_run):
    assert_user_error(cli("predict", hello_run, "hello", "--output-format", "conllu"), "--output-format")


def test_raw_input_that_is_not_utf8_is_one_line_naming_the_file(tagger, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    assert_user_error(cli("predict", tagger, "--input", path), str(path))


def test_evaluate_raw_without_a_file_scores_the_dev_split_of_the_run_config(tagger):
    result = cli("evaluate", tagger, "--raw", "--json")
    assert result.code == 0, result.err
    scored = json.loads(result.out)
    assert scored["examples"] == round(38 * 0.15)  # pos-toy.yaml holds out 15% of the 38 sample sentences
    assert scored["metrics"]["upos_f1"] > 0.5


def test_a_gold_file_whose_tokens_do_not_spell_its_text_is_one_line_naming_the_line(tagger, tmp_path):
    path = tmp_path / "gold.conllu"
    path.write_text("# text = The cat sat.\n1\tThe\t_\tDET\t_\t_\t_\t_\t_\t_\n2\tdog\t_\tNOUN\t_\t_\t_\t_\t_\t_\n"
                    "3\tsat\t_\tVERB\t_\t_\t_\t_\t_\tSpaceAfter=No\n4\t.\t_\tPUNCT\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    assert_user_error(cli("evaluate", tagger, path, "--raw"), f"{path}:1:", "do not spell")


@pytest.mark.slow
def test_a_long_raw_line_without_a_sentence_end_is_tagged_whole(tagger, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(["the dog"] * 10_000) + "\n", encoding="utf-8")
    result = run_cli("predict", tagger, "--input", path, "--output-format", "json", timeout=300)
    assert result.code == 0, result.err
    assert sum(len(t["words"]) for r in json.loads(result.out) for t in r["tokens"]) == 20_000
