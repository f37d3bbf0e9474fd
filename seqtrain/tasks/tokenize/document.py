"""Raw text with its tokens and words: what a tokenizer writes and what a CoNLL-U file holds.

A `Paragraph` is a stretch of raw text and the sentences found in it; a sentence is a list of
`Token`s; a token is a span of the text (no whitespace inside) and the syntactic words it stands for:
one word, or several for a multiword token (EWT: can't -> ca n't). Gold documents are read from
CoNLL-U: the `# text` lines, `SpaceAfter=No`, `# newpar` / `# newdoc` and the `3-4` ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.core.textfile import read_lines
from seqtrain.data.conllu import EMPTY, RANGE, TokenIds
from seqtrain.data.pku_1998 import PKU_1998, pku_1998_conllu, pku_1998_path
from seqtrain.tasks.shared import seeded_split


@dataclass
class Token:
    form: str
    words: list[str]                         # [form], or a multiword token's words
    tags: list[str | None] = field(default_factory=list)  # one per word (None: not tagged yet)
    space_after: bool = True
    start: int = 0                           # offset of the token in its paragraph's text

    @property
    def end(self) -> int:
        return self.start + len(self.form)

    @property
    def multiword(self) -> bool:
        return len(self.words) > 1


@dataclass
class Sentence:
    tokens: list[Token]
    text: str = ""
    sent_id: str = ""
    line: int = 0                            # line of the sentence in its file (for errors)

    @property
    def words(self) -> list[str]:
        return [w for t in self.tokens for w in t.words]


@dataclass
class Paragraph:
    text: str
    sentences: list[Sentence] = field(default_factory=list)


# ---------------------------------------------------------------- reading CoNLL-U

def read_document(path: str | Path, tag_column: int = 3) -> list[Paragraph]:
    """The paragraphs of a CoNLL-U file with their gold tokens, words and tags."""
    return group_paragraphs(parse_sentences(read_lines(path), str(path), tag_column), str(path))


def train_lines(train: str, paths: dict) -> tuple[list[str], str]:
    """data.train's CoNLL-U lines and where they come from: the PKU corpus converted (`pku-1998`), or
    the file paths["train"]."""
    if train == PKU_1998:
        path = pku_1998_path("data.train")
        return pku_1998_conllu(path), str(path)
    return read_lines(paths["train"]), str(paths["train"])


def read_split(paths: dict, train: str, dev_fraction: float, split_seed: int, *, tag_column: int = 3,
               max_train: int = 0) -> tuple[list[Paragraph], list[Paragraph]]:
    """(train, dev) paragraphs: paths["dev"], or a seeded share of the sentences of data.train
    (`train`; the same sentences a POS config with the same data, fraction and seed holds out)."""
    lines, source = train_lines(train, paths)
    return split_lines(lines, source, paths.get("dev"), dev_fraction, split_seed,
                       tag_column=tag_column, max_train=max_train)


def split_lines(lines: list[str], source: str, dev_path: Path | None, dev_fraction: float, split_seed: int, *,
                tag_column: int = 3, max_train: int = 0) -> tuple[list[Paragraph], list[Paragraph]]:
    """read_split for CoNLL-U lines from `source` (a file, or a corpus seqtrain converts)."""
    sentences = parse_sentences(lines, source, tag_column)
    if not sentences:
        raise UserError(f"{source}: no sentences found (expected CoNLL-U)")
    if dev_path is not None:
        train, dev = sentences, parse_sentences(read_lines(dev_path), str(dev_path), tag_column)
    else:
        train, dev = seeded_split(sentences, dev_fraction, split_seed)
    train = train[:max_train] if max_train else train
    return group_paragraphs(train, source), group_paragraphs(dev, str(dev_path or source))


def parse_sentences(lines: list[str], path: str, tag_column: int = 3) -> list[tuple[bool, Sentence]]:
    """(starts a paragraph, sentence) for each sentence of a CoNLL-U text."""
    out: list[tuple[bool, Sentence]] = []
    new_par, comments, tokens, start_line = False, {}, [], 0
    mwt_end, mwt = 0, None
    ids = TokenIds(path)

    def finish():
        ids.end()
        if tokens:
            out.append((new_par or not out, Sentence(tokens, comments.get("text", ""), comments.get("sent_id", ""), start_line)))

    for number, line in enumerate(lines, 1):
        line = line.removeprefix("\ufeff") if number == 1 else line
        if not line.strip():
            finish()
            new_par, comments, tokens, mwt_end, mwt = False, {}, [], 0, None
            continue
        if line.startswith("#"):
            if tokens:
                raise UserError(f"{path}:{number}: comment line inside a sentence")
            start_line = start_line if comments else number
            key, eq, value = line[1:].strip().partition("=")
            key = key.strip()
            if key in ("newpar", "newdoc") or key.startswith(("newpar ", "newdoc ")):
                new_par = True
            elif eq:
                comments[key] = value.strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise UserError(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, got {len(cols)}")
        start_line = start_line or number
        form, misc = cols[1], cols[9]
        space_after = "SpaceAfter=No" not in misc.split("|")
        kind, word_id, last = ids.read(cols[0], number)  # checked: a range's words come right after it
        if kind == EMPTY:
            continue  # an empty node: no text
        if kind == RANGE:
            mwt, mwt_end = Token(form, [], [], space_after), last
            tokens.append(mwt)
            continue
        if not form:
            raise UserError(f"{path}:{number}: empty FORM column")
        tag = cols[tag_column] if cols[tag_column] not in ("", "_") else None
        if mwt is not None and word_id <= mwt_end:
            mwt.words.append(form)
            mwt.tags.append(tag)
            if word_id == mwt_end:
                mwt = None
        else:
            tokens.append(Token(form, [form], [tag], space_after))
    finish()
    return out


def group_paragraphs(sentences: list[tuple[bool, Sentence]], path: str) -> list[Paragraph]:
    """Sentences into paragraphs (at `# newpar` / `# newdoc`; a file without them is one paragraph),
    each paragraph's text the sentences' `# text` joined as the tokens' SpaceAfter says, and every
    token's offset in that text."""
    paragraphs: list[Paragraph] = []
    for starts, sentence in sentences:
        if starts or not paragraphs:
            paragraphs.append(Paragraph(""))
        paragraph = paragraphs[-1]
        if paragraph.sentences and paragraph.sentences[-1].tokens[-1].space_after:
            paragraph.text += " "
        text = sentence.text or rebuilt_text(sentence.tokens)
        place_tokens(sentence, text, len(paragraph.text), path)
        sentence.text = text
        paragraph.text += text
        paragraph.sentences.append(sentence)
    return paragraphs


