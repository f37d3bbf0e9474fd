"""CoNLL-U token IDs, checked as the format defines them (https://universaldependencies.org/format.html),
for every reader of CoNLL-U (the tagger's and the tokenizer's).

In each sentence the words are numbered 1, 2, 3, ...; a multiword token `2-3` comes right before its
words 2 and 3; an empty node `2.1` follows word 2 (`0.1` comes before the first). IDs are ASCII digits:
str.isdigit also accepts '³', which int() then refuses.
"""

from __future__ import annotations

import re

from seqtrain.core.config import bounded
from seqtrain.core.errors import UserError

NUMBER = re.compile(r"0|[1-9][0-9]{0,8}")  # ASCII, no leading zeros, and never more than int() reads
WORD, RANGE, EMPTY = "word", "range", "empty"


class TokenIds:
    """The ID column of one file, line by line: `read` each token's ID, `end` each sentence."""

    def __init__(self, path):
        self.path = path
        self.last = 0       # the ID of the sentence's last word so far
        self.open = None    # (first, last, line) of a multiword token whose words have not all come

    def read(self, token_id: str, line: int) -> tuple[str, int, int]:
        """(WORD, n, n), (RANGE, first, last) or (EMPTY, word, n) for the ID on LINE; a UserError naming
        the file and line for an ID that is not the one this place in the sentence may have."""
        sep = "-" if "-" in token_id else "." if "." in token_id else None
        parts = token_id.split(sep) if sep else [token_id]
        if len(parts) != (2 if sep else 1) or not all(NUMBER.fullmatch(part) for part in parts):
            self.fail(line, f"bad token ID {bounded(token_id)} (expected a word 1, 2, ..., a range 1-2 "
                            f"or an empty node 1.1)")
        first, second = int(parts[0]), int(parts[-1])
        expected = self.last + 1
        if sep == ".":
            if first != self.last or second == 0:
                self.fail(line, f"empty node {token_id} after word {self.last} (expected {self.last}.1, {self.last}.2, ...)")
            return EMPTY, first, second
        if sep == "-":
            if self.open:
                self.fail(line, f"multiword token {token_id} before the words of {self.open_range()}")
            if first != expected or second <= first:
                self.fail(line, f"multiword token {token_id}: expected a range from the next word, {expected}, "
                                f"to a later one")
            self.open = (first, second, line)
            return RANGE, first, second
        if first != expected:
            note = " (word IDs start at 1)" if first == 0 else f" (for {self.open_range()})" if self.open else ""
            self.fail(line, f"token ID {token_id}: expected {expected}{note}")
        self.last = first
        if self.open and first == self.open[1]:
            self.open = None
        return WORD, first, first

    def end(self) -> None:
        """The sentence ends (a blank line, or the end of the file): a multiword token needs all its words."""
        if self.open:
            first, last, line = self.open
            missing = f"word {last}" if self.last + 1 == last else f"words {self.last + 1} to {last}"
            self.fail(line, f"multiword token {first}-{last} lacks {missing} (the sentence ends)")
        self.last, self.open = 0, None

    def open_range(self) -> str:
        first, last, line = self.open
        return f"the multiword token {first}-{last} of line {line}"

    def fail(self, line: int, problem: str):
        raise UserError(f"{self.path}:{line}: {problem}")
