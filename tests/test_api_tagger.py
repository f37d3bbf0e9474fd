"""The Tagger of the Python API, through `seqtrain.*` names only: a toy POS tagger that reads raw
text with a toy trained tokenizer."""

from __future__ import annotations

import subprocess
import sys

import pytest

import seqtrain
from conftest import REPO

QUICK = {"train.threads": 1, "train.epochs": 4}


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-tagger")
    seqtrain.train(REPO / "configs" / "tokenize-toy.yaml", QUICK, run_dir=root / "tok")
    return seqtrain.train(REPO / "configs" / "pos-toy.yaml", QUICK | {"data.tokenizer": str(root / "tok")},
                          run_dir=root / "pos")


def test_train_returns_the_run_directory_best_checkpoint_and_dev_metrics(tagger_run):
    assert tagger_run.best_checkpoint == tagger_run.run_dir / "checkpoints" / "best.pt"
    assert tagger_run.best_checkpoint.is_file()
    assert 0 <= tagger_run.metrics["accuracy"] <= 1


def test_load_gives_a_tagger_for_a_pos_run(tagger_run):
    assert isinstance(seqtrain.load(tagger_run.run_dir), seqtrain.Tagger)
    assert isinstance(seqtrain.load(tagger_run.best_checkpoint), seqtrain.Tagger)


def test_a_tagger_called_on_raw_text_gives_words_with_tags_and_offsets_into_the_text(tagger_run):
    text = "The dog ate the apple.  A cat sat."
    sentences = seqtrain.load(tagger_run.run_dir)(text)
    words = [w for s in sentences for w in s.words]
    assert words and all(w.tag for w in words)
    for token in (t for s in sentences for t in s.tokens):
        assert text[token.start_char:token.end_char] == token.text
    assert str(sentences).splitlines() == [str(s) for s in sentences]
    assert str(sentences[0]).split()[0] == f"{words[0].text}/{words[0].tag}"


def test_pretokenized_sentences_keep_their_words_one_sentence_each(tagger_run):
    sentences = seqtrain.load(tagger_run.run_dir).predict(["The dog ate .", ["A", "cat", "sat", "."]],
                                                         pretokenized=True)
    assert [[w.text for w in s.words] for s in sentences] == [["The", "dog", "ate", "."], ["A", "cat", "sat", "."]]
    assert [s.input for s in sentences] == [0, 1]
    assert [(w.start_char, w.end_char) for w in sentences[1].words] == [(0, 1), (2, 5), (6, 9), (10, 11)]


def test_the_api_tags_as_the_command_line_does(tagger_run):
    from conftest import cli

    tagger = seqtrain.load(tagger_run.run_dir)
    printed = cli("predict", tagger_run.run_dir, "--pretokenized", "The dog ate the apple .")
    assert printed.code == 0, printed.err
    assert printed.out.strip() == str(tagger.predict(["The dog ate the apple ."], pretokenized=True))


def test_evaluate_and_info_describe_the_model(tagger_run):
    tagger = seqtrain.load(tagger_run.run_dir)
    assert tagger.evaluate()["metrics"]["accuracy"] == pytest.approx(tagger_run.metrics["accuracy"])
    assert tagger.info["task"] == "pos"


@pytest.mark.slow
def test_the_one_liner_prints_words_with_tags(tagger_run):
    code = f"import seqtrain; t = seqtrain.load({str(tagger_run.run_dir)!r}); print(t('The dog ate the apple.'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words and all("/" in w and w.split("/")[-1] for w in words), done.stdout


def test_a_missing_run_is_a_user_error_with_the_command_lines_message(tmp_path):
    from conftest import cli

    with pytest.raises(seqtrain.UserError) as caught:
        seqtrain.load(tmp_path / "nothing")
    assert cli("predict", tmp_path / "nothing", "x").err.strip() == f"error: {caught.value}"


def test_train_refuses_a_bad_override_as_the_command_line_does(tmp_path):
    with pytest.raises(seqtrain.UserError, match="train.epochs"):
        seqtrain.train(REPO / "configs" / "pos-toy.yaml", {"train.epochs": "two"}, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "64", 10**6])
def test_a_batch_size_that_is_not_a_whole_number_from_1_is_a_user_error(tagger_run, batch_size):
    tagger = seqtrain.load(tagger_run.run_dir)
    for call in (lambda: tagger.predict(["The dog ate."], batch_size=batch_size),
                 lambda: tagger.evaluate(batch_size=batch_size)):
        with pytest.raises(seqtrain.UserError, match="batch_size"):
            call()
