"""Poems from a char language model, one character at a time, with the form guaranteed.

A small automaton tracks (line, position in line). At each step it masks the vocabulary down to
what the form allows there — a character inside a line (the acrostic's head at a line's start), ，
after odd lines and 。 after even ones, the end symbol after the last line — and the sampler draws
from what is left (temperature, top-k, top-p, repetition penalty). A form never needs a retry, and
every poem ends: fixed forms by construction, free sampling at `max_chars`.

With --tones and --rhyme (regulated verse, prosody.py) each poem first gets a plan — width, 平起 or
仄起, whether the first line rhymes, a 平聲 rhyme group — drawn by its seed among the plans its
--start fits, and the allowed set at each position is intersected with a tone mask (平 or 仄 at fixed
positions, the 三平尾 and 孤平 guards at the free position before a 平 line end) and a rhyme mask (the
group, less the rhyme characters already used). Every mask is a boolean vector built once per
vocabulary, so regulated verse is guaranteed by construction too.

The hidden state is carried forward: the prompt runs once, then each new character is one step.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, dataclass, replace

import torch

from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.poems import PUNCTUATION, is_hanzi, normalise

FORMS, LINE_COUNTS = (5, 7), (4, 8)
MAX_POEMS = 100_000  # one request; they are written BATCH at a time
BATCH = 256


class StartDoesNotFit(UserError):
    """--start breaks the requested form."""


@dataclass
class PoemRequest:
    start: str = ""              # text the poem begins with (any length, a partial line too)
    acrostic: str = ""           # heads of the lines, in order (藏头诗)
    form: int = 0                # characters per line, 5 or 7; 0: the first line decides (or free)
    lines: int = 0               # 4 or 8; 0: the model decides (or the acrostic's length)
    temperature: float = 0.8     # 0: always the most likely character
    top_k: int = 0               # sample among the k likeliest (0: all)
    top_p: float = 1.0           # sample among the likeliest whose probabilities sum to p
    # > 1 discourages characters the poem already has; at 1.3, poems of configs/tang.yaml's model have
    # the share of distinct characters real Tang poems have (97-99%, eval-poems); at 1.0, 92-96%
    repetition_penalty: float = 1.3
    seed: int = 0                # poem i of a request uses seed + i
    num: int = 1
    max_chars: int = 120         # free sampling stops here
    regular: bool = False        # with no form, lines or acrostic: still 5/7 characters, 4/8 lines
    rhyme: bool = False          # rhyming line ends from one 平聲 group of the 平水韻
    rhyme_group: str = ""        # that group (東, 上平聲一東, or a character of it); "": sampled
    tones: bool = False          # every line follows the 平仄 template of its form
    pattern: str = ""            # ping (平起) or ze (仄起); "": sampled
    first_line_rhymes: bool | None = None  # None: sampled
    script: str = "traditional"  # or simplified (OpenCC), for the written text only

    def check(self) -> None:
        if self.form not in (0, *FORMS):
            raise UserError(f"--form: expected 5 or 7, got {self.form}")
        if self.lines not in (0, *LINE_COUNTS):
            raise UserError(f"--lines: expected 4 or 8, got {self.lines}")
        if len(self.acrostic) > (self.lines or 8):
            raise UserError(f"--acrostic: {len(self.acrostic)} heads but the poem has {self.lines or 8} lines at most")
        for option, value, low, high in (("--temperature", self.temperature, 0, 100),
                                          ("--top-p", self.top_p, 0, 1),
                                          ("--repetition-penalty", self.repetition_penalty, 0, 100),
                                          ("--top-k", self.top_k, 0, 10**6), ("--num", self.num, 1, MAX_POEMS),
                                          ("--max-chars", self.max_chars, 1, 10_000),
                                          ("--seed", self.seed, 0, 2**63 - 1 - MAX_POEMS)):
            if not math.isfinite(value) or not low <= value <= high:
                raise UserError(f"{option}: must be a number from {low} to {high}, got {value}")
        if self.top_p == 0 or self.repetition_penalty == 0:
            raise UserError(f"--{'top-p' if self.top_p == 0 else 'repetition-penalty'}: must be greater than 0")
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

    def constraint(self, line: int, pos: int, chars: str, table) -> str:
        """'' (free), or parts joined by '&': tone:P, tone:Z, no3p (三平尾), guping (孤平), rhyme:G, unrhymed."""
        parts, last = [], pos == self.width - 1
        if self.tones:
            template = self.templates[line]
            if pos not in prosody.free_positions(self.width) or last:
                parts.append(f"tone:{template[pos]}")
            elif pos == self.width - 3 and template[-1] == "P":
                if not prosody.is_gu_ping_line(template):
                    parts.append("no3p")
                elif not table.can_be(chars[pos - 2], "P"):
                    parts.append("guping")
        if self.group and last and line in self.rhyming:
            parts.append(f"rhyme:{self.group}")
        elif self.group and last and line == 0 and not self.tones:
            parts.append("unrhymed")  # a first line ending in a 平-only character would rhyme
        return "&".join(parts)


class Form:
    """The rules of one poem being written; `allowed()` names what may come next."""

    def __init__(self, request: PoemRequest, eos: str, verse: Verse | None = None, table=None):
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

    def allowed(self) -> str:
        """'eos', 'hanzi', 'head:X', 'mark:，', or two of them joined by '|'; 'free' when unconstrained."""
        if self.done:
            return "eos"
        if not self.structured:
            self.truncated = self.length >= self.max_chars
            return "eos" if self.truncated else "free"
        if self.pos == 0:
            if self.line == (self.n_lines or 8):
                return "eos"
            char = f"head:{self.heads[self.line]}" if self.line < len(self.heads) else self.char()
            return f"{char}|eos" if self.n_lines is None and self.line == 4 else char
        mark = "mark:，" if self.line % 2 == 0 else "mark:。"
        if self.width is not None:
            return mark if self.pos == self.width else self.char()
        if self.pos == 5:  # a first line of unknown width may end after 5 characters or 7
            return f"hanzi|{mark}"
        return mark if self.pos == 7 else "hanzi"

    def char(self) -> str:
        """A character at the current position, with the verse's tone and rhyme rules when it has any."""
        extra = self.verse.constraint(self.line, self.pos, self.chars, self.table) if self.verse else ""
        return f"hanzi&{extra}" if extra else "hanzi"

    @property
    def at_rhyme(self) -> bool:
        return "rhyme:" in self.allowed()

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


