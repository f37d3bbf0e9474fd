"""The form automaton: where a poem being written stands (line, position in line) and what may come
next there (constraints.Allowed).

Inside a line a character (the acrostic's head at a line's start), ， after odd lines and 。 after even
ones, the end symbol after the last line. With a Verse (the plan of one regulated poem: width, 平起 or
仄起, whether the first line rhymes, the rhyme group) a character also keeps its position's tone and
rhyme rules. Needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.constraints import (ANYTHING, END, Allowed, Choice, End, Hanzi, Head, KeepsTwoPing,
                                             Mark, NotThreePing, RhymeOf, Rule, Tone, ToneIs, Unrhymed, at_rhyme)
from seqtrain.tasks.tang.poems import PUNCTUATION
from seqtrain.tasks.tang.request import PoemRequest


@dataclass(frozen=True)
class Verse:
    """The plan of one regulated poem: what each character position adds to the form's rules."""

    width: int
    pattern: str | None          # ping/ze with --tones
    first_rhymes: bool
    group: str | None            # with --rhyme
    tones: bool

    def __post_init__(self):
        kinds = prosody.poem_kinds(self.pattern or "ping", self.width, self.first_rhymes)
        object.__setattr__(self, "templates", [prosody.line_template(k, self.width) for k in kinds])
        object.__setattr__(self, "rhyming", set(prosody.rhyme_lines(8, self.first_rhymes)))

    def describe(self) -> dict:
        return {"pattern": self.pattern, "first_line_rhymes": self.first_rhymes, "rhyme_group": self.group}

    def rules(self, line: int, pos: int, chars: str, table: prosody.RhymeTable) -> tuple[Rule, ...]:
        """The rules a character at (line, pos) keeps, after `chars` earlier in its line."""
        rules: list[Rule] = []
        last = pos == self.width - 1
        if self.tones:
            template = self.templates[line]
            if pos not in prosody.free_positions(self.width) or last:
                rules.append(ToneIs(Tone(template[pos])))
            elif pos == self.width - 3 and template[-1] == "P":
                if not prosody.is_gu_ping_line(template):
                    rules.append(NotThreePing())
                elif not table.can_be(chars[pos - 2], "P"):
                    rules.append(KeepsTwoPing())
        if self.group and last and line in self.rhyming:
            rules.append(RhymeOf(self.group))
        elif self.group and last and line == 0 and not self.tones:
            rules.append(Unrhymed())  # a first line ending in a 平-only character would rhyme
        return tuple(rules)


class Form:
    """The rules of one poem being written; `allowed()` names what may come next."""

    def __init__(self, request: PoemRequest, eos: str, verse: Verse | None = None,
                 table: prosody.RhymeTable | None = None):
        self.eos = eos
        self.structured = request.structured
        self.verse, self.table = verse, table
        self.chars = ""                                         # the current line so far
        self.width = (verse.width if verse else request.form) or None  # None: the first line decides
        n_lines = request.lines or ((4 if len(request.acrostic) <= 4 else 8) if request.acrostic else 0)
        self.n_lines = n_lines or None                          # None: 4 or 8, the model decides
        self.heads = request.acrostic
        self.max_chars = request.max_chars
        self.line = self.pos = self.length = 0
        self.done = self.truncated = False

    def allowed(self) -> Allowed:
        if self.done:
            return END
        if not self.structured:
            self.truncated = self.length >= self.max_chars
            return END if self.truncated else ANYTHING
        if self.pos == 0:
            if self.line == (self.n_lines or 8):
                return END
            char = Choice(Head(self.heads[self.line])) if self.line < len(self.heads) else self.char()
            return (char, Choice(End())) if self.n_lines is None and self.line == 4 else (char,)
        mark = Choice(Mark("，" if self.line % 2 == 0 else "。"))
        if self.width is not None:
            return (mark,) if self.pos == self.width else (self.char(),)
        if self.pos == 5:  # a first line of unknown width may end after 5 characters or 7
            return Choice(Hanzi()), mark
        return (mark,) if self.pos == 7 else (Choice(Hanzi()),)

    def char(self) -> Choice:
        """A character at the current position, with the verse's tone and rhyme rules when it has any."""
        rules = self.verse.rules(self.line, self.pos, self.chars, self.table) if self.verse else ()
        return Choice(Hanzi(), rules)

    @property
    def at_rhyme(self) -> bool:
        return at_rhyme(self.allowed())

    def advance(self, token: str) -> None:
        self.length += 1
        if token == self.eos:
            self.done = True
        elif self.structured and token in PUNCTUATION:
            self.width = self.width or self.pos
            self.line, self.pos, self.chars = self.line + 1, 0, ""
        elif self.structured:
            self.pos += 1
            self.chars += token
