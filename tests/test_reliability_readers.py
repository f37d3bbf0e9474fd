"""Reliability, round 3: readers and bounds. Every YAML and JSON document goes through one bounded
reader (core/documents.py), every text file is split into lines at LF (CRLF) only, CoNLL-U token IDs
are checked as the format defines them, and the sizes a user controls (lexicon tags, grid points,
numbers) have limits. Each case ends in one line naming the file and line, key or option, exit
status 2 (docs/reliability.md lists them with these tests)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_HELLO, assert_user_error, cli, run_cli_limited, trained
from seqtrain.core.checkpoint import load_checkpoint, save_checkpoint
from seqtrain.core.errors import UserError

POS_TOY = REPO / "configs" / "pos-toy.yaml"
TOKENIZE_TOY = REPO / "configs" / "tokenize-toy.yaml"
TANG_TINY = REPO / "configs" / "tang-tiny.yaml"
HUGE = "1" * 5000  # more digits than Python's int() reads (4,300)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- YAML and JSON: one bounded reader

@pytest.mark.parametrize("line", [
    f"seed: {HUGE}",                                  # decimal: int() refuses more than 4,300 digits
    f"seed: -{HUGE}",
    "seed: 0x" + "f" * 5000,                          # hex: int() reads it, the error line could not print it
    "seed: " + ":".join(["1"] * 3000),                # YAML 1.1 base 60
    "train: {lr: " + ":".join(["1"] * 300) + ".5}",   # base-60 float: OverflowError
    "train: {lr: " + HUGE + ".5}",
], ids=["decimal", "negative", "hex", "base-60", "base-60-float", "float"])
def test_a_number_too_long_for_any_setting_in_a_config_is_one_line_naming_its_line(tmp_path, line):
    config = write(tmp_path / "c.yaml", f"task: hello\n{line}\n")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:2:", "number")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("line", ["name: 2024-13-45", "seed: !!int ''", "seed: !!float ''", "seed: !!timestamp x"],
                         ids=["month-13", "empty-int", "empty-float", "not-a-timestamp"])
def test_a_value_yaml_cannot_build_is_one_line_naming_its_line(tmp_path, line):
    config = write(tmp_path / "c.yaml", f"task: hello\n{line}\n")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:2:", "cannot read the value")


def test_an_integer_of_thousands_of_digits_in_an_override_is_one_line_naming_the_key(tmp_path, hello_config):
    result = cli("train", hello_config, "--run-dir", tmp_path / "run", "-o", f"seed={HUGE}")
    assert_user_error(result, "seed:")
    assert not (tmp_path / "run").exists()


def test_an_integer_of_thousands_of_digits_in_a_search_space_is_one_line(tmp_path, hello_config, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a study would be written under ./runs
    space = write(tmp_path / "space.yaml", f"model.hidden_size: {{low: 1, high: {HUGE}}}\n")
    assert_user_error(cli("tune", hello_config, "--space", space, "--trials", "1"), f"{space}:1:", "number")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text, fragments", [
    (f'[{{"title": "t", "paragraphs": ["白日依山盡。"], "id": {HUGE}}}]', (":1:", "5,000 digits")),
    ('[{"title": "t",\n "paragraphs": ["白日依山盡。"],\n "n": -' + HUGE + "}]", (":3:", "digits")),
    ("[" * 100_000 + "]" * 100_000, ("nested too deeply",)),
], ids=["integer", "negative-integer-line-3", "deep"])
def test_a_poem_json_the_json_reader_cannot_hold_is_one_line(tmp_path, text, fragments):
    poems = write(tmp_path / "poems.json", text)
    result = cli("train", TANG_TINY, "--run-dir", tmp_path / "run", "-o", f"data.files=[{poems}]")
    assert_user_error(result, str(poems), *fragments)
    assert not (tmp_path / "run").exists()


def test_written_poems_with_a_huge_number_are_one_line(tmp_path):
    poems = write(tmp_path / "written.json", f'[{{"poem": "白日依山盡", "n": {HUGE}}}]')
    result = cli("eval-poems", poems, "-r", TANG_TINY)  # (the reference's poems are counted on stderr first)
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert result.err.strip().splitlines()[-1].startswith(f"error: {poems}:1: not valid JSON: a number of 5,000 digits")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["c.yaml", "space.yaml"])
def test_a_10_mb_yaml_file_is_refused_unread_within_seconds(tmp_path, hello_config, name):
    big = tmp_path / name
    big.write_text("task: hello\ndata:\n  pairs:\n" + "  - [hello, ohlol]\n" * 560_000)  # 10 MB
    args = ("train", big, "--run-dir", tmp_path / "runs") if name == "c.yaml" \
        else ("tune", hello_config, "--space", big, "--trials", "1")
    started = time.monotonic()
    result = run_cli_limited(*args, cwd=tmp_path, timeout=60)
    assert_user_error(result, str(big), "larger than 1 MiB")
    assert time.monotonic() - started < 30
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_yaml_document_of_too_many_values_is_refused_within_seconds(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\ndata: {pairs: [" + ", ".join(["[a, b]"] * 80_000) + "]}\n")
    assert config.stat().st_size < 1 << 20  # under the byte limit: the count of values stops it
    started = time.monotonic()
    result = run_cli_limited("train", config, "--run-dir", tmp_path / "run", timeout=60)
    assert_user_error(result, f"{config}:2:", "more than 20,000 values")
    assert time.monotonic() - started < 20


def test_yaml_nested_deeper_than_the_limit_names_the_line(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\ndata:\n  pairs: " + "[" * 60 + "]" * 60 + "\n")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:3:", "nested too deeply")


# ---------------------------------------------------------------- lines end at LF (or CRLF), nowhere else

# str.splitlines also ends a line at these; in a user's file they are characters of the line
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(s):04X}" for s in SEPARATORS])
def test_a_pair_file_keeps_line_separators_inside_its_lines(tmp_path, sep):
    from seqtrain.tasks.hello import read_pair_file

    pairs = write(tmp_path / "pairs.tsv", f"a{sep}b\tc{sep}d\r\nab\tcd\n")
    assert read_pair_file(pairs) == [(f"a{sep}b", f"c{sep}d"), ("ab", "cd")]


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(s):04X}" for s in SEPARATORS])
def test_a_conllu_file_keeps_line_separators_inside_its_columns(tmp_path, sep):
    from seqtrain.tasks.pos.conll import read_tagged
    from seqtrain.tasks.tokenize.document import read_document

    corpus = write(tmp_path / "t.conllu", f"# text = a b\n1\ta\tle{sep}mma\tNOUN\t_\t_\t_\t_\t_\t_\n"
                                          f"2\tb\t_\tVERB\t_\t_\t_\t_\t_\t_\n\n")
    assert [(s.words, s.tags) for s in read_tagged(corpus)] == [(["a", "b"], ["NOUN", "VERB"])]
    assert [t.form for t in read_document(corpus)[0].sentences[0].tokens] == ["a", "b"]


def test_errors_after_a_line_separator_name_the_files_own_line(tmp_path):
    from seqtrain.tasks.pos.lexicon import read_lexicon

    lexicon = write(tmp_path / "lex.tsv", "dog\tNOUN\u2028VERB\nno tab here\n")
    with pytest.raises(UserError, match=r"lex\.tsv:2: expected word<TAB>tag"):
        read_lexicon(lexicon)


def test_predict_input_lines_keep_line_separators(tmp_path, hello_run):
    inputs = write(tmp_path / "in.txt", "hello\u2028\nhello\n")
    result = cli("predict", hello_run, "--input", inputs)
    assert_user_error(result, "'hello\\u2028'")  # one input line with a character the model never saw


# ---------------------------------------------------------------- CoNLL-U token IDs as the format defines them

WORD = "\t_\t_\tNOUN\t_\t_\t_\t_\t_\t_"


def conllu(*ids_and_forms: str) -> str:
    return "".join(f"{token_id}\t{form}{WORD[2:]}\n" for token_id, form in
                   (item.split(" ") for item in ids_and_forms)) + "\n"


BAD_IDS = {
    "non-ASCII digit in a range": (conllu("1 a", "2-³ bc", "2 b", "3 c"), 2, "bad token ID '2-³'"),
    "non-ASCII digit in a word ID": (conllu("1 a", "² b"), 2, "bad token ID '²'"),
    "non-ASCII digit in an empty node": (conllu("1 a", "1.¹ x", "2 b"), 2, "bad token ID '1.¹'"),
    "a token ID 0": (conllu("0 a", "1 b"), 1, "token ID 0"),
    "a range without its words": (conllu("1 a", "2-3 bc", "4 d"), 3, "2-3"),
    "a range at the sentence end": (conllu("1 a", "2-3 bc"), 2, "2-3"),
    "a range with one of its words": (conllu("1 a", "2-3 bc", "2 b"), 2, "2-3"),
    "a range ending before it starts": (conllu("1 a", "3-2 bc", "2 b", "3 c"), 2, "3-2"),
    "a range not at the next word": (conllu("1 a", "3-4 cd", "2 b", "3 c", "4 d"), 2, "3-4"),
    "a word ID skipped": (conllu("1 a", "3 c"), 2, "expected 2"),
    "a word ID twice": (conllu("1 a", "1 b"), 2, "expected 2"),
    "an ID with thousands of digits": (conllu("1 a", f"2-{HUGE} bc", "2 b", "3 c"), 2, "bad token ID"),
}


@pytest.mark.parametrize("reader", ["pos", "tokenize"])
@pytest.mark.parametrize("case", list(BAD_IDS))
def test_malformed_conllu_token_ids_are_one_error_naming_file_and_line(tmp_path, case, reader):
    from seqtrain.tasks.pos.conll import read_tagged
    from seqtrain.tasks.tokenize.document import read_document

    text, line, fragment = BAD_IDS[case]
    corpus = write(tmp_path / "bad.conllu", text)
    with pytest.raises(UserError) as caught:
        read_tagged(corpus) if reader == "pos" else read_document(corpus)
    assert str(caught.value).startswith(f"{corpus}:{line}: ") and fragment in str(caught.value), str(caught.value)


def test_well_formed_ranges_and_empty_nodes_are_read(tmp_path):
    from seqtrain.tasks.pos.conll import read_tagged
    from seqtrain.tasks.tokenize.document import read_document

    corpus = write(tmp_path / "ok.conllu", "# text = a bc d\n" + conllu("1 a", "2-3 bc", "2 b", "3 c", "3.1 x", "4 d"))
    assert read_tagged(corpus)[0].words == ["a", "b", "c", "d"]
    assert [t.words for t in read_document(corpus)[0].sentences[0].tokens] == [["a"], ["b", "c"], ["d"]]


def test_a_non_ascii_digit_in_a_training_corpus_is_one_line(tmp_path):
    corpus = write(tmp_path / "bad.conllu", conllu("1 a", "2-³ bc", "2 b", "3 c"))
    for config in (POS_TOY, TOKENIZE_TOY):
        result = cli("train", config, "--run-dir", tmp_path / "run", "-o", f"data.train={corpus}")
        assert_user_error(result, f"{corpus}:2:", "bad token ID")
        assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- sincos --values

@pytest.mark.parametrize("values, fragment", [
    ("nan", "'nan' is not a finite number"),
    ("0.1,inf", "'inf' is not a finite number"),
    ("-Infinity", "not a finite number"),
    ("1e999", "not a finite number"),           # float() makes it inf
    ("1e39", "not a finite number"),            # finite, but inf once the model reads it as float32
    ("1,,2", "an empty value between commas"),
    ("1,2,", "an empty value between commas"),
    (",1", "an empty value between commas"),
], ids=["nan", "inf", "-Infinity", "1e999", "float32-overflow", "1,,2", "trailing-comma", "leading-comma"])
def test_sincos_values_that_are_not_finite_numbers_are_refused(values, fragment):
    from seqtrain.tasks.sincos import parse_values

    with pytest.raises(UserError, match=fragment):
        parse_values([values])


def test_sincos_values_in_commas_and_spaces_are_read():
    from seqtrain.tasks.sincos import parse_values

    assert parse_values(["0.0, 0.34,0.64", "1 2"]) == [0.0, 0.34, 0.64, 1.0, 2.0]


# ---------------------------------------------------------------- trained tokenizer with NaN weights

def nan_weights(ckpt_path: Path, out: Path) -> Path:
    ckpt = load_checkpoint(ckpt_path)
    name = next(k for k, v in ckpt["model"].items() if v.is_floating_point())
    ckpt["model"][name] = torch.full_like(ckpt["model"][name], float("nan"))
    save_checkpoint(ckpt, out)
    return out


def test_a_tokenizer_with_nan_weights_is_refused_as_data_tokenizer(tmp_path_factory, tmp_path):
    tokenizer = trained(tmp_path_factory, TOKENIZE_TOY, "train.max_steps=2", "train.threads=1")
    broken = nan_weights(tokenizer / "checkpoints" / "best.pt", tmp_path / "nan-tokenizer.pt")
    result = cli("train", POS_TOY, "--run-dir", tmp_path / "run", "-o", f"data.tokenizer={broken}",
                 "-o", "train.max_steps=1", "-o", "train.threads=1")
    assert_user_error(result, "data.tokenizer", str(broken), "NaN")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- lexicons

def test_a_lexicon_with_more_tags_than_the_limit_is_one_line_naming_the_line(tmp_path):
    from seqtrain.tasks.pos.lexicon import MAX_LEXICON_TAGS

    lexicon = write(tmp_path / "lex.tsv", "".join(f"w{i}\tT{i}\n" for i in range(MAX_LEXICON_TAGS + 10)))
    result = cli("train", POS_TOY, "--run-dir", tmp_path / "run", "-o", f"data.lexicon={lexicon}")
    assert_user_error(result, f"{lexicon}:{MAX_LEXICON_TAGS + 1}:", f"more than {MAX_LEXICON_TAGS:,} distinct tags")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["jieba+jieba", "pku-1998+jieba+pku-1998"])
def test_a_named_lexicon_joined_with_itself_is_refused(tmp_path, value):
    result = cli("train", POS_TOY, "--run-dir", tmp_path / "run", "-o", f"data.lexicon={value}")
    assert_user_error(result, "data.lexicon", "twice")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def lexicon_run(tmp_path_factory) -> Path:
    lexicon = write(tmp_path_factory.mktemp("lexicon") / "lex.tsv", "dog\tNOUN\nate\tVERB\nthe\tDET\n")
    return trained(tmp_path_factory, POS_TOY, f"data.lexicon={lexicon}", "train.max_steps=2", "train.threads=1")


@pytest.mark.parametrize("damage", ["id past the tags", "negative id", "counts past the ids", "counts for other words"])
def test_a_checkpoint_with_lexicon_ids_out_of_range_is_refused_at_load(tmp_path, lexicon_run, damage):
    ckpt = load_checkpoint(lexicon_run / "checkpoints" / "best.pt")
    lexicon = ckpt["task_state"]["lexicon"]
    if damage == "id past the tags":
        lexicon["ids"][0] = 10**6
    elif damage == "negative id":
        lexicon["ids"][0] = -1
    elif damage == "counts past the ids":
        lexicon["counts"][0] = 1000
    else:
        lexicon["counts"] = torch.cat([lexicon["counts"], torch.tensor([0], dtype=torch.int32)])
    crafted = tmp_path / "crafted.pt"
    save_checkpoint(ckpt, crafted)
    assert_user_error(cli("predict", crafted, "the dog ate"), str(crafted), "damaged checkpoint", "lexicon")


# ---------------------------------------------------------------- grid search of a bounded size

@pytest.mark.parametrize("space, key", [
    ("model.hidden_size: {low: 1, high: 4000000000}\n", "model.hidden_size"),
    ("train.lr: {low: 0.001, high: 0.1, step: 1.0e-12}\n", "train.lr"),
    ("train.lr: {low: 1.0e-10, high: 1.0e+300, step: 5.0e-324}\n", "train.lr"),  # (high - low) / step is inf
    ("model.hidden_size: {low: 1, high: 1000}\nmodel.embedding_dim: {low: 1, high: 1000}\n"
     "train.batch_size: {low: 1, high: 1000}\n", "model.hidden_size"),  # 10^9 points together
], ids=["int-4e9", "float-step-1e-12", "float-inf-points", "product"])
@pytest.mark.slow
def test_a_grid_too_large_to_search_is_one_line_naming_the_parameter(tmp_path, space, key):
    write(tmp_path / "hello.yaml", TINY_HELLO)
    write(tmp_path / "space.yaml", space)
    result = run_cli_limited("tune", "hello.yaml", "--space", "space.yaml", "--trials", "1", "--sampler", "grid",
                             cwd=tmp_path, memory_mb=2048, timeout=60)
    assert_user_error(result, "space.yaml", key, "grid")
    assert not (tmp_path / "runs").exists()


def test_a_grid_within_the_limit_lists_every_value():
    from seqtrain.tuning.space import Param, check_grid

    params = [Param("train.lr", "float", low=0.1, high=0.3, step=0.1),
              Param("model.hidden_size", "int", low=4, high=8, step=2),
              Param("model.cell", "choices", choices=("rnn", "gru"))]
    check_grid(params, "space.yaml")
    assert [p.grid() for p in params] == [[0.1, 0.2, 0.3], [4, 6, 8], ["rnn", "gru"]]
