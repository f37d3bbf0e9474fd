"""Users' text files: UTF-8 with or without a byte-order mark, LF or CRLF; anything else is one clear error.

A file that is not UTF-8 gets an error naming the line of the first bad byte and a guess at the
encoding it is in (a guess: legacy encodings cannot be told apart for certain), with the command
that converts it.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from seqtrain.errors import UserError

# (codec, what to call it, the Unicode scripts its text is written in); tried in this order, and the first
# that decodes the whole file into plausible text is named. Chinese bytes rarely decode to kana, so
# Shift-JIS goes first; Big5 bytes decoded as GBK give kana, Greek and private-use characters, not hanzi.
GUESSES = (("shift_jis", "Japanese Shift-JIS", ("HIRAGANA", "KATAKANA", "CJK")),
           ("gb18030", "Chinese GB18030/GBK", ("CJK",)),
           ("big5", "Chinese Big5", ("CJK",)),
           ("euc_kr", "Korean EUC-KR", ("HANGUL", "CJK")),
           ("cp1252", "Western Windows-1252/Latin-1", ("LATIN",)))


def read_text(path: str | Path) -> str:
    """The text of PATH, decoded as UTF-8 (a leading BOM dropped); UserError for anything else."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    return decode(data, path)


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
