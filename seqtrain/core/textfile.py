"""Users' text files: UTF-8 with or without a byte-order mark, LF or CRLF; anything else is one clear error.

A file that is not UTF-8 gets an error naming the line of the first bad byte and a guess at the
encoding it is in (a guess: legacy encodings cannot be told apart for certain), with the command
that converts it.
"""

from __future__ import annotations

import codecs
import errno
import stat
import sys
import unicodedata
from pathlib import Path

from seqtrain.core.errors import UserError

# (codec, what to call it, the Unicode scripts its text is written in); tried in this order, and the first
# that decodes the whole file into plausible text is named. Chinese bytes rarely decode to kana, so
# Shift-JIS goes first; Big5 bytes decoded as GBK give kana, Greek and private-use characters, not hanzi.
GUESSES = (("shift_jis", "Japanese Shift-JIS", ("HIRAGANA", "KATAKANA", "CJK")),
           ("gb18030", "Chinese GB18030/GBK", ("CJK",)),
           ("big5", "Chinese Big5", ("CJK",)),
           ("euc_kr", "Korean EUC-KR", ("HANGUL", "CJK")),
           ("cp1252", "Western Windows-1252/Latin-1", ("LATIN",)))


MAX_BYTES = 1 << 30  # a text file larger than this is refused, not read into memory


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_BYTES, *, pipes: bool = False) -> str:
    """The text of PATH, decoded as UTF-8 (a leading BOM dropped); UserError for anything else."""
    return decode(read_bytes(path, what, max_bytes, pipes=pipes), path)


def read_lines(path: str | Path, what: str = "file", max_bytes: int = MAX_BYTES) -> list[str]:
    """The lines of a text file (see split_lines)."""
    return split_lines(read_text(path, what, max_bytes))


def split_lines(text: str) -> list[str]:
    """Lines ended by LF or CRLF, and by nothing else: str.splitlines also ends a line at U+2028,
    U+2029, U+0085, \\x1c-\\x1e, \\v, \\f and a lone CR, which in a user's file are characters of a line
    (splitting there would also shift the number of every line after them)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_bytes(path: str | Path, what: str = "file", max_bytes: int = MAX_BYTES, *, pipes: bool = False) -> bytes:
    """The bytes of a regular file, at most `max_bytes` of them. Devices, FIFOs and directories are
    refused before a byte is read: /dev/zero as a corpus would otherwise fill the memory. With
    `pipes`, for a caller that reads its file once (predict --input), a FIFO is read too, under the
    same cap: a named pipe, or `<(cmd)`, which is /dev/fd/N."""
    path = Path(path)
    with open_regular(path, what, pipes=pipes) as f:
        return read_capped(f, path, what, max_bytes)


def is_pipe(path: Path) -> bool:
    """Whether PATH is a FIFO (a named pipe, or a pipe's /dev/fd/N)."""
    try:
        return stat.S_ISFIFO(path.stat().st_mode)
    except OSError:
        return False


def read_capped(stream, name, what: str, max_bytes: int = MAX_BYTES) -> bytes:
    try:
        data = stream.read(max_bytes + 1)
    except OSError as e:
        raise UserError(f"{name}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise UserError(f"{name}: larger than {max_bytes >> 20} MiB, more than seqtrain reads of one {what}")
    return data


def read_stdin(what: str = "input", max_bytes: int = MAX_BYTES) -> str:
    """Standard input's text, as read_text reads a file (`--input -`); closed or unreadable, one UserError."""
    if sys.stdin is None:  # Python's stdin when descriptor 0 was closed at start (`<&-`)
        raise UserError("<stdin>: standard input is closed; give the input on it (< file, or a pipe) or as a file")
    return decode(read_capped(sys.stdin.buffer, "<stdin>", what, max_bytes), "<stdin>")


def open_regular(path: Path, what: str = "file", *, pipes: bool = False):
    """`open(path, 'rb')` for a regular file (or, with `pipes`, a FIFO); one clear UserError for anything else."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        broken = path.is_symlink()
        raise UserError(f"{path}: {what} not found" + (" (a broken symbolic link)" if broken else "")) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{path}: a loop of symbolic links, not a {what}") from None
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(mode) and not (pipes and stat.S_ISFIFO(mode)):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) \
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise UserError(f"{path}: {kind}, not a regular {what}; seqtrain reads regular files only")
    try:
        return open(path, "rb")
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None


def decode(data: bytes, path: str | Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserError(f"{path}: UTF-16 text; seqtrain reads UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)")
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise UserError(f"{path}:{line}: binary data (a NUL byte), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        guess = guess_encoding(data)
        hint = (f"; it may be {guess[1]} (convert it: iconv -f {guess[0].upper()} -t UTF-8)" if guess
                else "; it does not look like text in a common encoding")
        raise UserError(f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}){hint}") from None


def guess_encoding(data: bytes) -> tuple[str, str] | None:
    """(codec, description) of the first candidate that decodes DATA into plausible text, or None."""
    for codec, description, scripts in GUESSES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if plausible(text, scripts):
            return codec, description
    return None


def plausible(text: str, scripts: tuple[str, ...]) -> bool:
    """No control or private-use characters, and the non-Latin letters (all letters, for Latin text)
    nearly all in the expected scripts; Latin text also must not pair up accented letters, which is
    what multi-byte text misread one byte at a time looks like."""
    if any(unicodedata.category(c) in ("Cc", "Co") and c not in "\t\n\r\f" for c in text):
        return False
    latin = scripts == ("LATIN",)
    letters = [c for c in text if ord(c) > 127 and unicodedata.category(c).startswith("L")
               and (latin or not unicodedata.name(c, "").startswith("LATIN"))]
    if not letters:
        return latin
    if "HIRAGANA" in scripts and not any(unicodedata.name(c, "").startswith(("HIRAGANA", "KATAKANA"))
                                         for c in letters):
        return False
    native = sum(unicodedata.name(c, "").startswith(scripts) for c in letters)
    if latin:
        paired = sum(ord(a) > 127 and ord(b) > 127 for a, b in zip(text, text[1:]))
        return native == len(letters) and paired <= 0.5 * len(letters)
    return native >= 0.9 * len(letters)
