"""Readers for tagged sentences: CoNLL-U, word/TAG lines, word<TAB>tag columns."""

from pathlib import Path

import pytest

from seqtrain.tasks.pos.conll import fill_conllu, parse_conllu, read_tagged
from seqtrain.core.errors import UserError

from conftest import assert_user_error, cli

CONLLU = """\
# newdoc id = d1
# sent_id = 1
# text = I don't see # 5.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\tSpaceAfter=No
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tsee\tsee\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tsaw\tsee\tVERB\tVBD\t_\t_\t_\t4:conj\t_
5\t#\t#\tSYM\tNN\t_\t4\tobj\t_\t_
6\t5\t5\tNUM\tCD\t_\t5\tnummod\t_\tSpaceAfter=No
7\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path, text: str, name: str = "data.conllu", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_conllu_reads_form_and_upos_skipping_comments_ranges_and_empty_nodes(tmp_path):
    first, second = read_tagged(write(tmp_path, CONLLU))
    assert first.words == ["I", "do", "n't", "see", "#", "5", "."]
    assert first.tags == ["PRON", "AUX", "PART", "VERB", "SYM", "NUM", "PUNCT"]
    assert (second.words, second.tags) == (["Hello"], ["INTJ"])


def test_a_token_whose_form_is_a_hash_sign_is_a_token_not_a_comment(tmp_path):
    text = "1\t#\t#\tSYM\tNN\t_\t0\troot\t_\t_\n2\t#\t#\tSYM\tNN\t_\t1\tdep\t_\t_\n"
    [sentence] = read_tagged(write(tmp_path, text))
    assert sentence.words == ["#", "#"]


def test_conllu_xpos_column_is_selectable(tmp_path):
    first, _ = read_tagged(write(tmp_path, CONLLU), tag_column="xpos")
    assert first.tags == ["PRP", "VBP", "RB", "VB", "NN", "CD", "."]


def test_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path):
    path = write(tmp_path, "\ufeff" + CONLLU.replace("\n", "\r\n"))
    first, second = read_tagged(path)
    assert first.words[0] == "I" and first.tags[-1] == "PUNCT" and second.tags == ["INTJ"]


@pytest.mark.parametrize("bad_line, fragment", [
    ("3\tsee\tsee\tVERB\tVB\t_\t0\troot\t_", "expected 10 tab-separated CoNLL-U columns, got 9"),
    ("x\tsee\tsee\tVERB\tVB\t_\t0\troot\t_\t_", "bad token ID 'x'"),
    ("3-x\tsee\t_\t_\t_\t_\t_\t_\t_\t_", "bad token ID '3-x'"),
    ("3\tsee\tsee\t_\tVB\t_\t0\troot\t_\t_", "no UPOS tag"),
    ("# a comment after the first token", "comment line inside a sentence"),
])
def test_a_malformed_conllu_line_is_an_error_naming_file_and_line(tmp_path, bad_line, fragment):
    lines = ["# sent_id = 1", "1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_", "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_",
             bad_line, ""]
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(UserError) as error:
        read_tagged(path)
    assert str(error.value).startswith(f"{path}:4: ") and fragment in str(error.value)


def test_word_slash_tag_lines_split_at_the_last_slash(tmp_path):
    path = write(tmp_path, "The/DET dog/NOUN ate/VERB 1/2/NUM of/ADP it/PRON ./PUNCT\n\nHi/INTJ\n", "data.txt")
    first, second = read_tagged(path)
    assert first.words == ["The", "dog", "ate", "1/2", "of", "it", "."]
    assert first.tags == ["DET", "NOUN", "VERB", "NUM", "ADP", "PRON", "PUNCT"]
    assert second.words == ["Hi"]


@pytest.mark.parametrize("token", ["dog", "dog/", "/NOUN"])
def test_a_word_slash_tag_token_without_word_or_tag_is_an_error(tmp_path, token):
    path = write(tmp_path, f"The/DET cat/NOUN\nThe/DET {token}\n", "data.txt")
    with pytest.raises(UserError, match=rf"^{path}:2: expected word/TAG"):
        read_tagged(path)


def test_two_column_files_have_a_blank_line_between_sentences(tmp_path):
    path = write(tmp_path, "The\tDET\ndog\tNOUN\n\nHi\tINTJ\r\n", "data.tsv")
    first, second = read_tagged(path)
    assert (first.words, first.tags) == (["The", "dog"], ["DET", "NOUN"])
    assert (second.words, second.tags) == (["Hi"], ["INTJ"])


def test_a_two_column_line_with_three_columns_is_an_error(tmp_path):
    path = write(tmp_path, "The\tDET\ndog\tNOUN\textra\n", "data.tsv")
    with pytest.raises(UserError, match=rf"^{path}:2: expected word<TAB>tag"):
        read_tagged(path)


def test_a_file_without_sentences_is_an_error(tmp_path):
    path = write(tmp_path, "# only a comment\n\n")
    with pytest.raises(UserError, match="no sentences"):
        read_tagged(path)


def test_filling_tags_changes_only_the_tag_column(tmp_path):
    lines = CONLLU.splitlines()
    sentences = parse_conllu(lines, require_tags=False)
    tags = [["X"] * len(s.words) for s in sentences]
    filled = fill_conllu(lines, sentences, tags)
    assert len(filled) == len(lines)
    for before, after in zip(lines, filled):
        if before.split("\t")[0].isdigit():
            cols_before, cols_after = before.split("\t"), after.split("\t")
            assert cols_after[3] == "X"
            assert cols_after[:3] + cols_after[4:] == cols_before[:3] + cols_before[4:]
        else:  # comments, ranges, empty nodes, blank lines
            assert after == before


def test_training_on_a_malformed_file_exits_2_with_file_and_line(tmp_path):
    data = write(tmp_path, "1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n2\tdog\tNOUN\n")
    config = write(tmp_path, f"task: pos\ndata: {{train: {data}}}\ntrain: {{epochs: 1, device: cpu}}\n",
                   "pos.yaml")
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert_user_error(result, f"{data}:2:", "expected 10 tab-separated")
    assert not (tmp_path / "run" / "checkpoints" / "best.pt").exists()
