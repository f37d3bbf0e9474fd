"""Pretrained word-vector files: GloVe text (no header), word2vec/fastText text (.vec: a "WORDS DIM"
header line) and word2vec binary, each plain or gzipped. Every way a file can be wrong is one
UserError naming the file and the line (binary: the word), never a parser's traceback.

The numbers are parsed by numpy.loadtxt in chunks of lines (C, not a Python float per value); a
chunk that fails is parsed again line by line to name the line. Nothing is allocated from what a
header claims: a header of 2e9 words costs what the file's real rows cost.
"""

from __future__ import annotations

import contextlib
import gzip
from itertools import chain
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from seqtrain.core.errors import UserError
from seqtrain.core.textfile import open_regular

FORMATS = ("auto", "glove", "text", "binary")
CHUNK = 50_000          # lines parsed by one loadtxt call
MAX_DIM = 10_000        # a header or row claiming more numbers per word is refused
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Vectors:
    """Words (file order, first occurrence kept) and their [len(words), dim] float32 rows; the
    lookups gensim's KeyedVectors offers that seqtrain uses."""
    words: list[str]
    rows: np.ndarray

    @cached_property
    def key_to_index(self) -> dict[str, int]:  # only init_matrix looks words up (the table sorts them instead)
        return {w: i for i, w in enumerate(self.words)}

    @property
    def vector_size(self) -> int:
        return self.rows.shape[1]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.rows[self.key_to_index[word]]


def read_vectors(path: str | Path, fmt: str = "auto", max_words: int = 0) -> Vectors:
    """The vectors of PATH (`fmt` one of FORMATS); `max_words`: only the first N (files list the
    most frequent words first), 0 for all."""
    path = Path(path)
    try:
        with open_regular(path, "vectors file") as raw, opened(raw) as f:
            first = f.readline(1 << 20)
            header = parse_header(first)
            if fmt == "auto":
                fmt = "glove" if header is None else "binary" if looks_binary(path, f.peek(4096)) else "text"
            if fmt == "binary":
                if header is None:
                    raise UserError(f"{path}:1: a word2vec binary file starts with a 'WORDS DIM' line")
                return read_binary(path, f, *header, max_words)
            if fmt == "text" and header is None:
                raise UserError(f"{path}:1: expected a 'WORDS DIM' header line (word2vec/fastText text); "
                                f"set data.embeddings.format: glove for a file without one")
            lines = [first] if fmt == "glove" else []
            return read_text(path, f, lines, header if fmt == "text" else None, max_words)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{path}: cannot read the vectors file: {e}") from None


def opened(raw):
    """`raw`, decompressed if it starts with gzip's magic bytes (the name may not say so)."""
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    return contextlib.nullcontext(raw)


def parse_header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() and len(p) < 19 for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def looks_binary(path: Path, sample: bytes) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".bin") or b"\0" in sample:
        return True
    try:
        sample[:-4].decode("utf-8")  # a cut multibyte character may end the sample
        return False
    except UnicodeDecodeError:
        return True


def check_dim(path: Path, line: int, dim: int) -> None:
    if not 1 <= dim <= MAX_DIM:
        raise UserError(f"{path}:{line}: {dim} numbers per word; seqtrain reads 1 to {MAX_DIM}")


