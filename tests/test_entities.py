"""Named entities: schemes read as conlleval reads them, scores worked out on paper, readers of the
three file layouts, and decoding that only writes sequences the scheme allows."""

from __future__ import annotations

import pytest
import torch

from seqtrain.core.errors import UserError
from seqtrain.models.layers import embedding
from seqtrain.tasks import config_from_dict
from seqtrain.models.rnn import Recurrent
from seqtrain.models.tagger import Tagger, mask_of
from seqtrain.tasks.entities.metrics import entity_counts, entity_metrics, type_table
from seqtrain.tasks.entities.readers import read_entities
from seqtrain.tasks.entities.schemes import allowed_transitions, convert, ill_formed, spans, valid


# ---------------------------------------------------------------- schemes

def test_an_i_after_o_starts_an_entity_as_conlleval_reads_it():
    assert spans(["O", "I-LOC", "I-LOC", "O"]) == [("LOC", 1, 3)]
    assert ill_formed(["O", "I-LOC", "I-LOC", "O"]) == 1


def test_an_inside_tag_after_a_finished_entity_starts_another():
    assert spans(["B-PER", "E-PER", "I-PER", "E-PER", "S-LOC", "E-LOC"]) == [("PER", 0, 2), ("PER", 2, 4),
                                                                           ("LOC", 4, 5), ("LOC", 5, 6)]


def test_a_change_of_type_ends_one_entity_and_starts_another():
    assert spans(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 3)]


def test_iob1_b_separates_two_adjacent_entities_of_one_type():
    assert spans(["I-PER", "I-PER", "B-PER", "O", "I-ORG"]) == [("PER", 0, 2), ("PER", 2, 3), ("ORG", 4, 5)]


def test_bioes_single_and_multiword_entities():
    assert spans(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG"]) == [("PER", 0, 1), ("LOC", 1, 4), ("ORG", 5, 6)]


@pytest.mark.parametrize("scheme, written", [
    ("iob1", ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]),
    ("iob2", ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]),
    ("bioes", ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]),
])
def test_the_same_entities_are_written_in_each_scheme_and_read_back(scheme, written):
    entities = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]
    assert convert(["B-PER", "I-PER", "B-PER", "O", "B-LOC"], scheme) == written
    assert spans(written) == entities


# ---------------------------------------------------------------- scores worked out on paper

GOLD = [["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"],   # John Smith lives in New York
        ["B-ORG", "O", "B-PER"],                           # Acme hired Ann
        ["O", "O"]]                                        # it rained
PREDICTED = [["B-PER", "O", "O", "O", "B-LOC", "I-LOC"],  # PER cut short; LOC right
             ["B-LOC", "O", "B-PER"],                      # ORG given the wrong type; PER right
             ["B-PER", "O"]]                               # a spurious PER
TYPES = ["LOC", "ORG", "PER"]


def test_entity_cut_short_wrong_type_and_spurious_entity_score_as_on_paper():
    totals = entity_counts(GOLD, PREDICTED, TYPES)
    # gold 4 (PER 2, LOC 1, ORG 1), predicted 5, correct 2 (New York, Ann)
    assert entity_metrics(totals) == pytest.approx({"precision": 2 / 5, "recall": 2 / 4, "f1": 4 / 9})


def test_per_type_table_counts_each_type_on_its_own():
    rows = {row[0]: row[1:] for row in type_table(TYPES, entity_counts(GOLD, PREDICTED, TYPES)).rows}
    assert rows["PER"] == pytest.approx([1 / 3, 1 / 2, 0.4, 2, 3, 1])
    assert rows["LOC"] == pytest.approx([1 / 2, 1, 2 / 3, 1, 2, 1])
    assert rows["ORG"] == pytest.approx([0, 0, 0, 1, 0, 0])


def test_iob1_gold_is_scored_against_iob2_predictions_by_span():
    gold = [["I-PER", "I-PER", "B-PER", "O"]]  # two persons
    assert entity_metrics(entity_counts(gold, [["B-PER", "I-PER", "B-PER", "O"]], ["PER"]))["f1"] == 1.0
    merged = entity_metrics(entity_counts(gold, [["B-PER", "I-PER", "I-PER", "O"]], ["PER"]))
    assert merged == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


# ---------------------------------------------------------------- readers

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_wnut_file_tab_only_lines_end_sentences_and_hash_lines_are_tokens(tmp_path):
    path = write(tmp_path, "wnut.conll", "#Oscars\tB-creative-work\nwin\tO\n\t\n@bob\tO\nin\tO\nLA\tB-location\n\n")
    read = read_entities(path)
    assert [s.words for s in read.sentences] == [["#Oscars", "win"], ["@bob", "in", "LA"]]
    assert read.sentences[0].tags == ["B-creative-work", "O"] and read.scheme == "iob2"


def test_uner_iob2_comments_and_five_columns(tmp_path):
    path = write(tmp_path, "uner.txt", "# sent_id = a\n# text = Ada met Tom.\n1\tAda\tB-PER\t-\t-\n2\tmet\tO\t-\t-\n"
                                     "3\tTom\tB-PER\t-\tx\n4\t.\tO\t-\t-\n\n")
    read = read_entities(path)
    assert read.sentences[0].words == ["Ada", "met", "Tom", "."] and read.texts == ["Ada met Tom."]
    assert spans(read.sentences[0].tags) == [("PER", 0, 1), ("PER", 2, 3)]


def test_conll2003_spaces_docstart_and_a_chosen_tag_column(tmp_path):
    path = write(tmp_path, "c.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n"
                                    "German JJ B-NP I-MISC\n\n")
    read = read_entities(path)
    assert read.sentences[0].words == ["EU", "rejects", "German"] and read.scheme == "iob1"
    chunks = read_entities(path, tag_column=3)
    assert chunks.sentences[0].tags == ["B-NP", "B-VP", "B-NP"]


