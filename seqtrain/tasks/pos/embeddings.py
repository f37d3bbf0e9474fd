"""The tagger's word vectors: the `data.embeddings` section, the sentences word2vec reads
(seqtrain.data.vectors does the reading and the gensim work), and the pretrained table a model keeps.

A pretrained table (data.embeddings.use: table) is frozen and stored in the checkpoint (fp16 rows, a
one-string vocabulary): any model that reads words (the tagger, and later taggers of entities) looks
each distinct word form up in it, as typed and then in lowercase, and concatenates its row to the
word's other features; row 0 (zeros) is a word the table lacks.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import torch

from seqtrain.core.fields import opt
from seqtrain.core.errors import UserError
from seqtrain.core.vocab import Vocab


@dataclass
class EmbeddingsConfig:
    pretrained: str = opt("", "pretrained word vectors: GloVe text, word2vec text or binary, or fastText .vec, "
                              "plain or gzipped (docs/vectors.md)", path=True)
    format: Literal["auto", "glove", "text", "binary"] = opt(
        "auto", "pretrained file format: glove (no header line), text (word2vec/fastText: a 'WORDS DIM' header), "
                "binary (word2vec); auto: guessed from the first line (and .bin)")
    max_words: int = opt(0, "pretrained: keep only the first N words of the file (the most frequent; 0: all)", min=0)
    use: Literal["table", "init", "both"] = opt(
        "table", "pretrained: table (the whole table, frozen, beside the word embedding: words training never "
                 "saw get their vectors too), init (start the word embedding of training words from them; "
                 "model.word_dim must be their size), or both")
    train: Literal["none", "word2vec"] = opt("none", "word2vec: train vectors with gensim on the training "
                                                     "sentences (plus corpus) first; cached in the run directory")
    corpus: str = opt("", "word2vec: extra raw text, one whitespace-tokenised sentence per line", path=True)
    epochs: int = opt(10, "word2vec: passes over the sentences", min=1)
    window: int = opt(5, "word2vec: context words on each side", min=1)
    min_count: int = opt(1, "word2vec: ignore words rarer than this", min=1)
    skipgram: bool = opt(True, "word2vec: skip-gram (false: CBOW)")

    def check(self) -> None:
        if self.pretrained and self.train != "none":
            raise UserError("data.embeddings: set either pretrained or train, not both")
        if self.max_words and not self.pretrained:
            raise UserError("data.embeddings.max_words: set data.embeddings.pretrained too")


class Sentences:
    """Training sentences followed by the lines of an optional raw-text file; gensim iterates it repeatedly."""

    def __init__(self, sentences: list[list[str]], corpus: Path | None, lowercase: bool):
        self.sentences, self.corpus, self.lowercase = sentences, corpus, lowercase

    def __iter__(self) -> Iterable[list[str]]:
        for words in self.sentences:
            yield [w.lower() for w in words] if self.lowercase else words
        if self.corpus is not None:
            with open(self.corpus, encoding="utf-8-sig", errors="replace") as f:
                for line in f:
                    words = (line.lower() if self.lowercase else line).split()
                    if words:
                        yield words


class VectorTable:
    """The words of a pretrained table and the size of its rows (the rows live in the model:
    seqtrain.models.table.FrozenTable). The words are kept sorted, the rows in the same order, and a
    word is found by bisection: loading then costs one split of the stored string (core/vocab.py's
    format), not a dict of 400,000 entries (0.1 to 0.7 s on 2 cores). Row 0 is the empty string,
    never a word of a file (so it sorts first): the row of a word the table lacks, zeros."""

    def __init__(self, words: list[str], dim: int, half: bool):
        self.words, self.dim, self.half = words, dim, half

    @classmethod
    def build(cls, vectors) -> tuple["VectorTable", torch.Tensor]:
        """The table of `vectors` (seqtrain.data.vector_files.Vectors) and its rows: fp16 (half the
        size; GloVe's values need no more), or fp32 if a value is beyond fp16's range."""
        order = sorted(range(len(vectors.words)), key=vectors.words.__getitem__)
        rows = torch.from_numpy(vectors.rows)[torch.tensor(order, dtype=torch.long)]
        rows = torch.cat([torch.zeros(1, rows.shape[1]), rows])
        half = bool(rows.abs().max() < 65504)
        words = [""] + [vectors.words[i] for i in order]
        return cls(words, rows.shape[1], half), rows.half() if half else rows

    def row(self, word: str) -> int:
        """The word's row as typed, else in lowercase (GloVe's words are), else 0."""
        for key in (word, word.lower()):
            i = bisect.bisect_left(self.words, key)
            if i < len(self.words) and self.words[i] == key:
                return i
        return 0

    def __len__(self) -> int:
        return len(self.words)

    def state_dict(self) -> dict:
        return {"words": "".join("\n" + w for w in self.words), "dim": self.dim, "half": self.half}

    @classmethod
    def from_state(cls, state: dict) -> "VectorTable":
        words = Vocab.entries(state["words"])
        # a word is found by bisection: out of order, most words would silently read row 0 (0.01 s to check)
        if words[:1] != [""] or sorted(words) != words:
            raise UserError("damaged checkpoint: the words of its pretrained vectors table are not in sorted order")
        return cls(words, int(state["dim"]), bool(state["half"]))