RULES = {"tone:P": "平 by the 平仄 template", "tone:Z": "仄 by the 平仄 template",
         "no3p": "not 平 (三平尾: a line may not end in three 平)",
         "guping": "平 (孤平: a 平平仄仄平 line keeps two 平 besides its rhyme)",
         "unrhymed": "not 平 only (a first line that does not rhyme may not end in 平)"}


def describe(allowed: str) -> str:
    names = {"eos": "the end of the poem", "hanzi": "a character", "free": "anything"}

    def one(part: str) -> str:
        if part in RULES:
            return RULES[part]
        if part.startswith("rhyme:"):
            return f"a rhyme of the {part[6:]} group (平水韻)"
        return names.get(part) or part.split(":", 1)[1]

    return " or ".join(", ".join(one(p) for p in a.split("&")) for a in allowed.split("|"))


class Masks:
    """Vocabulary masks for each kind of allowed set, built once per vocabulary."""

    def __init__(self, vocab, eos: str, specials: set[str]):
        self.vocab, self.eos = vocab, eos
        tokens = vocab.tokens
        self.hanzi = torch.tensor([len(t) == 1 and is_hanzi(t) for t in tokens])
        self.free = torch.tensor([t not in specials or t == eos for t in tokens])
        self.cache: dict[str, torch.Tensor] = {}
        self.rules: dict[str, torch.Tensor] = {}

    def rule_mask(self, part: str) -> torch.Tensor:
        """The mask of one verse rule; all of them are built in one pass over the vocabulary, on first use."""
        if not self.rules:
            table = prosody.load_table()
            rows: dict[str, list[int]] = {"tone:P": [], "tone:Z": []}
            char_groups, hanzi = table.char_groups, self.hanzi.tolist()
            for i, token in enumerate(self.vocab.tokens):
                if hanzi[i]:
                    for name in char_groups.get(token, ()):
                        rows.setdefault(f"rhyme:{name}", []).append(i)
                    if token in table.ze:
                        rows["tone:Z"].append(i)
            rows["tone:P"] = [i for name in table.groups for i in rows.get(f"rhyme:{name}", [])]
            for name, ids in rows.items():
                self.rules[name] = torch.zeros(len(self.vocab), dtype=torch.bool)
                self.rules[name][ids] = True
            ping, ze = self.rules["tone:P"], self.rules["tone:Z"]
            self.rules.update({"guping": ping, "no3p": self.hanzi & ~(ping & ~ze), "unrhymed": self.hanzi & ~(ping & ~ze)})
        return self.rules.get(part, torch.zeros(len(self.vocab), dtype=torch.bool))

    def rule(self, part: str) -> torch.Tensor:
        mask = self.rule_mask(part)
        if not mask.any():
            raise UserError(f"the model's vocabulary has no character that is {describe(part)}")
        return mask

    def get(self, allowed: str) -> torch.Tensor:
        if allowed not in self.cache:
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            for alternative in allowed.split("|"):
                first, *rules = alternative.split("&")
                part_mask = self.token_mask(first)
                for rule in rules:
                    part_mask = part_mask & self.rule(rule)
                mask |= part_mask
            self.cache[allowed] = mask
        return self.cache[allowed]

    def token_mask(self, part: str) -> torch.Tensor:
        if part in ("hanzi", "free"):
            return getattr(self, part)
        token = self.eos if part == "eos" else part.split(":", 1)[1]
        if token not in self.vocab:
            raise UserError(f"the model's vocabulary has no {token!r}, which this form needs")
        mask = torch.zeros(len(self.vocab), dtype=torch.bool)
        mask[self.vocab.index(token)] = True
        return mask


