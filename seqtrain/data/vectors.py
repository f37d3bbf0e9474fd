"""Word (or character) vectors: pretrained ones read from a file (seqtrain.data.vector_files) and kept
in the run directory, or trained with gensim's Word2Vec first; and embedding rows from them.

gensim is imported inside train_word2vec, so a trained checkpoint never loads it. Rows the vectors
lack keep the usual embedding init, U(-sqrt(3/d), sqrt(3/d)).
"""

from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path
from typing import Iterable

import torch

from seqtrain.core.errors import UserError
from seqtrain.core.vocab import Vocab
from seqtrain.data.vector_files import Vectors, read_vectors


def load_vectors(path: Path, fmt: str = "auto", max_words: int = 0) -> Vectors:
    """The vectors of a GloVe, word2vec or fastText file (seqtrain.data.vector_files), read once per
    process for the same file and settings (tune's trials share them)."""
    stat = Path(path).stat() if Path(path).is_file() else None
    key = (str(Path(path).resolve()), stat and (stat.st_size, stat.st_mtime_ns), fmt, max_words)
    if key not in _read:
        _read.clear()  # one table at a time: a second one is another config's
        _read[key] = read_vectors(path, fmt, max_words)
    return _read[key]


_read: dict = {}


def cached_vectors(path: Path, fmt: str, max_words: int, cache: Path | None) -> Vectors:
    """load_vectors, kept in the run directory (`cache`) by the first process of the run to read it:
    --resume and the other processes under torchrun read the cache instead of the file. A lock file
    orders the processes; one that fails to read leaves the next to try (and fail the same way)."""
    if cache is None:
        return load_vectors(path, fmt, max_words)
    source = {"file": str(Path(path).resolve()), "format": fmt, "max_words": max_words}
    with open(cache.with_name(f".{cache.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cache.is_file():
            stored = load_cache(cache)
            if stored["source"] == source:
                return Vectors(Vocab.entries(stored["words"]), stored["rows"].numpy())
        vectors = load_vectors(path, fmt, max_words)
        tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
        torch.save({"source": source, "words": Vocab(vectors.words, unk=None).to_state(),
                    "rows": torch.from_numpy(vectors.rows)}, tmp)
        os.replace(tmp, cache)
        return vectors


def load_cache(cache: Path) -> dict:
    try:
        stored = torch.load(cache, weights_only=True)
        if isinstance(stored, dict) and isinstance(stored.get("rows"), torch.Tensor) and \
                Vocab.looks_stored(stored.get("words")) and stored["rows"].dim() == 2 and \
                len(Vocab.entries(stored["words"])) == len(stored["rows"]):
            return stored
    except Exception:  # a damaged file can make the unpickler fail in any way
        pass
    raise UserError(f"{cache}: the run's copy of the word vectors is damaged; delete it to read "
                    f"data.embeddings.pretrained again")


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
    from gensim.models import Word2Vec

    if cache is not None and cache.is_file():
        try:
            vectors = read_vectors(cache, "text")
        except UserError as e:
            raise UserError(f"{e}; the run's word2vec vectors are damaged: delete {cache.name} to train "
                            f"them again") from None
        if vectors.vector_size == dim:
            return vectors
    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=min_count, sg=int(skipgram),
                     epochs=epochs, seed=seed, workers=workers, hashfxn=stable_hash)
    if cache is not None:
        tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
        model.wv.save_word2vec_format(str(tmp))
        os.replace(tmp, cache)
    return Vectors(list(model.wv.index_to_key), model.wv.vectors)


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
