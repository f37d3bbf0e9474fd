"""The raw-text scorer (CoNLL 2018 shared task semantics): tokens, sentences, words, UPOS.

Documents are written one sentence per string, tokens separated by spaces:
  `go/VERB`             a one-word token with its tag
  `ca|n't/AUX|PART`     a multiword token, words split by `|` (the form is the words joined: can't)
  `del=de|el`           a multiword token whose form is not its words joined
A token without `/TAGS` is untagged (None per word).
"""

import pytest

from seqtrain.core.errors import UserError
from seqtrain.tasks.tokenize.document import Sentence, Token
from seqtrain.tasks.tokenize.score import f1_scores, score_counts


def token(spec: str) -> Token:
    spec, _, tags = spec.partition("/")
    form, _, words = spec.partition("=")
    word_list = words.split("|") if words else form.split("|")
    form = form if words else "".join(word_list)
    tag_list = tags.split("|") if tags else [None] * len(word_list)
    return Token(form, word_list, tag_list)


def doc(*sentences: str) -> list[Sentence]:
    return [Sentence([token(t) for t in s.split()]) for s in sentences]


def score(gold: list[Sentence], system: list[Sentence]) -> dict[str, float]:
    return f1_scores(score_counts(gold, system))


GOLD_CANT = doc("I ca|n't go .")   # 4 tokens, 5 words


def test_contraction_split_as_in_gold_is_all_correct():
    # tokens 4/4, words 5/5
    f = score(GOLD_CANT, doc("I ca|n't go ."))
    assert (f["tokens_f1"], f["words_f1"]) == (1.0, 1.0)


def test_contraction_left_whole_costs_words_not_tokens():
    # system tokens I can't go . all match gold spans: 4/4 -> tokens F1 1.0.
    # words: gold 5, system 4; the region {ca, n't} vs {can't} has no common form -> 3 aligned;
    # F1 = 2*3/(5+4) = 0.667 (down by 1/3), precision 3/4, recall 3/5.
    f = score(GOLD_CANT, doc("I can't go ."))
    assert f["tokens_f1"] == 1.0
    assert f["words_f1"] == pytest.approx(2 / 3)
    assert (f["words_precision"], f["words_recall"]) == (pytest.approx(0.75), pytest.approx(0.6))


def test_contraction_split_into_two_tokens_aligns_words_by_lcs():
    # system: I ca n't go . as five plain tokens. Tokens: can't [1,6) is missed, ca [1,3) and
    # n't [3,6) are wrong: 3 correct, F1 = 2*3/(4+5) = 0.667. Words: the multiword region holds
    # gold {ca, n't} and system {ca, n't}; their LCS pairs both, so 5/5 aligned -> F1 1.0.
    f = score(GOLD_CANT, doc("I ca n't go ."))
    assert f["tokens_f1"] == pytest.approx(2 / 3)
    assert f["words_f1"] == 1.0


def test_multiword_words_align_case_insensitively():
    # gold Ca|n't vs system ca|n't over the same token: LCS of lowercased forms pairs both words.
    counts = score_counts(doc("Ca|n't go"), doc("Can't=ca|n't go"))
    assert counts["words_correct"] == 3


def test_two_words_merged_into_one_token():
    # gold I like ice cream . (5 tokens, 5 words); system I like icecream . (4 and 4).
    # tokens: I, like, . match -> 3; F1 = 2*3/(5+4) = 0.667. words: no multiword, same spans -> 3,
    # F1 = 0.667 too.
    f = score(doc("I like ice cream ."), doc("I like icecream ."))
    assert f["tokens_f1"] == pytest.approx(2 / 3)
    assert f["words_f1"] == pytest.approx(2 / 3)


def test_merged_token_split_into_words_recovers_words_only():
    # system writes icecream as a multiword token ice|cream: tokens still 3 correct (0.667), but
    # the region {ice, cream} vs {ice, cream} aligns both by LCS: words 5/5 -> 1.0.
    f = score(doc("I like ice cream ."), doc("I like icecream=ice|cream ."))
    assert f["tokens_f1"] == pytest.approx(2 / 3)
    assert f["words_f1"] == 1.0


def test_missed_sentence_boundary():
    # gold [Hi .] [Bye .] = spans [0,3) [3,7); system [Hi . Bye .] = [0,7): no match.
    # sentences 0 correct of 2 gold, 1 system -> F1 0; tokens 4/4 -> 1.0.
    counts = score_counts(doc("Hi .", "Bye ."), doc("Hi . Bye ."))
    assert (counts["sentences_gold"], counts["sentences_system"], counts["sentences_correct"]) == (2, 1, 0)
    f = f1_scores(counts)
    assert (f["sentences_f1"], f["tokens_f1"]) == (0.0, 1.0)


def test_wrong_tag_on_correctly_split_word():
    # 5 words, all aligned; go tagged NOUN instead of VERB: upos 4/5 -> F1 2*4/(5+5) = 0.8.
    f = score(doc("I/PRON ca|n't/AUX|PART go/VERB ./PUNCT"), doc("I/PRON ca|n't/AUX|PART go/NOUN ./PUNCT"))
    assert f["words_f1"] == 1.0
    assert f["upos_f1"] == pytest.approx(0.8)


def test_untagged_gold_word_never_counts_for_upos():
    # gold `go` has no tag; a system tag None or VERB matches nothing: upos 1 of 2.
    assert score_counts(doc("I/PRON go"), doc("I/PRON go"))["upos_correct"] == 1
    assert score_counts(doc("I/PRON go"), doc("I/PRON go/VERB"))["upos_correct"] == 1


def test_different_text_raises_user_error_naming_the_offset():
    # non-whitespace text: Ican'tgo. vs Icannotgo. -> I c a n agree (0-3), index 4 is ' vs n.
    with pytest.raises(UserError, match=r"at character 4\b") as error:
        score_counts(GOLD_CANT, doc("I cannot go ."))
    assert "\n" not in str(error.value) and "can't" in str(error.value) and "cann" in str(error.value)


def test_whitespace_inside_forms_is_ignored():
    # gold token "10 000" and system token "10000" both span [0,5) of the text 10000.
    gold = [Sentence([Token("10 000", ["10 000"])])]
    system = [Sentence([Token("10000", ["10000"])])]
    f = score(gold, system)
    assert (f["tokens_f1"], f["words_f1"], f["sentences_f1"]) == (1.0, 1.0, 1.0)


def test_counts_of_paragraphs_sum_to_the_scores_of_the_whole():
    # paragraph 1 (contraction left whole) and 2 (merged words, missed boundary) scored apart and
    # summed give the same counts, hence F1, as scoring them as one file.
    gold1, system1 = GOLD_CANT, doc("I can't go .")
    gold2, system2 = doc("I like ice cream .", "Yes ."), doc("I like icecream . Yes .")
    apart1, apart2 = score_counts(gold1, system1), score_counts(gold2, system2)
    summed = {k: apart1[k] + apart2[k] for k in apart1}
    together = score_counts(gold1 + gold2, system1 + system2)
    assert summed == together
    assert f1_scores(summed) == f1_scores(together)
    # words: 3 + 5 correct (I like . Yes .) of gold 5 + 7, system 4 + 6 -> F1 = 2*8/22 = 16/22
    assert f1_scores(summed)["words_f1"] == pytest.approx(16 / 22)


def test_nothing_to_score_gives_zero_not_a_division_error():
    f = score([], [])
    assert set(f.values()) == {0.0}
