"""Named entities through the command line: a toy tagger trained briefly (so that it makes mistakes),
its scores against an independent conlleval-style scorer, its outputs, and every bad input as one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import REPO, assert_user_error, cli
from seqtrain.tasks.entities.schemes import convert, spans, valid

TOY_DEV = REPO / "data" / "samples" / "ner-en-toy-dev.iob2"


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ner") / "run"
    # without the config's tokenizer: text is words between spaces (and conllu output of it refused)
    done = cli("train", REPO / "configs" / "ner-toy.yaml", "--run-dir", run, "--quiet",
               "-o", "train.epochs=3", "-o", "train.threads=1", "-o", "data.tokenizer=whitespace")
    assert done.code == 0, done.err
    return run


# ---------------------------------------------------------------- conlleval, written again here

def _end(prev, tag, prev_type, kind):
    return (prev == "E" or prev == "S" or (prev == "B" and tag == "B") or (prev == "B" and tag == "S")
            or (prev == "B" and tag == "O") or (prev == "I" and tag == "B") or (prev == "I" and tag == "S")
            or (prev == "I" and tag == "O") or (prev != "O" and prev_type != kind))


def _start(prev, tag, prev_type, kind):
    return (tag == "B" or tag == "S" or (prev == "E" and tag == "E") or (prev == "E" and tag == "I")
            or (prev == "S" and tag == "E") or (prev == "S" and tag == "I") or (prev == "O" and tag == "E")
            or (prev == "O" and tag == "I") or (tag != "O" and prev_type != kind))


def conlleval_f1(pairs: list[tuple[str, str] | None]) -> float:
    """conlleval.pl's counting over (gold, guessed) tag pairs, None between sentences."""
    correct_chunks = found_gold = found_guessed = 0
    in_correct, last = False, ("O", "", "O", "")
    split = lambda tag: ("O", "") if tag == "O" else tuple(tag.split("-", 1))  # noqa: E731
    for pair in pairs + [None]:
        gold, guessed = pair or ("O", "O")
        (g, g_type), (p, p_type) = split(gold), split(guessed)
        lg, lg_type, lp, lp_type = last
        end_g, end_p = _end(lg, g, lg_type, g_type), _end(lp, p, lp_type, p_type)
        start_g, start_p = _start(lg, g, lg_type, g_type), _start(lp, p, lp_type, p_type)
        if in_correct:
            if end_g and end_p and lp_type == lg_type:
                in_correct, correct_chunks = False, correct_chunks + 1
            elif end_g != end_p or p_type != g_type:
                in_correct = False
        if start_g and start_p and p_type == g_type:
            in_correct = True
        found_gold += start_g
        found_guessed += start_p
        last = (g, g_type, p, p_type)
    precision, recall = correct_chunks / max(found_guessed, 1), correct_chunks / max(found_gold, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def tag_pairs(gold_file: Path, predicted_lines: list[str]) -> list[tuple[str, str] | None]:
    pairs = []
    for gold, guessed in zip(gold_file.read_text(encoding="utf-8").splitlines(), predicted_lines):
        if not gold.strip():
            pairs.append(None)
        elif not gold.startswith("#"):
            pairs.append((gold.split("\t")[2], guessed.split("\t")[2]))
    return pairs


def dev_files() -> list:
    files = [TOY_DEV]
    shared = Path(os.environ.get("SEQTRAIN_DATA", "/nonexistent")) / "uner-en-ewt" / "en_ewt-ud-dev.iob2"
    files.append(shared if shared.is_file() else pytest.param(shared, marks=pytest.mark.skip("set SEQTRAIN_DATA")))
    return files


@pytest.mark.parametrize("dev", dev_files(), ids=["toy-dev", "uner-en-ewt-dev"])
def test_evaluate_f1_agrees_with_an_independent_conlleval_scorer(toy, dev):
    scored = json.loads(cli("evaluate", toy, dev, "--json").out)
    predicted = cli("predict", toy, "--format", "iob2", "--input", dev, "--output-format", "conllu")
    f1 = conlleval_f1(tag_pairs(dev, predicted.out.splitlines()))
    assert 0 < f1 < 1
    assert scored["metrics"]["f1"] * 100 == pytest.approx(f1 * 100, abs=0.01)


def test_evaluate_json_reports_entity_scores_and_a_per_type_table(toy):
    result = json.loads(cli("evaluate", toy, "--json").out)
    assert {"f1", "precision", "recall", "accuracy"} <= set(result["metrics"])
    table = result["tables"][0]
    assert table["columns"][:4] == ["type", "precision", "recall", "f1"]
    assert {row[0] for row in table["rows"]} <= {"PER", "LOC", "ORG"}


# ---------------------------------------------------------------- output

def test_json_entities_slice_the_input_line_to_their_text(toy):
    line = "  Ada  Lovelace moved to Paris with Tom ."
    records = json.loads(cli("predict", toy, line, "--output-format", "json").out)
    entities = [e for r in records for e in r["entities"]]
    assert entities
    for e in entities:
        assert line[e["start_char"]:e["end_char"]] == e["text"]


def test_text_output_brackets_and_types_each_entity(toy):
    records = json.loads(cli("predict", toy, "Grace Hopper works for IBM in Boston .", "--output-format", "json").out)
    shown = cli("predict", toy, "Grace Hopper works for IBM in Boston .").out
    for e in records[0]["entities"]:
        assert f"[{e['type']} {e['text']}]" in shown


def test_columns_are_filled_in_the_scheme_the_input_had(toy, tmp_path):
    lines = TOY_DEV.read_text(encoding="utf-8").splitlines()
    sentence, out = [], []
    for line in lines + [""]:  # the dev file's tags rewritten in BIOES
        if line and not line.startswith("#"):
            sentence.append(line.split("\t"))
            continue
        for cols, tag in zip(sentence, convert([c[2] for c in sentence], "bioes")):
            out.append("\t".join(cols[:2] + [tag] + cols[3:]))
        sentence = []
        out.append(line)
    path = tmp_path / "dev-bioes.iob2"
    path.write_text("\n".join(out), encoding="utf-8")
    as_iob2 = cli("predict", toy, "--format", "iob2", "-i", TOY_DEV, "--output-format", "conllu").out.splitlines()
    as_bioes = cli("predict", toy, "--format", "iob2", "-i", path, "--output-format", "conllu").out.splitlines()
    tags = lambda lines: [line.split("\t")[2] for line in lines if line and not line.startswith("#")]  # noqa: E731
    assert any(t[0] in "SE" for t in tags(as_bioes)) and not any(t[0] in "SE" for t in tags(as_iob2))
    assert spans(tags(as_bioes)) == spans(tags(as_iob2))


def test_a_sentence_of_ten_thousand_words_gets_ten_thousand_valid_tags(toy):
    words = ("Ada Lovelace moved to Paris with Tom . " * 1250).split()
    records = json.loads(cli("predict", toy, " ".join(words), "--output-format", "json").out)
    assert len(records) == 1 and len(records[0]["tags"]) == 10_000
    assert valid(records[0]["tags"], "iob2")


def test_training_says_how_many_entities_started_with_i(tmp_path):
    path = tmp_path / "ill.conll"
    path.write_text("Ada\tB-PER\nin\tO\nParis\tI-LOC\n\nTom\tB-PER\nleft\tO\n\n", encoding="utf-8")
    done = cli("train", REPO / "configs" / "ner-toy.yaml", "--run-dir", tmp_path / "run", "--quiet",
               "-o", f"data.train={path}", "-o", "train.max_steps=1", "-o", "train.threads=1")
    assert done.code == 0, done.err
    assert "1 entities start with I-" in done.err


# ---------------------------------------------------------------- bad input: one line, exit 2

@pytest.mark.parametrize("content, fragments", [
    ("Ada\tX-PER\nleft\tO\n\n", ["bad.conll:1", "unknown prefix 'X'"]),
    ("Ada\tPROPN\nleft\tVERB\n\n", ["bad.conll:1", "parts of speech"]),
    ("Ada\tS-PER\nleft\tO\n\nNew\tB-LOC\nYork\tI-LOC\n\n", ["bad.conll:5", "mixed tag schemes"]),
    ("", ["bad.conll", "no sentences found"]),
])
def test_a_bad_training_file_is_one_line(tmp_path, content, fragments):
    path = tmp_path / "bad.conll"
    path.write_text(content, encoding="utf-8")
    result = cli("train", REPO / "configs" / "ner-toy.yaml", "--run-dir", tmp_path / "run", "--quiet",
                 "-o", f"data.train={path}")
    assert_user_error(result, *fragments)


def test_conllu_output_of_raw_text_without_a_tokenizer_is_one_line(toy):
    assert_user_error(cli("predict", toy, "Ada went home", "--output-format", "conllu"),
                      "--output-format conllu", "no tokenizer")


def test_an_entity_tagger_starts_from_a_trained_entity_tagger(toy, tmp_path):
    done = cli("train", REPO / "configs" / "ner-toy.yaml", "--run-dir", tmp_path / "run", "--quiet",
               "-o", "train.max_steps=2", "-o", "train.threads=1", "-o", f"model.init_from={toy}")
    assert done.code == 0, done.err
