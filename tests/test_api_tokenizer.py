"""The Tokenizer of the Python API, through `seqtrain.*` names only."""

from __future__ import annotations

import pytest

import seqtrain
from conftest import REPO


@pytest.fixture(scope="module")
def tokenizer_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("api-tokenizer") / "tok"
    return seqtrain.train(REPO / "configs" / "tokenize-toy.yaml", {"train.threads": 1, "train.epochs": 4}, run_dir=run)


def test_load_gives_a_tokenizer_for_a_tokenize_run(tokenizer_run):
    assert isinstance(seqtrain.load(tokenizer_run.run_dir), seqtrain.Tokenizer)


def test_tokens_slice_the_text_they_came_from_and_carry_no_tags(tokenizer_run):
    texts = ["The dog ate the apple. I don't know.", "  Two spaces first."]
    sentences = seqtrain.load(tokenizer_run.run_dir).predict(texts)
    assert {s.input for s in sentences} == {0, 1}
    for sentence in sentences:
        assert sentence.tokens and all(w.tag is None for w in sentence.words)
        for token in sentence.tokens:
            assert texts[sentence.input][token.start_char:token.end_char] == token.text


def test_calling_a_tokenizer_tokenizes_one_text(tokenizer_run):
    tokenizer = seqtrain.load(tokenizer_run.run_dir)
    text = "The dog ate the apple."
    assert [t.text for s in tokenizer(text) for t in s.tokens] == [t.text for s in tokenizer.predict([text])
                                                                  for t in s.tokens]


def test_evaluate_reports_the_tokenizers_metrics(tokenizer_run):
    assert "words_f1" in seqtrain.load(tokenizer_run.run_dir).evaluate()["metrics"]
