"""Tang poems in the chinese-poetry JSON format: reading, cleaning, form, and n-gram baselines.

A file is a JSON list of {"author", "title", "paragraphs": ["秦川雄帝宅，函谷壯皇居。", ...]}. A poem's
text is its paragraphs joined; a line (句) is what lies between two punctuation marks, so
"床前明月光，疑是地上霜。" has two five-character lines.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.core.documents import read_json
from seqtrain.core.textfile import read_text

PUNCTUATION = "，。；？！"                # what a kept poem may contain besides characters
HALF_WIDTH = str.maketrans(",.;?!", PUNCTUATION)
NOTE_BRACKETS = set("（）()[]［］〖〗{}｛｝〔〕【】")
MISSING = set("□■○●◯⿰⿱⿲⿳⿴⿵⿶⿷⿸⿹⿺⿻\ufffd")
LINE_SPLIT = re.compile(f"[{PUNCTUATION}]")
FILTERS = ("read", "empty", "notes", "missing", "punctuation", "duplicates", "form", "lines", "max_chars")


@dataclass
class Poem:
    title: str
    author: str
    text: str       # normalised, punctuation included: "床前明月光，疑是地上霜。..."


def is_hanzi(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def normalise(text: str) -> str:
    """Half-width , . ; ? ! become the full-width marks the corpus uses; whitespace goes."""
    return "".join(text.split()).translate(HALF_WIDTH)


def lines_of(text: str) -> list[str]:
    """The lines of a poem, without their punctuation."""
    parts = LINE_SPLIT.split(text)
    return parts[:-1] if parts and parts[-1] == "" else parts


def form_of(text: str) -> tuple[int, int]:
    """(characters per line, lines): (5, 4) for a five-character quatrain; (0, n) when the lines differ
    in length or the poem does not end with a punctuation mark."""
    lines = lines_of(text)
    lengths = {len(line) for line in lines}
    regular = len(lengths) == 1 and text[-1:] in PUNCTUATION and 0 not in lengths
    return (lengths.pop() if regular else 0), len(lines)


def rejection(text: str) -> str | None:
    """Which cleaning filter drops this text, or None if it is a clean poem."""
    if not text:
        return "empty"
    if any(ch in NOTE_BRACKETS for ch in text):
        return "notes"
    if any(ch in MISSING or unicodedata.category(ch) == "Co" for ch in text):
        return "missing"
    if any(ch not in PUNCTUATION and not is_hanzi(ch) for ch in text):
        return "punctuation"
    return None


# ---------------------------------------------------------------- reading

def read_json_poems(path: Path) -> list[Poem]:
    """Every poem of one chinese-poetry JSON file, normalised but not yet filtered."""
    data = read_json(path, what="poem file")  # UTF-8, bounded; or one line naming the file and line
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of poems, got {type(data).__name__}")
    poems = []
    for i, item in enumerate(data):
        paragraphs = item.get("paragraphs") if isinstance(item, dict) else None
        if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
            raise UserError(f"{path}: poem {i + 1}: expected an object with \"paragraphs\": a list of strings")
        poems.append(Poem(str(item.get("title", "")), str(item.get("author", "")), normalise("".join(paragraphs))))
    return poems


def read_text_poems(path: Path) -> list[Poem]:
    """Poems in plain text: one poem per block, blocks separated by blank lines."""
    text = read_text(path)
    blocks = re.split(r"\n\s*\n", text.strip())
    return [Poem("", "", normalise(block)) for block in blocks if block.strip()]


def read_poems(path: Path) -> list[Poem]:
    """A .json file in the chinese-poetry format, or plain text with blank lines between poems."""
    return read_json_poems(path) if Path(path).suffix == ".json" else read_text_poems(path)


# ---------------------------------------------------------------- selection

def select(poems: list[Poem], forms: list[int], line_counts: list[int], max_chars: int,
           counts: dict | None = None, dedupe: bool = True) -> list[Poem]:
    """Clean and select poems; `counts` receives how many poems are left after each filter."""
    left = {name: 0 for name in FILTERS}
    left["read"] = len(poems)
    seen, kept = set(), []
    for poem in poems:
        reason = rejection(poem.text)
        chars, n_lines = form_of(poem.text) if reason is None else (0, 0)
        if reason is None and dedupe:
            reason = "duplicates" if poem.text in seen else None
            seen.add(poem.text)
        if reason is None and forms and chars not in forms:
            reason = "form"
        if reason is None and line_counts and n_lines not in line_counts:
            reason = "lines"
        if reason is None and max_chars and len(poem.text) > max_chars:
            reason = "max_chars"
        if reason is None:
            kept.append(poem)
        for name in FILTERS[1:FILTERS.index(reason) if reason else len(FILTERS)]:
            left[name] += 1
    if counts is not None:
        counts.update(left)
    return kept


def describe_counts(counts: dict) -> str:
    steps = ", ".join(f"{name} {counts[name]:,}" for name in FILTERS[1:])
    return f"{counts['read']:,} poems read; left after each filter: {steps}"


def to_simplified(poems: list[Poem]) -> list[Poem]:
    """Traditional -> simplified characters with OpenCC (the `zh` extra)."""
    try:
        import opencc
    except ImportError:
        raise UserError("data.script: simplified needs the OpenCC package: pip install 'seqtrain[zh]' "
                        "(or pip install opencc)") from None
    converter = opencc.OpenCC("t2s")
    return [Poem(converter.convert(p.title), converter.convert(p.author), converter.convert(p.text))
            for p in poems]


# ---------------------------------------------------------------- baselines

class NgramBaselines:
    """Char unigram and bigram models over vocabulary ids, fitted on the training poems.

    Each poem is scored as the language model sees it: its characters and the end symbol, each
    predicted from the one before (the first from the begin symbol). The unigram is add-one
    smoothed; the bigram adds k to every count (k chosen by `fit_k` on held-out poems)."""

    def __init__(self, sequences: list[list[int]], vocab_size: int, k: float = 0.01):
        self.vocab_size, self.k = vocab_size, k
        self.unigrams: Counter = Counter()
        self.bigrams: Counter = Counter()
        self.contexts: Counter = Counter()
        for seq in sequences:
            self.unigrams.update(seq[1:])
            self.bigrams.update(zip(seq, seq[1:]))
            self.contexts.update(seq[:-1])
        self.total = sum(self.unigrams.values())

    def unigram_nll(self, seq: list[int]) -> float:
        v = self.vocab_size
        return -sum(math.log((self.unigrams[w] + 1) / (self.total + v)) for w in seq[1:])

    def bigram_nll(self, seq: list[int], k: float | None = None) -> float:
        k = self.k if k is None else k
        v = self.vocab_size
        return -sum(math.log((self.bigrams[a, b] + k) / (self.contexts[a] + k * v)) for a, b in zip(seq, seq[1:]))

    def fit_k(self, sequences: list[list[int]], grid=(1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)) -> float:
        """The k that scores `sequences` best: an optimistic baseline, so the model's margin is not flattered."""
        if sequences:
            self.k = min(grid, key=lambda k: sum(self.bigram_nll(s, k) for s in sequences))
        return self.k


def format_poems(poems: list[dict]) -> str:
    """Poem records as text: couplets one per line, a blank line between poems (what eval-poems reads back)."""
    return "\n\n".join("\n".join(p["paragraphs"]) for p in poems)
