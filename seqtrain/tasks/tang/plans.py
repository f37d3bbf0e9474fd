"""One Form per poem, and why a request cannot be met.

With --tones/--rhyme (regulated verse, prosody.py) each poem first gets a plan (form.Verse): width,
平起 or 仄起, whether the first line rhymes, a 平聲 rhyme group, drawn by its seed among the plans its
--start fits. When no plan fits, the error line names the character of --start that breaks the plan
that got furthest, the rule it breaks there, and its tone; or a rhyme group the vocabulary is too
small for.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from seqtrain.core.errors import UserError
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.constraints import RhymeOf, at_rhyme, describe
from seqtrain.tasks.tang.form import Form, Verse
from seqtrain.tasks.tang.masks import Masks
from seqtrain.tasks.tang.poems import PUNCTUATION, is_hanzi
from seqtrain.tasks.tang.request import FORMS, PoemRequest


class StartDoesNotFit(UserError):
    """--start breaks the requested form."""


def new_forms(request: PoemRequest, masks: Masks, eos: str) -> list[Form]:
    """One Form per poem; with --tones/--rhyme each gets a plan its seed draws among those --start fits."""
    if not request.verse:
        problem = start_problem(Form(request, eos), request.start, masks)
        if problem:
            raise StartDoesNotFit(problem[1])
        return [Form(request, eos) for _ in range(request.num)]
    table = prosody.load_table()
    plans = fitting_plans(request, masks, eos, table)
    forms = []
    for i in range(request.num):
        rng = random.Random(request.seed + i)
        key = rng.choice(list(plans))
        forms.append(Form(request, eos, replace(key, group=rng.choice(plans[key])), table))
    return forms


def fitting_plans(request: PoemRequest, masks: Masks, eos: str, table: prosody.RhymeTable) -> dict[Verse, list]:
    """{Verse without its group: [groups]} for every plan the request and --start allow."""
    start_width = width_of_start(request.start)
    widths = [request.form] if request.form else [start_width] if start_width else list(FORMS)
    patterns = ([request.pattern] if request.pattern else list(prosody.PATTERNS)) if request.tones else [None]
    firsts = [request.first_line_rhymes] if request.first_line_rhymes is not None else [False, True]
    groups = ([table.group_named(request.rhyme_group)] if request.rhyme_group
              else list(table.groups) if request.rhyme else [None])
    n_lines = request.lines or (8 if len(request.acrostic) > 4 else 4 if request.acrostic else 8)
    plans: dict[Verse, list] = {}
    problems = []
    for width in widths:
        for pattern in patterns:
            for first in firsts:
                for group in groups:
                    verse = Verse(width, pattern, first, group, request.tones)
                    problem = start_problem(Form(request, eos, verse, table), request.start, masks)
                    problem = problem or group_problem(group, masks, len(prosody.rhyme_lines(n_lines, first)))
                    if problem:
                        problems.append(problem)
                    else:
                        plans.setdefault(replace(verse, group=None), []).append(group)
    if not plans:
        index, message = max(problems, key=lambda p: p[0])
        every = " (in every pattern that fits the request)" if len(widths) * len(patterns) * len(firsts) > 1 else ""
        raise (StartDoesNotFit if message.startswith("--start") else UserError)(message + every)
    return plans


def width_of_start(start: str) -> int:
    first = re.split(f"[{PUNCTUATION}]", start)[0]
    if len(first) < len(start) and len(first) in FORMS:
        return len(first)
    return 7 if len(first) > 5 else 0


def start_problem(form: Form, start: str, masks: Masks) -> tuple[int, str] | None:
    """(index, message) of the first --start character the form (and its verse) does not allow."""
    rhymes: list[str] = []
    for i, char in enumerate(start):
        allowed = form.allowed()
        fits = bool(masks.get(allowed)[masks.vocab.index(char)])
        rhyme = at_rhyme(allowed)
        if not fits or (rhyme and char in rhymes):
            why = f"; {char} is already a rhyme" if fits else ""
            where = f"line {form.line + 1}, position {form.pos + 1}: " if form.verse else ""
            return i, (f"--start: character {i + 1} ({char}) does not fit the requested form "
                       f"({where}expected {describe(allowed)} there{tone_of(char, form)}{why})")
        if rhyme:
            rhymes.append(char)
        form.advance(char)
    return None


def tone_of(char: str, form: Form) -> str:
    if not form.verse or not is_hanzi(char):
        return ""
    tone = form.table.tone(char)
    return f"; {char} is " + {"P": "平", "Z": "仄", "B": "平 or 仄", None: "not in the 平水韻 table"}[tone]


def group_problem(group: str | None, masks: Masks, needed: int) -> tuple[int, str] | None:
    if group is None:
        return None
    have = int(masks.rule_mask(RhymeOf(group)).sum())
    if have >= needed:
        return None
    return -1, (f"--rhyme-group {group}: the model knows {have} characters of the {group} group, and the poem "
                f"needs {needed} different rhymes (rule: no rhyme character twice)")
