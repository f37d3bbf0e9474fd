"""The tokenize task: character labels from CoNLL-U and back, multiword tokens, pieces of text, the
library baselines, and a toy tokenizer trained, saved and used from the CLI; the English-EWT bar
where the corpus is."""

import json
import os
from pathlib import Path

import pytest

from seqtrain.tasks.tokenize.document import Paragraph, group_paragraphs, parse_sentences, read_document
from seqtrain.tasks.tokenize.labels import (INSIDE, MULTIWORD_END, SENTENCE_END, TOKEN_END, MultiwordSplitter,
                                            decode, paragraph_labels, split_at_marks)
from seqtrain.tasks.tokenize.library import library_tokenizer
from seqtrain.tasks.tokenize.task import piece_spans, pieces

from conftest import REPO, assert_user_error, cli, run_cli

TOY = REPO / "configs" / "tokenize-toy.yaml"
SAMPLE = REPO / "data" / "samples" / "pos-en-ud.txt"
TWO_SENTENCES = """\
# text = I can't go.
1	I	_	PRON	_	_	_	_	_	_
2-3	can't	_	_	_	_	_	_	_	_
2	ca	_	AUX	_	_	_	_	_	_
3	n't	_	PART	_	_	_	_	_	_
4	go	_	VERB	_	_	_	_	_	SpaceAfter=No
5	.	_	PUNCT	_	_	_	_	_	_

# text = Yes!
1	Yes	_	INTJ	_	_	_	_	_	SpaceAfter=No
2	!	_	PUNCT	_	_	_	_	_	_

"""


def paragraph(text: str = TWO_SENTENCES) -> Paragraph:
    [only] = group_paragraphs(parse_sentences(text.splitlines(), "<test>"), "<test>")
    return only


def words(sentences) -> list[list[str]]:
    return [s.words for s in sentences]


# ---------------------------------------------------------------- labels

def test_labels_mark_token_multiword_and_sentence_ends():
    p = paragraph()
    assert p.text == "I can't go. Yes!"
    labels, marks = paragraph_labels(p)
    assert labels[0] == TOKEN_END and labels[6] == MULTIWORD_END and labels[9] == TOKEN_END
    assert labels[10] == SENTENCE_END and labels[15] == SENTENCE_END
    assert labels[1] == INSIDE and labels[3] == INSIDE  # a space; inside can't
    assert [i for i, m in enumerate(marks) if m] == [3]  # ca|n't: a word ends at the 'a'


def test_decoding_gold_labels_gives_back_the_gold_sentences_tokens_and_words():
    p = paragraph()
    labels, marks = paragraph_labels(p)
    decoded = decode(p.text, labels, split_at_marks(marks))
    assert words(decoded) == [["I", "ca", "n't", "go", "."], ["Yes", "!"]]
    assert [[t.form for t in s.tokens] for s in decoded] == [["I", "can't", "go", "."], ["Yes", "!"]]
    assert [t.space_after for t in decoded[0].tokens] == [True, True, False, True]


def test_whitespace_ends_a_token_whatever_the_labels_say():
    decoded = decode("ab cd", [INSIDE] * 5, MultiwordSplitter({}, []))
    assert words(decoded) == [["ab", "cd"]]


def test_the_end_of_a_paragraph_ends_a_sentence():
    decoded = decode("no end mark", [INSIDE] * 11, MultiwordSplitter({}, []))
    assert len(decoded) == 1 and decoded[0].text == "no end mark"


def test_multiword_tokens_split_as_training_saw_else_by_a_known_final_word_keeping_case():
    splitter = MultiwordSplitter.build([paragraph()] * 2)
    assert splitter("Can't") == ["Ca", "n't"]            # seen (lowercased), case kept
    assert splitter("Shouldn't") == ["Should", "n't"]    # unseen: the final word n't was seen twice
    assert splitter("hello") == ["hello"]                # nothing known: one word
    assert MultiwordSplitter.from_state(splitter.state_dict())("CAN'T") == ["CA", "N'T"]


