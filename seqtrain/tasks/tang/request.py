"""What a poem request asks for (`seqtrain generate-poem`'s options), declared once and checked once.

Each field of PoemRequest is declared with `opt`: its help text, range and, where it is not just
--field-name, its command-line names, so a command line can build its options from the dataclass
(core.fields.option_flags) and hand the values back to `request_from_options`. `check` holds every
rule a request must keep before any model is loaded; what depends on the model's vocabulary (are the
characters known, can the plan be met) is checked where the poems are written (generate.py, plans.py).
Needs no torch itself; importing it still runs seqtrain/tasks/__init__.py, which imports every task.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, option_name
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.poems import normalise

FORMS, LINE_COUNTS = (5, 7), (4, 8)
MAX_POEMS = 100_000  # one request; they are written generate.BATCH at a time


@dataclass
class PoemRequest:
    """One request for `num` poems. start and acrostic are normalised (poems.normalise) and a
    rhyme_group implies rhyme, on construction."""

    start: str = opt("", "the poem begins with this, e.g. 床前明月光 (a partial line is fine)")
    acrostic: str = opt("", "the lines begin with these characters in order, e.g. 春夏秋冬 (藏头诗); "
                        "they stand nowhere else in the poem")
    form: int = opt(0, "5 or 7 characters per line (default: the first line decides)")
    lines: int = opt(0, "4 or 8 lines (default: the acrostic's length, else the model decides); "
                     "with no --form, --lines, --acrostic or --regular the model writes freely")
    regular: bool = opt(False, "a regular poem (5 or 7 characters a line, 4 or 8 lines) without naming the "
                        "form: the first line decides, e.g. with --start")
    temperature: float = opt(0.8, "below 1: safer choices; 0: always the likeliest", min=0, max=100)
    top_k: int = opt(0, "sample among the k likeliest characters (0: all)", min=0, max=10**6)
    top_p: float = opt(1.0, "sample among the likeliest characters whose probabilities sum to p",
                       min=0, exclusive_min=True, max=1)
    # at 1.3, poems of configs/tang.yaml's model have the share of distinct characters real Tang poems
    # have (97-99%, eval-poems); at 1.0, 92-96%
    repetition_penalty: float = opt(1.3, "above 1 discourages repeating characters (1: off)",
                                    min=0, exclusive_min=True, max=100)
    seed: int = opt(0, "same seed and options, same poems (poem i uses seed + i)",
                    min=0, max=2**63 - 1 - MAX_POEMS)
    num: int = opt(1, "how many poems", min=1, max=MAX_POEMS, flags=("--num", "-n"))
    max_chars: int = opt(120, "free writing stops after this many characters", min=1, max=10_000)
    rhyme: bool = opt(False, "rhyming line ends (even lines, and the first when the pattern rhymes it) from one "
                      "平聲 group of the 平水韻, none twice")
    rhyme_group: str = opt("", "that group, by name or by one of its characters, e.g. 東 or 上平聲一東 "
                           "(implies --rhyme; default: drawn by the seed)")
    tones: bool = opt(False, "every line follows the 平仄 template of its form (一三五不論, no 三平尾, no 孤平)")
    pattern: str = opt("", "with --tones: ping (平起) or ze (仄起) (default: drawn by the seed)")
    first_line_rhymes: bool | None = opt(None, "whether the first line rhymes (default: drawn by the seed)",
                                         flags=("--first-line-rhymes/--no-first-line-rhymes",))
    script: str = opt("traditional", "traditional or simplified (OpenCC) characters in the written poems; "
                      "the model and the rhyme table stay traditional")

    def __post_init__(self):
        self.start, self.acrostic = normalise(self.start), normalise(self.acrostic)
        self.rhyme = self.rhyme or bool(self.rhyme_group)

    def check(self) -> None:
        """Every rule of a request that needs no model; a UserError names the option."""
        expect_one_of("--form", self.form, (0, *FORMS))
        expect_one_of("--lines", self.lines, (0, *LINE_COUNTS))
        if len(self.acrostic) > (self.lines or 8):
            raise UserError(f"--acrostic: {len(self.acrostic)} heads but the poem has {self.lines or 8} lines at most")
        for f in dataclasses.fields(self):
            check_range(f, getattr(self, f.name))
        if self.pattern not in ("", *prosody.PATTERNS):
            raise UserError(f"--pattern: expected ping (平起) or ze (仄起), got {self.pattern!r}")
        if self.pattern and not self.tones:
            raise UserError("--pattern needs --tones")
        if self.first_line_rhymes is not None and not (self.tones or self.rhyme):
            raise UserError("--first-line-rhymes needs --rhyme or --tones")
        if self.script not in ("traditional", "simplified"):
            raise UserError(f"--script: expected traditional or simplified, got {self.script!r}")

    @property
    def structured(self) -> bool:
        return bool(self.form or self.lines or self.acrostic or self.regular or self.verse)

    @property
    def verse(self) -> bool:
        return self.rhyme or self.tones


def expect_one_of(option: str, value: int, allowed: tuple[int, ...]) -> None:
    if value not in allowed:
        raise UserError(f"{option}: expected {' or '.join(str(a) for a in allowed if a)}, got {value}")


def check_range(f: dataclasses.Field, value: Any) -> None:
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if low is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        raise UserError(f"{option_name(f)}: must be a number from {low} to {high}, got {value}")
    if f.metadata.get("exclusive_min") and value == low:
        raise UserError(f"{option_name(f)}: must be greater than {low}")


# Options that, given empty, would silently mean "not given": refused instead, with what to give.
EMPTY_HINTS = {"start": "give the beginning of the poem, e.g. --start 床前明月光",
               "acrostic": "give the line heads, e.g. --acrostic 春夏秋冬",
               "rhyme_group": "give a 平聲 group or one of its characters, e.g. --rhyme-group 東",
               "pattern": "give ping (平起) or ze (仄起)"}


def request_from_options(values: Mapping[str, Any]) -> PoemRequest:
    """A checked PoemRequest from command-line option values, keyed by field name. None (or absent)
    means not given: the field's default. Given explicitly, an empty text option or a --form/--lines
    of 0 is refused naming the option, as it would otherwise silently mean the default."""
    names = {f.name: f for f in dataclasses.fields(PoemRequest)}
    given = {name: value for name, value in values.items() if value is not None}
    for name, hint in EMPTY_HINTS.items():
        if name in given and not str(given[name]).strip():
            raise UserError(f"{option_name(names[name])}: empty; {hint}")
    for name, allowed in (("form", FORMS), ("lines", LINE_COUNTS)):
        if name in given:
            expect_one_of(option_name(names[name]), given[name], allowed)
    request = PoemRequest(**given)
    request.check()
    return request
