"""Word (or character) vectors with gensim: read pretrained KeyedVectors, or train Word2Vec first.

gensim is imported inside the functions, so a trained checkpoint never loads it. Rows the vectors
lack keep the usual embedding init, U(-sqrt(3/d), sqrt(3/d)).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Iterable

import torch

from seqtrain.core.errors import UserError


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


def run_cache(workdir: Path | None) -> Path | None:
    """Where a run keeps the vectors word2vec trained for it (None: no run directory), so that
    --resume reads them instead of training them again."""
    return workdir / "word2vec.vec" if workdir is not None else None


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector from hash(); Python's str hash differs per process."""
    return zlib.crc32(text.encode("utf-8"))


def train_word2vec(sentences: Iterable[list[str]], dim: int, *, epochs: int, seed: int, window: int = 5,
                   min_count: int = 1, skipgram: bool = True, workers: int = 1, cache: Path | None = None):
    """Word2Vec vectors of `sentences` (iterated once per epoch). With `cache`, the vectors are read
    from that file when an earlier start of the same run trained them, and written there after."""
    from gensim.models import KeyedVectors, Word2Vec

    if cache is not None and cache.is_file():
        vectors = KeyedVectors.load_word2vec_format(str(cache))
        if vectors.vector_size == dim:
            return vectors
    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=min_count, sg=int(skipgram),
                     epochs=epochs, seed=seed, workers=workers, hashfxn=stable_hash)
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