def check_chars(text: str, vocab, option: str, unk: str) -> None:
    unknown = sorted({c for c in text if c not in vocab or c == unk})
    if unknown:
        raise UserError(f"{option}: not in the model's vocabulary: {' '.join(unknown)} "
                        f"(the model knows {len(vocab)} characters; try another one)")


def filter_logits(logits: torch.Tensor, request: PoemRequest) -> torch.Tensor:
    """Temperature, top-k and top-p applied to masked logits [B, V] (-inf where not allowed)."""
    logits = logits / request.temperature
    if request.top_k:
        kth = torch.topk(logits, min(request.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if request.top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > request.top_p  # the likeliest always stays
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def generate(model, vocab, request: PoemRequest, *, bos: str, eos: str, specials: set[str],
             unk: str) -> list[dict]:
    """`request.num` poems, written side by side as one batch; records as plain data."""
    request = replace(request, start=normalise(request.start), acrostic=normalise(request.acrostic),
                      rhyme=request.rhyme or bool(request.rhyme_group))
    request.check()
    start, heads = request.start, request.acrostic
    check_chars(start, vocab, "--start", unk)
    check_chars(heads, vocab, "--acrostic", unk)
    if any(not is_hanzi(c) for c in heads):
        raise UserError(f"--acrostic: line heads must be characters, not punctuation: {heads!r}")
    convert = simplifier() if request.script == "simplified" else None
    masks = Masks(vocab, eos, specials)
    forms = new_forms(request, masks, eos)
    used = torch.zeros(request.num, len(vocab), dtype=torch.bool)  # rhyme characters already used
    for form_row, form in enumerate(forms):
        for char in start:
            if form.at_rhyme:
                used[form_row, vocab.index(char)] = True
            form.advance(char)
    device = model_device(model)
    generators = [torch.Generator().manual_seed(request.seed + i) for i in range(request.num)]
    head_chars = torch.zeros(len(vocab), dtype=torch.bool)
    head_chars[vocab.encode(heads)] = True
    seen = torch.zeros(request.num, len(vocab), dtype=torch.bool)
    seen[:, vocab.encode(start)] = True
    seen &= masks.hanzi
    written: list[list[str]] = [[] for _ in forms]
    prompt = torch.tensor([vocab.encode([bos, *start])] * request.num, device=device)
    with torch.inference_mode():
        logits, state = model(prompt)
        for _ in range(request.max_chars + 8 * 8 + 2):  # structured poems end well before this
            allowed = [f.allowed() for f in forms]
            mask = torch.stack([masks.get(a) for a in allowed])
            at_rhyme = torch.tensor(["rhyme:" in a for a in allowed])
            if at_rhyme.any():
                mask &= ~(used & at_rhyme[:, None])
            if heads:  # a head stands at the head of its line only, where it is the one choice left
                elsewhere = mask & ~head_chars
                mask = torch.where(elsewhere.any(-1, keepdim=True), elsewhere, mask)
            next_ids = choose(logits[:, -1].float().cpu(), mask, seen, request, generators)
            for row, (form, token_id) in enumerate(zip(forms, next_ids)):
                if not form.done:
                    token = vocab.tokens[token_id]
                    form.advance(token)
                    if token != eos:
                        written[row].append(token)
                        seen[row, token_id] |= bool(masks.hanzi[token_id])
                        used[row, token_id] |= bool(at_rhyme[row])
            if all(f.done for f in forms):
                break
            logits, state = model(torch.tensor(next_ids, device=device)[:, None], hx=state)
    return [record(start + "".join(chars), form, request, i, convert)
            for i, (chars, form) in enumerate(zip(written, forms))]


def simplifier():
    try:
        import opencc
    except ImportError:
        raise UserError("--script simplified needs the OpenCC package: pip install 'seqtrain[zh]' "
                        "(or pip install opencc)") from None
    return opencc.OpenCC("t2s").convert


# ---------------------------------------------------------------- plans of regulated verse

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
        forms.append(Form(request, eos, replace(key[0], group=rng.choice(plans[key])), table))
    return forms


def fitting_plans(request: PoemRequest, masks: Masks, eos: str, table) -> dict:
    """{(Verse without its group, ): [groups]} for every plan the request and --start allow."""
    widths = [request.form] if request.form else [width_of_start(request.start)] if width_of_start(request.start) else list(FORMS)
    patterns = ([request.pattern] if request.pattern else list(prosody.PATTERNS)) if request.tones else [None]
    firsts = [request.first_line_rhymes] if request.first_line_rhymes is not None else [False, True]
    groups = [table.group_named(request.rhyme_group)] if request.rhyme_group else list(table.groups) if request.rhyme else [None]
    n_lines = request.lines or (8 if len(request.acrostic) > 4 else 4 if request.acrostic else 8)
    plans, problems = {}, []
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
                        plans.setdefault((replace(verse, group=None),), []).append(group)
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
        if not masks.get(allowed)[masks.vocab.index(char)] or ("rhyme:" in allowed and char in rhymes):
            why = f"{char} is already a rhyme" if char in rhymes and masks.get(allowed)[masks.vocab.index(char)] else ""
            where = f"line {form.line + 1}, position {form.pos + 1}: " if form.verse else ""
            return i, (f"--start: character {i + 1} ({char}) does not fit the requested form "
                       f"({where}expected {describe(allowed)} there{tone_of(char, form)}{'; ' + why if why else ''})")
        if "rhyme:" in allowed:
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
    have = int(masks.rule_mask(f"rhyme:{group}").sum())
    if have >= needed:
        return None
    return -1, (f"--rhyme-group {group}: the model knows {have} characters of the {group} group, and the poem "
                f"needs {needed} different rhymes (rule: no rhyme character twice)")


def choose(logits: torch.Tensor, mask: torch.Tensor, seen: torch.Tensor, request: PoemRequest,
           generators: list[torch.Generator]) -> list[int]:
    if request.repetition_penalty != 1:  # CTRL's penalty: push already-used characters down
        penalised = torch.where(logits > 0, logits / request.repetition_penalty, logits * request.repetition_penalty)
        logits = torch.where(seen, penalised, logits)
    logits = logits.masked_fill(~mask, float("-inf"))
    if request.temperature == 0:
        return logits.argmax(-1).tolist()
    probs = filter_logits(logits, request).softmax(-1)
    # inverse CDF, one uniform per poem from its own generator: all rows at once (multinomial row by
    # row cost a third of the time of 100 batched poems)
    cdf = probs.cumsum(-1)
    u = torch.stack([torch.rand((), generator=g, dtype=cdf.dtype) for g in generators]) * cdf[:, -1]
    return torch.searchsorted(cdf, u[:, None], right=True).squeeze(1).clamp_(max=cdf.shape[-1] - 1).tolist()


def couplets(text: str) -> list[str]:
    """Text cut after each 。？！ (the chinese-poetry `paragraphs`)."""
    return [p for p in re.findall(r"[^。？！]*[。？！]|[^。？！]+$", text) if p]


def record(text: str, form: Form, request: PoemRequest, index: int, convert=None) -> dict:
    req = {k: v for k, v in asdict(request).items() if k in ("start", "acrostic", "form", "lines", "rhyme", "tones")}
    if form.verse:
        req.update(form=form.verse.width, **form.verse.describe())
    if convert:
        text = convert(text)
    return {"title": "", "author": "seqtrain", "paragraphs": couplets(text), "poem": text,
            "complete": form.done and not form.truncated, "seed": request.seed + index, "request": req}


def format_poems(poems: list[dict]) -> str:
    """Couplets one per line, a blank line between poems (what eval-poems reads back)."""
    return "\n\n".join("\n".join(p["paragraphs"]) for p in poems)
