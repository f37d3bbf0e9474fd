"""Word vectors with gensim: read pretrained KeyedVectors, or train Word2Vec on the corpus first.

gensim is imported inside the functions, so tagging with a trained checkpoint never loads it.
Words the vectors lack keep the tagger's usual init, U(-sqrt(3/d), sqrt(3/d)).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import torch

from seqtrain.config import opt
from seqtrain.errors import UserError

CACHE_NAME = "word2vec.vec"


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


def load_vectors(path: Path, fmt: str = "auto"):
    """KeyedVectors from a word2vec text/binary or fastText .vec file; a bad file is a UserError."""
    from gensim.models import KeyedVectors

    binary = fmt == "binary" or (fmt == "auto" and Path(path).suffix == ".bin")
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except (ValueError, UnicodeDecodeError, EOFError, IndexError) as e:
        kind = "binary" if binary else "text"
        raise UserError(f"{path}: not a word2vec {kind} vector file ({str(e).splitlines()[0][:120]}); "
                        f"set data.embeddings.format if the format was guessed wrong") from None


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


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector from hash(); Python's str hash differs per process."""
    return zlib.crc32(text.encode("utf-8"))


def train_word2vec(sentences: Sentences, cfg: EmbeddingsConfig, dim: int, cache_dir: Path | None,
                   seed: int, workers: int = 1):
    """Word2Vec vectors, read from cache_dir when an earlier start of the same run trained them."""
    from gensim.models import KeyedVectors, Word2Vec

    cache = Path(cache_dir) / CACHE_NAME if cache_dir is not None else None
    if cache is not None and cache.is_file():
        vectors = KeyedVectors.load_word2vec_format(str(cache))
        if vectors.vector_size == dim:
            return vectors
    model = Word2Vec(sentences, vector_size=dim, window=cfg.window, min_count=cfg.min_count,
                     sg=int(cfg.skipgram), epochs=cfg.epochs, seed=seed, workers=workers,
                     hashfxn=stable_hash)
    if cache is not None:
        tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
        model.wv.save_word2vec_format(str(tmp))
        os.replace(tmp, cache)
    return model.wv


def init_matrix(tokens: list[str], vectors, dim: int, skip: int = 1) -> tuple[torch.Tensor, int]:
    """[len(tokens), dim] rows from `vectors` where a token (or its lowercase form) has one, else
    U(+-sqrt(3/dim)); the first `skip` rows (PAD) are zero. Returns the matrix and how many were found."""
    if vectors.vector_size != dim:
        raise UserError(f"model.word_dim is {dim} but the word vectors have {vectors.vector_size} "
                        f"dimensions; set model.word_dim: {vectors.vector_size}")
    bound = (3.0 / dim) ** 0.5
    matrix = torch.empty(len(tokens), dim).uniform_(-bound, bound)
    matrix[:skip] = 0
    found = 0
    for i, token in enumerate(tokens[skip:], skip):
        key = token if token in vectors.key_to_index else token.lower()
        if key in vectors.key_to_index:
            matrix[i] = torch.from_numpy(vectors[key].copy())
            found += 1
    return matrix, found