def test_pieces_hold_whole_sentences_up_to_the_window():
    runs = pieces(read_document(SAMPLE), 60)
    assert all(len(r.text) <= 60 or len(r.sentences) == 1 for r in runs)
    assert sum(len(r.sentences) for r in runs) == 38
    for run in runs:  # token offsets moved into the run's own text
        assert all(run.text[t.start:t.end] == t.form for s in run.sentences for t in s.tokens)


def test_long_text_is_cut_after_whitespace_or_anywhere_without_any():
    assert piece_spans("ab cd " * 300, 1000)[0] == (0, 999)
    assert piece_spans("x" * 2500, 1000) == [(0, 1000), (1000, 2000), (2000, 2500)]
    assert piece_spans("", 1000) == []


# ---------------------------------------------------------------- library baselines

def test_whitespace_tokenizer_reads_a_paragraph_as_one_sentence_of_words_between_spaces():
    [[sentence]] = library_tokenizer("whitespace")(["The dog  ate it."])
    assert sentence.words == ["The", "dog", "ate", "it."] and sentence.tokens[2].start == 9


def test_segtok_splits_sentences_and_writes_contractions_as_multiword_tokens():
    pytest.importorskip("segtok")
    [sentences] = library_tokenizer("segtok")(["I can't go. It is!"])
    assert words(sentences) == [["I", "ca", "n't", "go", "."], ["It", "is", "!"]]
    assert sentences[0].tokens[1].form == "can't" and sentences[0].tokens[1].multiword


