"""Files of entity-tagged tokens, one token a line, a blank line after each sentence:

- UNER `.iob2` (format iob2): `#` comment lines (`# text = ...`) before a sentence, then tab-separated
  index, token, tag and metadata columns;
- CoNLL-2003 style and WNUT-17 (format conll): space- or tab-separated columns, the token first, the tag
  last (or in data.tag_column); `-DOCSTART-` lines are skipped; a line holding only whitespace (WNUT's
  tab) ends a sentence; a line starting with `#` is a token (WNUT's hashtags).

Every tag is checked (O, or B-/I-/E-/S- and a type) and the file's scheme guessed unless given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.core.textfile import read_text
from seqtrain.tasks.entities.schemes import SchemeEvidence, bad_tag, ill_formed
from seqtrain.tasks.pos.conll import Sentence

FORMATS = ("auto", "iob2", "conll")


@dataclass
class EntityFile:
    """The sentences of one file, the scheme its tags are written in, and how many entities were
    ill-formed (started with I- where the scheme starts them with B-)."""
    sentences: list[Sentence]
    scheme: str
    ill_formed: int = 0
    texts: list[str] = field(default_factory=list)  # each sentence's `# text` ("" where none)
    starts_document: list[bool] = field(default_factory=list)

    @property
    def documents(self) -> list[int]:
        """The document of each sentence, numbered from 1 in file order."""
        return list(accumulate(map(int, self.starts_document)))


def detect_format(path: str | Path, lines: list[str]) -> str:
    if str(path).endswith(".iob2"):
        return "iob2"
    for line in lines:
        if line.strip() and not line.startswith("#"):
            cols = line.split("\t")
            return "iob2" if len(cols) >= 3 and cols[0].isdigit() else "conll"
    return "conll"


def columns(line: str) -> list[str]:
    return line.rstrip("\r").split("\t") if "\t" in line else line.split()


def read_entities(path: str | Path, fmt: str = "auto", tag_column: int = 0, scheme: str = "auto",
                  lines: list[str] | None = None, require_tags: bool = True) -> EntityFile:
    """The sentences of an entity file (or of `lines`, read as if from `path`). `tag_column` is
    1-based (0: the last column; in iob2 the third). With require_tags=False a line of one
    column (a token alone) is a sentence word with no tag."""
    lines = read_text(path).splitlines() if lines is None else lines
    fmt = detect_format(path, lines) if fmt == "auto" else fmt
    word_col = 1 if fmt == "iob2" else 0
    sentences: list[Sentence] = []
    texts: list[str] = []
    starts_document: list[bool] = []
    current, text, new_doc = Sentence([], []), "", False
    evidence = SchemeEvidence()

    def finish():
        nonlocal current, text, new_doc
        if current.words:
            sentences.append(current)
            texts.append(text)
            starts_document.append(new_doc or len(sentences) == 1)
            new_doc = False
        current, text = Sentence([], []), ""

    for index, line in enumerate(lines):
        number = index + 1
        line = line.removeprefix("\ufeff") if index == 0 else line
        if not line.strip():
            finish()
            continue
        if fmt == "iob2" and line.startswith("#"):
            if current.words:
                raise UserError(f"{path}:{number}: comment line inside a sentence (comments go before its first token)")
            key, eq, value = line[1:].strip().partition("=")
            if key.strip() == "text" and eq:
                text = value.strip()
            elif key.strip().startswith(("newdoc", "newpar")):
                new_doc = True
            continue
        cols = columns(line)
        if fmt == "conll" and cols[0] == "-DOCSTART-":
            finish()
            new_doc = True
            continue
        column = (tag_column - 1 if tag_column else (2 if fmt == "iob2" else len(cols) - 1))
        if len(cols) == 1 and not require_tags:
            tag = None
        elif len(cols) <= max(column, word_col) or column == word_col:
            raise UserError(f"{path}:{number}: expected a token and a tag column"
                            f"{f' (data.tag_column {tag_column})' if tag_column else ''}, got {line[:80]!r}")
        else:
            tag = cols[column].strip()
            if tag in ("", "_") and not require_tags:
                tag = None
        if fmt == "iob2" and not cols[0].isdigit():
            raise UserError(f"{path}:{number}: bad token index {cols[0]!r} (expected 1, 2, ... in an .iob2 file)")
        if tag is not None:
            why = bad_tag(tag)
            if why:
                raise UserError(f"{path}:{number}: {why}")
        if not cols[word_col]:
            raise UserError(f"{path}:{number}: empty token column")
        current.words.append(cols[word_col])
        current.tags.append(tag)
        current.token_lines.append(index)
    finish()
    if not sentences:
        raise UserError(f"{path}: no sentences found (expected one token and its tag a line, "
                        f"a blank line after each sentence; read as {fmt})")
    tagged = [s for s in sentences if all(t is not None for t in s.tags)]
    for sentence in tagged:
        evidence.add(sentence.tags, [i + 1 for i in sentence.token_lines])
    found = evidence.scheme(path) if scheme == "auto" else scheme
    ill = 0 if found == "iob1" else sum(ill_formed(s.tags) for s in tagged)
    for sentence in sentences:  # (require_tags=False) a sentence not wholly tagged is read untagged
        if any(t is None for t in sentence.tags):
            sentence.tags = None
    return EntityFile(sentences, found, ill, texts, starts_document)