def test_a_malformed_line_is_one_error_naming_file_and_line(tmp_path):
    path = write(tmp_path, "bad.iob2", "1\tAda\tB-PER\t-\t-\n2\tmet\n\n")
    with pytest.raises(UserError, match=r"bad.iob2:2: expected a token and a tag column"):
        read_entities(path)


def test_bioes_and_bio_in_one_file_is_refused_unless_the_scheme_is_given(tmp_path):
    path = write(tmp_path, "mixed.conll", "Ada\tS-PER\n\nNew\tB-LOC\nYork\tI-LOC\n\n")
    with pytest.raises(UserError, match=r"mixed.conll:4: mixed tag schemes: line 1 has E-/S- tags"):
        read_entities(path)
    assert read_entities(path, scheme="bioes").scheme == "bioes"


# ---------------------------------------------------------------- valid by construction

TAGS = {"bioes": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"],
        "bio": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]}


def untrained_tagger(tags: list[str], scheme: str, crf: bool) -> Tagger:
    torch.manual_seed(0)
    model = Tagger(embedding(20, 8), None, Recurrent("lstm", 8, 8, bidirectional=True), len(tags), crf=crf)
    with torch.no_grad():  # push every token towards I- and E- tags: unconstrained, the output is invalid
        model.out.bias.copy_(torch.tensor([3.0 if t[0] in "IE" else 0.0 for t in tags]))
        if crf:
            model.crf.transitions.normal_(0, 3)
    model.constrain(allowed_transitions(tags, scheme))
    return model.eval()


@pytest.mark.parametrize("scheme", ["bioes", "bio"])
@pytest.mark.parametrize("crf", [True, False])
def test_an_untrained_tagger_writes_only_valid_sequences(scheme, crf):
    tags = TAGS[scheme]
    model = untrained_tagger(tags, scheme, crf)
    lengths = torch.randint(1, 12, (64,))
    words = torch.randint(1, 20, (64, int(lengths.max())))
    with torch.no_grad():
        scores = model(words, None, None, None, lengths)
        decoded = model.decode(scores, mask_of(lengths, words.shape[1])).tolist()
    for ids, n in zip(decoded, lengths.tolist()):
        assert valid([tags[i] for i in ids[:n]], "bioes" if scheme == "bioes" else "iob2"), [tags[i] for i in ids[:n]]


# ---------------------------------------------------------------- training sequences of several sentences

TWO_DOCUMENTS = ("# newdoc id = a\n1\tAda\tB-PER\t-\t-\n2\tsang\tO\t-\t-\n\n1\tTom\tB-PER\t-\t-\n2\twept\tO\t-\t-\n\n"
                 "1\tRome\tB-LOC\t-\t-\n\n# newdoc id = b\n1\tIBM\tB-ORG\t-\t-\n\n1\tOslo\tB-LOC\t-\t-\n\n")


def training_sentences(tmp_path, join: float, seed: int = 0):
    from seqtrain.core.config import config_from_dict
    from seqtrain.tasks.entities.task import EntitiesTask

    train = write(tmp_path, "train.iob2", TWO_DOCUMENTS)
    cfg = config_from_dict({"task": "entities", "seed": seed, "data": {"train": str(train), "dev": str(train),
                                                                      "join_sentences": join}},
                           {"entities": EntitiesTask})
    return EntitiesTask.read_sentences(cfg, {"train": train, "dev": train})


def test_joined_training_sentences_stay_within_their_document_and_keep_every_tag(tmp_path):
    train, dev = training_sentences(tmp_path, join=0.95)
    assert [s.words for s in train] == [["Ada", "sang", "Tom", "wept", "Rome"], ["IBM", "Oslo"]]
    assert train[0].tags == ["S-PER", "O", "S-PER", "O", "S-LOC"]
    assert len(dev) == 5  # dev sentences are scored one at a time, as written


def test_without_join_sentences_each_sentence_is_its_own_sequence(tmp_path):
    train, _ = training_sentences(tmp_path, join=0.0)
    assert [s.words for s in train] == [["Ada", "sang"], ["Tom", "wept"], ["Rome"], ["IBM"], ["Oslo"]]


def test_the_same_seed_joins_the_same_sentences(tmp_path):
    runs = [[s.words for s in training_sentences(tmp_path, join=0.5, seed=seed)[0]] for seed in (3, 3, 4, 5, 6)]
    assert runs[0] == runs[1]
    assert any(r != runs[0] for r in runs[2:])  # and the seed decides which


def test_raw_text_evaluation_reads_each_text_line_as_a_paragraph_as_predict_reads_a_file(tmp_path):
    from seqtrain.tasks.entities.raw import gold_paragraphs

    path = write(tmp_path, "doc.iob2", "# newdoc id = a\n# text = Ada sang.\n1\tAda\tB-PER\t-\t-\n2\tsang\tO\t-\t-\n"
                                       "3\t.\tO\t-\t-\n\n# text = Tom wept\n1\tTom\tB-PER\t-\t-\n2\twept\tO\t-\t-\n\n")
    paragraphs = gold_paragraphs(read_entities(path), str(path))
    assert [p.text for p in paragraphs] == ["Ada sang.", "Tom wept"]
    assert [[t.start for t in s.tokens] for p in paragraphs for s in p.sentences] == [[0, 4, 8], [0, 4]]


def test_aux_tags_in_an_entities_config_is_refused_when_the_config_is_read():
    with pytest.raises(UserError, match=r"^data\.aux_tags: entity files have no other columns"):
        config_from_dict({"task": "entities", "data": {"aux_tags": ["xpos"]}})
    assert config_from_dict({"task": "entities"}).data.aux_tags == []