def rebuilt_text(tokens: list[Token]) -> str:
    return "".join(t.form + (" " if t.space_after else "") for t in tokens).rstrip(" ")


def place_tokens(sentence: Sentence, text: str, offset: int, path: str) -> None:
    """Set each token's offset in the paragraph: the token forms must spell the sentence's text
    (whitespace aside), as the CoNLL 2018 scorer requires."""
    at = 0
    for token in sentence.tokens:
        while at < len(text) and text[at].isspace():
            at += 1
        if text[at:at + len(token.form)] != token.form:
            raise UserError(f"{path}:{sentence.line}: the tokens do not spell the sentence's # text "
                            f"(token {token.form!r} against {text[at:at + len(token.form) + 10]!r})")
        token.start = offset + at
        at += len(token.form)
    if text[at:].strip():
        raise UserError(f"{path}:{sentence.line}: the sentence's # text goes on past its last token "
                        f"({text[at:at + 20]!r})")


# ---------------------------------------------------------------- writing CoNLL-U

def conllu_lines(paragraphs: list[Paragraph], doc_id: str = "doc") -> list[str]:
    """CoNLL-U with `# newpar`, `# sent_id`, `# text`, multiword-token ranges, FORM, UPOS and
    `SpaceAfter=No`: read back, it gives the same text, tokens, words and tags."""
    lines: list[str] = []
    n = 0
    for p, paragraph in enumerate(paragraphs, 1):
        for s, sentence in enumerate(paragraph.sentences):
            n += 1
            if s == 0:
                lines.append(f"# newpar id = {doc_id}-p{p}")
            lines += [f"# sent_id = {sentence.sent_id or f'{doc_id}-s{n}'}", f"# text = {sentence.text}"]
            word_id = 0
            for token in sentence.tokens:
                misc = "_" if token.space_after else "SpaceAfter=No"
                tags = token.tags or [None] * len(token.words)
                if token.multiword:
                    lines.append(f"{word_id + 1}-{word_id + len(token.words)}\t{token.form}\t_\t_\t_\t_\t_\t_\t_\t{misc}")
                for word, tag in zip(token.words, tags):
                    word_id += 1
                    lines.append(f"{word_id}\t{word}\t_\t{tag or '_'}\t_\t_\t_\t_\t_\t"
                                 f"{'_' if token.multiword else misc}")
            lines.append("")
    return lines
