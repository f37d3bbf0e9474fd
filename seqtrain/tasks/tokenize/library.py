"""Tokenizers that need no training: whitespace splitting (what a tagger read before raw text came
in), segtok for English and jieba for Chinese. They are baselines and fallbacks: the tokenize task
learns a treebank's own conventions, which these do not follow (docs/results/tokenize.md).

Each is a callable: paragraphs of raw text -> the sentences of each, as document.Sentence objects.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from seqtrain.core.errors import UserError
from seqtrain.tasks.tokenize.document import Sentence, Token

LIBRARY_TOKENIZERS = ("whitespace", "segtok", "jieba")
CHINESE_SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![”’」』）)])")


def library_tokenizer(name: str) -> Callable[[list[str]], list[list[Sentence]]]:
    if name not in LIBRARY_TOKENIZERS:
        raise UserError(f"unknown tokenizer {name!r} (library tokenizers: {', '.join(LIBRARY_TOKENIZERS)})")
    one = {"whitespace": whitespace_sentences, "segtok": segtok_sentences, "jieba": jieba_sentences}[name]
    return lambda paragraphs: [one(p) for p in paragraphs]


def placed(text: str, pieces: Iterable[str], offset: int = 0) -> list[Token]:
    """Tokens for pieces of `text` found in order (a piece the tokenizer changed is skipped)."""
    tokens, at = [], 0
    for piece in pieces:
        found = text.find(piece, at)
        if not piece.strip() or found < 0:
            continue
        at = found + len(piece)
        tokens.append(Token(piece, [piece], [None], at == len(text) or text[at].isspace(), offset + found))
    return tokens


def sentences_of(text: str, parts: Iterable[str], words_of: Callable[[str], Iterable[str]]) -> list[Sentence]:
    out, at = [], 0
    for part in parts:
        found = text.find(part, at)
        if not part.strip() or found < 0:
            continue
        at = found + len(part)
        tokens = placed(part, words_of(part), found)
        if tokens:
            for t in tokens[-1:]:
                t.space_after = at == len(text) or text[at].isspace()
            out.append(Sentence(tokens, text[tokens[0].start:tokens[-1].end]))
    return out


def whitespace_sentences(text: str) -> list[Sentence]:
    """The paragraph as one sentence of whitespace-separated tokens."""
    return sentences_of(text, [text], str.split)


def segtok_cut(text: str) -> list[Sentence]:
    """segtok's sentence splitter and web tokenizer, contractions split (ca, n't: two tokens)."""
    try:
        from segtok.segmenter import split_multi
        from segtok.tokenizer import split_contractions, web_tokenizer
    except ImportError:
        raise UserError("the segtok tokenizer needs the segtok package: pip install segtok") from None
    return sentences_of(text, split_multi(text), lambda s: split_contractions(web_tokenizer(s)))


def segtok_sentences(text: str) -> list[Sentence]:
    """segtok_cut, its contraction splits (ca n't) the words of a multiword token, as UD English
    writes them."""
    sentences = segtok_cut(text)
    for sentence in sentences:
        sentence.tokens = join_contractions(sentence.tokens)
    return sentences


def join_contractions(tokens: list[Token]) -> list[Token]:
    """ca + n't (no space between) -> one token can't with the words ca, n't."""
    out: list[Token] = []
    for token in tokens:
        last = out[-1] if out else None
        if last is not None and last.end == token.start and token.form.lower() in ("n't", "'s", "'m", "'re", "'ll", "'ve", "'d"):
            out[-1] = Token(last.form + token.form, last.words + token.words, last.tags + token.tags,
                            token.space_after, last.start)
        else:
            out.append(token)
    return out


def jieba_sentences(text: str) -> list[Sentence]:
    """Sentences ended by 。！？, each cut into words by jieba."""
    try:
        import jieba
    except ImportError:
        raise UserError("the jieba tokenizer needs the jieba package: pip install jieba") from None
    jieba.setLogLevel(60)
    return sentences_of(text, CHINESE_SENTENCE_END.split(text), lambda s: jieba.cut(s, HMM=True))
