"""The tagger's word vectors: the `data.embeddings` section, and the sentences word2vec reads
(seqtrain.data.vectors does the gensim work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from seqtrain.core.fields import opt
from seqtrain.core.errors import UserError


@dataclass
class EmbeddingsConfig:
    pretrained: str = opt("", "word vectors to start from: word2vec text or binary, or fastText .vec", path=True)
    format: Literal["auto", "text", "binary"] = opt("auto", "pretrained file format (auto: .bin is binary, else text)")
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
