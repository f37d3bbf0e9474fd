"""Tokenization as character labelling, and back.

Every character of a paragraph gets one label: does a token end after it, does a sentence end
there, is the token a multiword token (can't -> ca n't)? Whitespace never belongs to a token, so a
token also ends before whitespace whatever its label says. Decoding turns the labels of a paragraph
back into sentences of tokens; a multiword token's words come from what training saw
(`MultiwordSplitter`).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from seqtrain.tasks.tokenize.document import Paragraph, Sentence, Token

INSIDE, TOKEN_END, SENTENCE_END, MULTIWORD_END, MULTIWORD_SENTENCE_END = range(5)
NUM_LABELS = 5
ENDS_SENTENCE = (SENTENCE_END, MULTIWORD_SENTENCE_END)
MULTIWORD = (MULTIWORD_END, MULTIWORD_SENTENCE_END)


def paragraph_labels(paragraph: Paragraph) -> tuple[list[int], list[int]]:
    """(label of each character, 1 where a word of a multiword token ends inside the token)."""
    labels = [INSIDE] * len(paragraph.text)
    word_ends = [0] * len(paragraph.text)
    for sentence in paragraph.sentences:
        for i, token in enumerate(sentence.tokens):
            last = i + 1 == len(sentence.tokens)
            labels[token.end - 1] = (MULTIWORD_SENTENCE_END if last else MULTIWORD_END) if token.multiword \
                else (SENTENCE_END if last else TOKEN_END)
            if token.multiword and "".join(token.words) == token.form:
                at = token.start
                for word in token.words[:-1]:
                    at += len(word)
                    word_ends[at - 1] = 1
    return labels, word_ends


def decode(text: str, labels: list[int], split: Callable[[str, int], list[str]]) -> list[Sentence]:
    """Sentences of tokens from a paragraph's character labels. `split(form, start)` gives the words
    of a token labelled multiword. The paragraph's end ends a sentence."""
    sentences: list[Sentence] = []
    tokens: list[Token] = []
    start = None
    n = len(text)
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        if start is None:
            start = i
        label = labels[i]
        space_follows = i + 1 == n or text[i + 1].isspace()  # (nothing after a paragraph needs no SpaceAfter=No)
        if label == INSIDE and not space_follows:
            continue
        form = text[start:i + 1]
        words = split(form, start) if label in MULTIWORD else [form]
        tokens.append(Token(form, words, [None] * len(words), space_follows, start))
        start = None
        if label in ENDS_SENTENCE or i + 1 == n:
            sentences.append(Sentence(tokens, text[tokens[0].start:i + 1]))
            tokens = []
    if tokens:  # text ending in whitespace after a token that ended no sentence
        sentences.append(Sentence(tokens, text[tokens[0].start:tokens[-1].end]))
    return sentences


def split_at_marks(word_ends: list[int]) -> Callable[[str, int], list[str]]:
    """The gold words of a multiword token, from the marks `paragraph_labels` set."""
    def split(form: str, start: int) -> list[str]:
        words, begin = [], 0
        for k in range(len(form) - 1):
            if word_ends[start + k]:
                words.append(form[begin:k + 1])
                begin = k + 1
        return words + [form[begin:]]
    return split


class MultiwordSplitter:
    """The words of a multiword token: as training most often split that token (lowercased), else
    by the longest final word training saw at least twice (n't, 's, 'll: Shouldn't -> Should n't),
    else the token stays one word. Words keep the token's own spelling and case."""

    def __init__(self, known: dict[str, list[str]], suffixes: list[str]):
        self.known, self.suffixes = known, suffixes

    @classmethod
    def build(cls, paragraphs: list[Paragraph]) -> "MultiwordSplitter":
        analyses: dict[str, Counter] = {}
        finals: Counter = Counter()
        for paragraph in paragraphs:
            for sentence in paragraph.sentences:
                for token in sentence.tokens:
                    if token.multiword:
                        analyses.setdefault(token.form.lower(), Counter())[tuple(w.lower() for w in token.words)] += 1
                        if "".join(token.words) == token.form:
                            finals[token.words[-1].lower()] += 1
        known = {form: list(counts.most_common(1)[0][0]) for form, counts in sorted(analyses.items())}
        suffixes = sorted((s for s, c in finals.items() if c >= 2), key=lambda s: (-len(s), s))
        return cls(known, suffixes)

    def state_dict(self) -> dict:
        return {"known": dict(self.known), "suffixes": list(self.suffixes)}

    @classmethod
    def from_state(cls, state: dict) -> "MultiwordSplitter":
        return cls({k: list(v) for k, v in state["known"].items()}, list(state["suffixes"]))

    def __call__(self, form: str, start: int = 0) -> list[str]:
        lower = form.lower()
        words = self.known.get(lower)
        if words is not None:
            if "".join(words) != lower:
                return list(words)  # a contraction spelled out (du -> de le)
            lengths = [len(w) for w in words]
        else:
            suffix = next((s for s in self.suffixes if lower.endswith(s) and len(s) < len(lower)), None)
            if suffix is None:
                return [form]
            lengths = [len(form) - len(suffix), len(suffix)]
        out, at = [], 0
        for length in lengths:
            out.append(form[at:at + length])
            at += length
        return out
