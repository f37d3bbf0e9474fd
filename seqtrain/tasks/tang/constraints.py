"""What may come next in a poem, as values: the form automaton (form.py) names it, masks.py turns it
into a vocabulary mask, and `describe` words it for an error line.

Allowed is a tuple of Choices, any one of which may come next. A Choice is one kind of token (the end
symbol, a mark, an acrostic head, any character, anything) and, for a character, the verse rules it
must also keep (a tone, a rhyme group, the 三平尾 and 孤平 guards). All are frozen, so an Allowed is a
key of the masks' cache. Needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union


class Tone(Enum):
    PING = "P"  # 平
    ZE = "Z"    # 仄


# ---------------------------------------------------------------- kinds of token

@dataclass(frozen=True)
class End:
    """The end symbol: the poem is over."""

    def describe(self) -> str:
        return "the end of the poem"


@dataclass(frozen=True)
class Anything:
    """Free writing: any token but the specials (the end symbol included)."""

    def describe(self) -> str:
        return "anything"


@dataclass(frozen=True)
class Hanzi:
    """Any character (no punctuation, no special)."""

    def describe(self) -> str:
        return "a character"


@dataclass(frozen=True)
class Head:
    """The acrostic's head of this line."""
    char: str

    def describe(self) -> str:
        return self.char


@dataclass(frozen=True)
class Mark:
    """The mark that ends this line: ， or 。"""
    char: str

    def describe(self) -> str:
        return self.char


Token = Union[End, Anything, Hanzi, Head, Mark]


# ---------------------------------------------------------------- verse rules (on a character)

@dataclass(frozen=True)
class ToneIs:
    """The 平仄 template's tone at a fixed position (or a line end)."""
    tone: Tone

    def describe(self) -> str:
        return f"{'平' if self.tone is Tone.PING else '仄'} by the 平仄 template"


@dataclass(frozen=True)
class NotThreePing:
    """At the free position before a 平 line end: not 平 only, so the line cannot end in three 平."""

    def describe(self) -> str:
        return "not 平 (三平尾: a line may not end in three 平)"


@dataclass(frozen=True)
class KeepsTwoPing:
    """At the free position of a 平平仄仄平 line whose other free position is not 平."""

    def describe(self) -> str:
        return "平 (孤平: a 平平仄仄平 line keeps two 平 besides its rhyme)"


@dataclass(frozen=True)
class RhymeOf:
    """A rhyming line end: a character of this 平聲 group, not used as a rhyme before."""
    group: str

    def describe(self) -> str:
        return f"a rhyme of the {self.group} group (平水韻)"


@dataclass(frozen=True)
class Unrhymed:
    """A first line end that does not rhyme (with --rhyme, no --tones): not 平 only."""

    def describe(self) -> str:
        return "not 平 only (a first line that does not rhyme may not end in 平)"


Rule = Union[ToneIs, NotThreePing, KeepsTwoPing, RhymeOf, Unrhymed]


# ---------------------------------------------------------------- what may come next

@dataclass(frozen=True)
class Choice:
    token: Token
    rules: tuple[Rule, ...] = ()

    def describe(self) -> str:
        return ", ".join(part.describe() for part in (self.token, *self.rules))


Allowed = tuple[Choice, ...]
END: Allowed = (Choice(End()),)
ANYTHING: Allowed = (Choice(Anything()),)


def describe(allowed: Allowed) -> str:
    return " or ".join(choice.describe() for choice in allowed)


def at_rhyme(allowed: Allowed) -> bool:
    """Whether what comes next is a rhyme (so it may not repeat one the poem has)."""
    return any(isinstance(rule, RhymeOf) for choice in allowed for rule in choice.rules)
