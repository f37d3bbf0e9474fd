"""Entities through the Python API, with `seqtrain.*` names only: a toy entity tagger that reads raw
text with segtok gives each sentence its entities, whose offsets slice the text given."""

from __future__ import annotations

import re

import pytest

import seqtrain
from conftest import REPO

TEXT = "Yesterday Ada Lovelace moved to Paris with Tom.  Grace Hopper works for IBM in Boston."


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    run = seqtrain.train(REPO / "configs" / "ner-toy.yaml", {"train.threads": 1},
                         run_dir=tmp_path_factory.mktemp("api-ner") / "run")
    return seqtrain.load(run.run_dir)


def test_load_gives_a_tagger_for_an_entities_run(tagger):
    assert isinstance(tagger, seqtrain.Tagger)


def test_entities_slice_the_text_given_to_their_text(tagger):
    entities = [e for s in tagger(TEXT) for e in s.entities]
    assert entities and all(isinstance(e, seqtrain.Span) for e in entities)
    for e in entities:
        assert TEXT[e.start_char:e.end_char] == e.text


def test_an_entity_covers_its_words_and_only_they_carry_its_type(tagger):
    for sentence in tagger(TEXT):
        for e in sentence.entities:
            first, end = e.words
            words = sentence.words[first:end]
            assert " ".join(w.text for w in words) == " ".join(e.text.split())
            assert all(w.tag != "O" and w.tag.endswith(f"-{e.type}") for w in words)


def test_pretokenized_texts_give_entities_with_offsets_into_each_text(tagger):
    texts = ["Ada  Lovelace moved to Paris .", "Call Tom before noon ."]
    sentences = tagger.predict(texts, pretokenized=True)
    assert [s.input for s in sentences] == [0, 1]
    for sentence in sentences:
        for e in sentence.entities:
            assert texts[sentence.input][e.start_char:e.end_char] == e.text


def test_a_sentence_prints_as_its_text_with_each_entity_bracketed_and_typed(tagger):
    sentences = tagger(TEXT)
    assert all(isinstance(s, seqtrain.EntitySentence) for s in sentences)
    for sentence in sentences:
        printed = str(sentence)
        assert printed.count("[") == len(sentence.entities)
        assert all(f"[{e.type} {e.text}]" in printed for e in sentence.entities)
        assert re.sub(r"\[\w+ ([^\]]*)\]", r"\1", printed) == sentence.text