def read_text(path: Path, f, lines: list[bytes], header: tuple[int, int] | None, max_words: int) -> Vectors:
    """Rows of `word v1 v2 ...` lines (after the header line, if any)."""
    if header is not None:
        check_dim(path, 1, header[1])
    limit = max_words or (header[0] if header is not None else 0)
    words, chunks, rests, dim = [], [], [], header[1] if header is not None else None
    number, blank, first = (0, None, 1) if header is None else (1, None, 2)
    for line in chain(lines, f):
        number += 1
        text = decode_line(path, number, line)
        if not text.strip():
            blank = blank or number  # blank lines at the end of a file are no rows
            continue
        if blank is not None:
            raise UserError(f"{path}:{blank}: an empty line")
        if limit and len(words) == limit:
            if header is not None and not max_words:
                raise UserError(f"{path}:{number}: more words than the header's {header[0]}")
            break
        word, _, rest = text.partition(" ")
        if not word or not rest.strip():
            raise UserError(f"{path}:{number}: expected a word and its numbers, separated by spaces")
        words.append(word)
        rests.append(rest)
        if len(rests) == CHUNK:
            dim = parse_chunk(path, first, rests, dim, chunks)
            first, rests = number + 1, []
    if rests:
        dim = parse_chunk(path, first, rests, dim, chunks)
    if header is not None and len(words) < (min(header[0], max_words) if max_words else header[0]):
        raise UserError(f"{path}: the header says {header[0]} words, the file ends after {len(words)}")
    if not words:
        raise UserError(f"{path}: no word vectors in the file")
    return unique(words, np.concatenate(chunks))


def decode_line(path: Path, number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}:{number}: not UTF-8 (byte 0x{line[e.start]:02x})") from None


def parse_chunk(path: Path, first: int, rests: list[str], dim: int | None, chunks: list) -> int:
    """Parse `rests` (the numbers of lines first, first+1, ...) into one float32 chunk; returns the
    dimension (the header's, else the first line's)."""
    if dim is None:
        dim = len(rests[0].split())
        check_dim(path, first, dim)
    try:
        rows = np.loadtxt(rests, dtype=np.float64, comments=None, quotechar=None, ndmin=2)
    except ValueError:
        rows = None
    if rows is None or rows.shape[1] != dim:
        for i, rest in enumerate(rests):
            line_rows(path, first + i, rest, dim)
        raise UserError(f"{path}:{first}: unreadable numbers in lines {first} to {first + len(rests) - 1}")
    bad = ~(np.abs(rows) <= FLOAT32_MAX).all(axis=1)  # NaN compares false
    if bad.any():
        raise UserError(f"{path}:{first + int(np.argmax(bad))}: a value that is not a finite 32-bit float "
                        f"(nan, inf or beyond 3.4e38)")
    chunks.append(rows.astype(np.float32))
    return dim


def line_rows(path: Path, number: int, rest: str, dim: int) -> None:
    values = rest.split()
    if len(values) != dim:
        raise UserError(f"{path}:{number}: {len(values)} numbers after the word, expected {dim}")
    for value in values:
        try:
            float(value)
        except ValueError:
            raise UserError(f"{path}:{number}: {value[:40]!r} is not a number") from None


def read_binary(path: Path, f, count: int, dim: int, max_words: int) -> Vectors:
    """word2vec binary: after the header, each word, a space, and `dim` little-endian float32s."""
    check_dim(path, 1, dim)
    data = f.read()  # the file's real bytes: never sized from the header's claim
    wanted = min(count, max_words) if max_words else count
    words, rows, pos = [], [], 0
    for i in range(wanted):
        while data[pos:pos + 1] == b"\n":
            pos += 1
        end = data.find(b" ", pos, pos + 10_000)
        if end < 0 or end + 1 + 4 * dim > len(data):
            raise UserError(f"{path}: the header says {count} words of {dim} numbers, "
                            f"the file ends inside word {i + 1}")
        try:
            words.append(data[pos:end].decode("utf-8"))
        except UnicodeDecodeError:
            raise UserError(f"{path}: word {i + 1} is not UTF-8") from None
        rows.append(np.frombuffer(data, dtype="<f4", count=dim, offset=end + 1))
        pos = end + 1 + 4 * dim
    if not words:
        raise UserError(f"{path}: no word vectors in the file")
    matrix = np.stack(rows)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{path}: word {i + 1} ({words[i][:40]!r}) has a value that is not a finite number "
                        f"(nan or inf)")
    return unique(words, matrix)


def unique(words: list[str], rows: np.ndarray) -> Vectors:
    """The first row of each word (some files repeat a word)."""
    if len(set(words)) == len(words):
        return Vectors(words, rows)
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    keep = sorted(first.values())
    return Vectors([words[i] for i in keep], rows[keep])
