"""The tagger's word vectors: the `data.embeddings` section, the sentences word2vec reads
(seqtrain.data.vectors does the reading and the gensim work), and the pretrained table a model keeps.

A pretrained table (data.embeddings.use: table) is frozen and stored in the checkpoint (fp16 rows, a
one-string vocabulary): any model that reads words (the tagger, and later taggers of entities) looks
each distinct word form up in it, as typed and then in lowercase, and concatenates its row to the
word's other features; row 0 (zeros) is a word the table lacks.
"""

from __future__ import annotations

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
    seqtrain.models.table.FrozenTable). Row 0 is a word the table lacks (the empty string: never a
    word of a file), so the vocabulary is stored as one string (core/vocab.py: fast to load)."""

    def __init__(self, vocab: Vocab, dim: int, half: bool):
        self.vocab, self.dim, self.half = vocab, dim, half

    @classmethod
    def build(cls, vectors) -> tuple["VectorTable", torch.Tensor]:
        """The table of `vectors` (seqtrain.data.vector_files.Vectors) and its rows, row 0 zeros: fp16
        (half the size; GloVe's values need no more), or fp32 if a value is beyond fp16's range."""
        rows = torch.from_numpy(vectors.rows)
        rows = torch.cat([torch.zeros(1, rows.shape[1]), rows])
        half = bool(rows.abs().max() < 65504)
        return cls(Vocab([""] + vectors.words, unk=""), rows.shape[1], half), rows.half() if half else rows

    def row(self, word: str) -> int:
        """The word's row as typed, else in lowercase (GloVe's words are), else 0."""
        found = self.vocab.ids.get(word)
        return found if found is not None else self.vocab.ids.get(word.lower(), 0)

    def __len__(self) -> int:
        return len(self.vocab)

    def state_dict(self) -> dict:
        return {"words": self.vocab.to_state(), "dim": self.dim, "half": self.half}

    @classmethod
    def from_state(cls, state: dict) -> "VectorTable":
        return cls(Vocab.from_state(state["words"], unk=""), int(state["dim"]), bool(state["half"]))
