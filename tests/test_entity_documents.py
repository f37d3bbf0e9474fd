"""Names kept consistent within a document (`model.document_consistency`): the rule worked out on
paper, then a toy tagger whose evaluation, column output and raw-text evaluation all apply it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, cli
from seqtrain.tasks.entities.documents import consistent
from seqtrain.tasks.entities.schemes import spans
from test_entities_cli import conlleval_f1, tag_pairs

# the toy tagger (3 epochs) finds "Boston" in the first sentence and misses it in the second
DOCUMENTS = """\
# newdoc id = a
# text = we like Boston .
1\twe\tO\t-\t-
2\tlike\tO\t-\t-
3\tBoston\tB-LOC\t-\t-
4\t.\tO\t-\t-

# text = mat mat Boston mat .
1\tmat\tO\t-\t-
2\tmat\tO\t-\t-
3\tBoston\tB-LOC\t-\t-
4\tmat\tO\t-\t-
5\t.\tO\t-\t-

# newdoc id = b
# text = mat mat Boston mat .
1\tmat\tO\t-\t-
2\tmat\tO\t-\t-
3\tBoston\tO\t-\t-
4\tmat\tO\t-\t-
5\t.\tO\t-\t-

"""


# ---------------------------------------------------------------- the rule

def test_a_name_found_once_is_found_wherever_it_recurs_in_its_document():
    words = [["Xinhua", "said"], ["and", "Xinhua", "wrote"]]
    assert consistent(words, [[("ORG", 0, 1)], []], [0, 0]) == [[("ORG", 0, 1)], [("ORG", 1, 2)]]


def test_a_name_is_not_carried_into_another_document():
    words = [["Xinhua", "said"], ["and", "Xinhua", "wrote"]]
    assert consistent(words, [[("ORG", 0, 1)], []], [0, 1]) == [[("ORG", 0, 1)], []]


def test_a_recurring_name_takes_the_type_found_most_often():
    words = [["Jordan"], ["Jordan"], ["Jordan"], ["in", "Jordan"]]
    found = [[("PER", 0, 1)], [("LOC", 0, 1)], [("LOC", 0, 1)], []]
    assert consistent(words, found, [0] * 4)[3] == [("LOC", 1, 2)]


def test_words_inside_an_entity_found_there_are_left_as_they_are():
    words = [["Paris"], ["Paris", "Hilton", "sang"]]
    found = [[("LOC", 0, 1)], [("PER", 0, 2)]]
    assert consistent(words, found, [0, 0])[1] == [("PER", 0, 2)]


def test_the_longest_name_is_matched_first():
    words = [["New", "York", "Times"], ["New", "York"], ["read", "New", "York", "Times"]]
    found = [[("ORG", 0, 3)], [("LOC", 0, 2)], []]
    assert consistent(words, found, [0, 0, 0])[2] == [("ORG", 1, 4)]


# ---------------------------------------------------------------- through a toy tagger

@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ner-documents") / "run"
    done = cli("train", REPO / "configs" / "ner-toy.yaml", "--run-dir", run, "--quiet", "-o", "train.epochs=3",
               "-o", "train.threads=1", "-o", "data.tokenizer=whitespace", "-o", "model.document_consistency=true")
    assert done.code == 0, done.err
    return run


@pytest.fixture()
def documents(tmp_path) -> Path:
    path = tmp_path / "documents.iob2"
    path.write_text(DOCUMENTS, encoding="utf-8")
    return path


def predicted_documents(lines: list[str]) -> list[list[tuple[list[str], list[str]]]]:
    """The (words, tags) of each sentence of each document in predict's column output."""
    out: list[list[tuple[list[str], list[str]]]] = []
    sentence: tuple[list[str], list[str]] = ([], [])
    for line in lines + [""]:
        if line.startswith("# newdoc"):
            out.append([])
        elif not line.strip() and sentence[0]:
            out[-1].append(sentence)
            sentence = ([], [])
        elif line.strip() and not line.startswith("#"):
            _, word, tag, *_ = line.split("\t")
            sentence[0].append(word)
            sentence[1].append(tag)
    return out


def test_predicted_columns_tag_a_found_name_wherever_it_recurs_in_its_document(toy, documents):
    done = cli("predict", toy, "--format", "iob2", "--input", documents, "--output-format", "conllu")
    assert done.code == 0, done.err
    first, second = predicted_documents(done.out.splitlines())
    assert second[0][1][2] == "O"  # the second document never found Boston: nothing carries over
    for document in (first, second):
        names = {tuple(words[i:j]) for words, tags in document for _, i, j in spans(tags)}
        for words, tags in document:
            for i in range(len(words)):
                for name in names:
                    if tuple(words[i:i + len(name)]) == name:
                        assert any(tags[k] != "O" for k in range(i, i + len(name))), (name, words, tags)


def test_evaluate_with_document_consistency_scores_what_predict_writes(toy, documents):
    scored = json.loads(cli("evaluate", toy, documents, "--json").out)
    predicted = cli("predict", toy, "--format", "iob2", "--input", documents, "--output-format", "conllu")
    f1 = conlleval_f1(tag_pairs(documents, predicted.out.splitlines()))
    assert 0 < f1 and scored["metrics"]["f1"] == pytest.approx(f1, abs=1e-4)


def test_raw_text_read_as_the_gold_words_scores_as_they_do_with_document_consistency(toy, documents):
    gold = json.loads(cli("evaluate", toy, documents, "--json").out)["metrics"]
    raw = json.loads(cli("evaluate", toy, documents, "--raw", "--json").out)["metrics"]
    assert raw["words_f1"] == 1.0  # the text is the words between spaces: the tagger reads the same words
    assert (raw["precision"], raw["recall"]) == pytest.approx((gold["precision"], gold["recall"]))


def test_each_text_given_to_predict_is_a_document(toy):
    import seqtrain

    tagger = seqtrain.load(toy)  # alone, the toy tagger misses the first Boston here
    one = tagger("then we Boston ? and is Boston . it")[0]
    assert [e.text for e in one.entities] == ["Boston", "Boston"]
    apart = tagger.predict(["and is Boston . it", "mat mat Boston mat ."])
    assert [[e.text for e in s.entities] for s in apart] == [["Boston"], []]