def test_jieba_cuts_words_and_ends_sentences_at_chinese_end_marks():
    pytest.importorskip("jieba")
    [sentences] = library_tokenizer("jieba")(["我爱北京。你好吗？"])
    assert len(sentences) == 2 and "".join(sentences[0].words) == "我爱北京。"
    assert len(sentences[0].words) > 1


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def toy_tokenizer(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("tokenize") / "run"
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.threads=1")
    assert result.code == 0, result.err
    return run


@pytest.mark.slow
def test_toy_tokenizer_prints_one_sentence_a_line_in_a_fresh_process(toy_tokenizer):
    result = run_cli("predict", toy_tokenizer, "The dog ate the apple. The cat sat on the mat.")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["The dog ate the apple .", "The cat sat on the mat ."]


def test_tokenizer_evaluate_reports_tokens_sentences_and_words_f1(toy_tokenizer):
    result = cli("evaluate", toy_tokenizer, SAMPLE, "--json")
    assert result.code == 0, result.err
    metrics = json.loads(result.out)["metrics"]
    assert {"tokens_f1", "sentences_f1", "words_f1"} <= set(metrics) and "upos_f1" not in metrics
    assert metrics["tokens_f1"] > 0.9


def test_tokenizer_writes_conllu_that_reads_back_as_the_same_text(toy_tokenizer, tmp_path):
    text = "The dog ate the apple. Is the shop open today?"
    result = cli("predict", toy_tokenizer, text, "--output-format", "conllu")
    assert result.code == 0, result.err
    path = tmp_path / "out.conllu"
    path.write_text(result.out, encoding="utf-8")
    [back] = read_document(path)
    assert back.text == text and "# text = Is the shop open today?" in result.out


@pytest.mark.parametrize("text", ["", "   "])
def test_tokenizer_given_no_text_says_so(toy_tokenizer, text):
    assert_user_error(cli("predict", toy_tokenizer, text), "no input text")


@pytest.mark.slow
def test_tokenizer_reads_a_script_it_never_saw_and_a_long_line_without_an_end_mark(toy_tokenizer, tmp_path):
    path = tmp_path / "odd.txt"
    long_line = " ".join(["word"] * 20_000)  # 100k characters, no sentence end
    path.write_text("Привет мир. Как дела?\n" + long_line + "\n", encoding="utf-8")
    result = run_cli("predict", toy_tokenizer, "--input", path, "--output-format", "json")
    assert result.code == 0, result.err
    records = json.loads(result.out)
    assert "".join(t["text"] for r in records if r["paragraph"] == 0 for t in r["tokens"]) == "Приветмир.Какдела?"
    assert sum(len(t["words"]) for r in records if r["paragraph"] == 1 for t in r["tokens"]) == 20_000


def test_zh_tokenizer_holds_out_the_same_sentences_as_the_zh_tagger():
    from seqtrain.core.paths import data_root, resolve_paths
    from seqtrain.tasks import load_config
    from seqtrain.tasks.pos.task import read_sentences
    from seqtrain.tasks.tokenize.task import read_paragraphs

    sample = ["-o", "data.train=samples/pos-zh-ud.txt"]
    tagger = load_config(REPO / "configs" / "pos-zh-gsdsimp.yaml", [sample[1]])
    tokenizer = load_config(REPO / "configs" / "tokenize-zh-gsdsimp.yaml", [sample[1]])
    _, tagger_dev = read_sentences(tagger, resolve_paths(tagger.data, data_root(), "data"))
    _, tokenizer_dev = read_paragraphs(tokenizer, resolve_paths(tokenizer.data, data_root(), "data"))
    assert [s.words for s in tagger_dev] == [s.words for p in tokenizer_dev for s in p.sentences]
    assert len(tagger_dev) == 4


needs_ewt = pytest.mark.skipif(not os.environ.get("SEQTRAIN_DATA"), reason="needs $SEQTRAIN_DATA (UD English-EWT)")


@pytest.mark.slow
@needs_ewt
def test_one_epoch_ewt_tokenizer_splits_contractions_and_sentences(tmp_path):
    run = tmp_path / "run"
    result = cli("train", REPO / "configs" / "tokenize-en-ewt.yaml", "--run-dir", run, "--quiet",
                 "-o", "train.epochs=1")
    assert result.code == 0, result.err
    out = cli("predict", run, "I can't believe it's not butter. It is!")
    assert out.out.splitlines() == ["I ca n't believe it 's not butter .", "It is !"]


def test_a_character_training_never_saw_still_reads_as_its_class():
    from seqtrain.tasks.tokenize.features import CLASSES, build_vocabs, char_features

    chars, bigrams = build_vocabs(["ab. cd"], 1, 1)
    features = char_features("Я.", chars, bigrams, use_jieba=False)
    assert features.shape == (2, 3)  # character, class, bigram
    assert features[0, 0] == chars.unk_id and CLASSES[features[0, 1]] == "upper"
    assert CLASSES[features[1, 1]] == "end_punct"


def test_jiebas_dictionary_marks_the_longest_words_starting_and_ending_at_each_character():
    pytest.importorskip("jieba")
    from seqtrain.tasks.tokenize.features import DICT_LENGTHS, jieba_dictionary_words

    # (longest word starting here, longest ending here) as buckets: 0 none, 1 two characters, 2 three
    pairs = [divmod(i - 1, DICT_LENGTHS) for i in jieba_dictionary_words("我爱北京天安门")]
    assert pairs[2] == (1, 0) and pairs[3] == (0, 1)    # 北京
    assert pairs[4][0] == 2 and pairs[6][1] == 2        # 天安门
    assert pairs[0] == (0, 0)                           # 我 begins and ends no longer word


def test_jiebas_cut_is_a_b_i_e_s_column():
    pytest.importorskip("jieba")
    from seqtrain.tasks.tokenize.features import CUT_BIES, build_vocabs, char_features

    chars, _ = build_vocabs(["我爱北京"], 1, None)
    features = char_features("我爱北京", chars, None, use_jieba=True)
    assert [CUT_BIES[i] for i in features[:, 2].tolist()] == ["S", "S", "B", "E"]


def test_segtoks_cut_is_a_b_i_e_s_column_with_contractions_split():
    from seqtrain.tasks.tokenize.features import CUT_BIES, build_vocabs, char_features

    text = "I can't go. Mail bob@aol.com today."
    chars, _ = build_vocabs([text], 1, None)
    cut = "".join(CUT_BIES[i] for i in char_features(text, chars, None, use_jieba=False, use_segtok=True)[:, 2].tolist())
    assert cut == "SSBEBIESBESSBIIESBIIIIIIIIIESBIIIES"
