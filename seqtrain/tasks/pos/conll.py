"""Readers for tagged sentences: CoNLL-U, one-sentence-per-line `word/TAG`, and two-column `word<TAB>tag`.

Every reader returns a list of `Sentence` and turns a malformed line into a UserError that names the
file and line. Files may start with a UTF-8 byte-order mark and use CRLF line ends.

CoNLL-U (https://universaldependencies.org/format.html): ten tab-separated columns per token. Comment
lines start with '#' and come before a sentence's first token; a token whose FORM is '#' is a real
token. Multiword-token ranges (1-2) and empty nodes (8.1) are skipped: tags belong to syntactic words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from seqtrain.core.errors import UserError
from seqtrain.core.textfile import read_lines
from seqtrain.data.conllu import WORD, TokenIds

FORMATS = ("auto", "conllu", "wordtag", "tsv")
TAG_COLUMNS = {"upos": 3, "xpos": 4}
# other CoNLL-U columns a tagger may also learn to predict (auxiliary outputs, data.aux_tags)
AUX_COLUMNS = {"xpos": 4, "feats": 5, "deprel": 7}
CONLLU_SUFFIXES = (".conllu", ".conll")


@dataclass
class Sentence:
    words: list[str]
    tags: list[str] | None = None       # None where the input carries no tags (text to predict)
    token_lines: list[int] = field(default_factory=list)  # CoNLL-U: index of each word's line
    aux: dict[str, list[str]] = field(default_factory=dict)  # CoNLL-U: the auxiliary columns read


def read_tagged(path: str | Path, fmt: str = "auto", tag_column: str = "upos",
                aux_columns: tuple[str, ...] = ()) -> list[Sentence]:
    """Tagged sentences from a file in any of the three formats (`auto` guesses from name and content);
    `aux_columns` (CoNLL-U only) are read into each sentence's `aux`."""
    lines = read_lines(path)  # a non-UTF-8 file is an error that guesses its encoding
    fmt = detect_format(path, lines) if fmt == "auto" else fmt
    if aux_columns and fmt != "conllu":
        raise UserError(f"{path}: data.aux_tags ({', '.join(aux_columns)}) needs CoNLL-U, and this file reads as {fmt}")
    if fmt == "conllu":
        sentences = parse_conllu(lines, path, tag_column, require_tags=True, aux_columns=aux_columns)
    elif fmt == "wordtag":
        sentences = parse_wordtag(lines, path)
    else:
        sentences = parse_tsv(lines, path)
    if not sentences:
        raise UserError(f"{path}: no sentences found (read as {fmt})")
    return sentences


def detect_format(path: str | Path, lines: list[str]) -> str:
    if str(path).endswith(CONLLU_SUFFIXES):
        return "conllu"
    for line in lines:
        if line.strip() and not line.startswith("#"):
            if "\t" not in line:
                return "wordtag"
            return "conllu" if line.count("\t") >= 9 else "tsv"
    return "conllu"


def parse_conllu(lines: Iterable[str], path: str | Path = "<input>", tag_column: str = "upos",
                 require_tags: bool = True, aux_columns: tuple[str, ...] = ()) -> list[Sentence]:
    """Sentences of a CoNLL-U text. With require_tags=False a '_' tag is allowed and read as None.
    Each of `aux_columns` is read as it is ('_' included: no features is a value too)."""
    column = TAG_COLUMNS[tag_column]
    sentences: list[Sentence] = []
    new_sentence = lambda: Sentence([], [], aux={name: [] for name in aux_columns})
    current = new_sentence()
    comments_from = None  # line of the first comment of a sentence that has no token yet
    empty_at = None       # first sentence that was only comments
    ids = TokenIds(path)
    for index, line in enumerate(lines):
        number = index + 1
        if index == 0:
            line = line.removeprefix("\ufeff")  # a byte-order mark read from standard input
        if not line.strip():
            ids.end()
            if current.words:
                sentences.append(current)
            elif comments_from is not None:
                empty_at = empty_at or comments_from
            current, comments_from = new_sentence(), None
            continue
        if line.startswith("#"):
            if current.words:
                raise UserError(f"{path}:{number}: comment line inside a sentence "
                                f"(comments go before a sentence's first token)")
            comments_from = comments_from or number
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise UserError(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, got {len(cols)}")
        if ids.read(cols[0], number)[0] != WORD:  # a multiword-token range or an empty node
            continue
        form, tag = cols[1], cols[column]
        if not form:
            raise UserError(f"{path}:{number}: empty FORM column")
        if tag in ("", "_"):
            if require_tags:
                raise UserError(f"{path}:{number}: no {tag_column.upper()} tag (column {column + 1} is {tag!r})")
            tag = None
        current.words.append(form)
        current.tags.append(tag)
        current.token_lines.append(index)
        for name in aux_columns:
            current.aux[name].append(cols[AUX_COLUMNS[name]])
    ids.end()
    if current.words:
        sentences.append(current)
    empty_at = empty_at or (comments_from if not current.words else None)
    if empty_at is not None and sentences:  # (a file of comments alone has no sentences: the caller says so)
        raise UserError(f"{path}:{empty_at}: a sentence with no tokens (only comment lines)")
    return sentences


def parse_wordtag(lines: Iterable[str], path: str | Path = "<input>") -> list[Sentence]:
    """One sentence per line, `word/TAG` tokens separated by spaces; the tag follows the last '/'."""
    sentences = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        words, tags = [], []
        for token in line.split():
            word, slash, tag = token.rpartition("/")
            if not slash or not word or not tag:
                raise UserError(f"{path}:{number}: expected word/TAG tokens, got {token!r}")
            words.append(word)
            tags.append(tag)
        sentences.append(Sentence(words, tags))
    return sentences


def parse_tsv(lines: Iterable[str], path: str | Path = "<input>") -> list[Sentence]:
    """One `word<TAB>tag` per line, a blank line after each sentence."""
    sentences = []
    current = Sentence([], [])
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if current.words:
                sentences.append(current)
            current = Sentence([], [])
            continue
        cols = line.split("\t")
        if len(cols) != 2 or not cols[0] or not cols[1].strip():
            raise UserError(f"{path}:{number}: expected word<TAB>tag, got {line!r}")
        current.words.append(cols[0])
        current.tags.append(cols[1].strip())
    if current.words:
        sentences.append(current)
    return sentences


def fill_conllu(lines: list[str], sentences: list[Sentence], tags: list[list[str]],
                tag_column: str = "upos") -> list[str]:
    """The same lines with each token's tag column replaced; every other byte stays as it was."""
    column = TAG_COLUMNS[tag_column]
    out = list(lines)
    for sentence, sentence_tags in zip(sentences, tags):
        for index, tag in zip(sentence.token_lines, sentence_tags):
            cols = out[index].split("\t")
            cols[column] = tag
            out[index] = "\t".join(cols)
    return out
