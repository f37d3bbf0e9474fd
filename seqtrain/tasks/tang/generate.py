"""Poems from a char language model, one character at a time, with the form guaranteed.

A small automaton tracks (line, position in line). At each step it masks the vocabulary down to
what the form allows there — a character inside a line (the acrostic's head at a line's start), ，
after odd lines and 。 after even ones, the end symbol after the last line — and the sampler draws
from what is left (temperature, top-k, top-p, repetition penalty). A form never needs a retry, and
every poem ends: fixed forms by construction, free sampling at `max_chars`.

The hidden state is carried forward: the prompt runs once, then each new character is one step.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace

import torch

from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
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
    # > 1 discourages characters the poem already has; at 1.2, written poems have the share of distinct
    # characters real Tang poems have (97-98%, eval-poems); at 1.0, 92-96%
    repetition_penalty: float = 1.2
    seed: int = 0                # poem i of a request uses seed + i
    num: int = 1
    max_chars: int = 120         # free sampling stops here
    regular: bool = False        # with no form, lines or acrostic: still 5/7 characters, 4/8 lines

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

    @property
    def structured(self) -> bool:
        return bool(self.form or self.lines or self.acrostic or self.regular)


class Form:
    """The rules of one poem being written; `allowed()` names what may come next."""

    def __init__(self, request: PoemRequest, eos: str):
        self.eos = eos
        self.structured = request.structured
        self.width = request.form or None                       # None: the first line decides
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
            char = f"head:{self.heads[self.line]}" if self.line < len(self.heads) else "hanzi"
            return f"{char}|eos" if self.n_lines is None and self.line == 4 else char
        mark = "mark:，" if self.line % 2 == 0 else "mark:。"
        if self.width is not None:
            return mark if self.pos == self.width else "hanzi"
        if self.pos == 5:  # a first line of unknown width may end after 5 characters or 7
            return f"hanzi|{mark}"
        return mark if self.pos == 7 else "hanzi"

    def advance(self, token: str) -> None:
        self.length += 1
        if token == self.eos:
            self.done = True
        elif self.structured and token in PUNCTUATION:
            self.width = self.width or self.pos
            self.line, self.pos = self.line + 1, 0
        elif self.structured:
            self.pos += 1


def describe(allowed: str) -> str:
    names = {"eos": "the end of the poem", "hanzi": "a character", "free": "anything"}
    parts = [names.get(a) or a.split(":", 1)[1] for a in allowed.split("|")]
    return " or ".join(parts)


class Masks:
    """Vocabulary masks for each kind of allowed set, built once per vocabulary."""

    def __init__(self, vocab, eos: str, specials: set[str]):
        self.vocab, self.eos = vocab, eos
        tokens = vocab.tokens
        self.hanzi = torch.tensor([len(t) == 1 and is_hanzi(t) for t in tokens])
        self.free = torch.tensor([t not in specials or t == eos for t in tokens])
        self.cache: dict[str, torch.Tensor] = {}

    def get(self, allowed: str) -> torch.Tensor:
        if allowed not in self.cache:
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            for part in allowed.split("|"):
                if part in ("hanzi", "free"):
                    mask |= getattr(self, part)
                else:
                    token = self.eos if part == "eos" else part.split(":", 1)[1]
                    if token not in self.vocab:
                        raise UserError(f"the model's vocabulary has no {token!r}, which this form needs")
                    mask[self.vocab.index(token)] = True
            self.cache[allowed] = mask
        return self.cache[allowed]


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
    request = replace(request, start=normalise(request.start), acrostic=normalise(request.acrostic))
    request.check()
    start, heads = request.start, request.acrostic
    check_chars(start, vocab, "--start", unk)
    check_chars(heads, vocab, "--acrostic", unk)
    if any(not is_hanzi(c) for c in heads):
        raise UserError(f"--acrostic: line heads must be characters, not punctuation: {heads!r}")
    masks = Masks(vocab, eos, specials)
    forms = [Form(request, eos) for _ in range(request.num)]
    for i, char in enumerate(start):
        allowed = forms[0].allowed()
        if not masks.get(allowed)[vocab.index(char)]:
            raise StartDoesNotFit(f"--start: character {i + 1} ({char}) does not fit the requested form "
                            f"(expected {describe(allowed)} there)")
        for form in forms:
            form.advance(char)
    device = model_device(model)
    generators = [torch.Generator().manual_seed(request.seed + i) for i in range(request.num)]
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
            next_ids = choose(logits[:, -1].float().cpu(), mask, seen, request, generators)
            for row, (form, token_id) in enumerate(zip(forms, next_ids)):
                if not form.done:
                    token = vocab.tokens[token_id]
                    form.advance(token)
                    if token != eos:
                        written[row].append(token)
                        seen[row, token_id] |= bool(masks.hanzi[token_id])
            if all(f.done for f in forms):
                break
            logits, state = model(torch.tensor(next_ids, device=device)[:, None], hx=state)
    return [record(start + "".join(chars), form, request, i) for i, (chars, form) in enumerate(zip(written, forms))]


def choose(logits: torch.Tensor, mask: torch.Tensor, seen: torch.Tensor, request: PoemRequest,
           generators: list[torch.Generator]) -> list[int]:
    if request.repetition_penalty != 1:  # CTRL's penalty: push already-used characters down
        penalised = torch.where(logits > 0, logits / request.repetition_penalty, logits * request.repetition_penalty)
        logits = torch.where(seen, penalised, logits)
    logits = logits.masked_fill(~mask, float("-inf"))
    if request.temperature == 0:
        return logits.argmax(-1).tolist()
    probs = filter_logits(logits, request).softmax(-1)
    return [int(torch.multinomial(p, 1, generator=g)) for p, g in zip(probs, generators)]


def couplets(text: str) -> list[str]:
    """Text cut after each 。？！ (the chinese-poetry `paragraphs`)."""
    return [p for p in re.findall(r"[^。？！]*[。？！]|[^。？！]+$", text) if p]


def record(text: str, form: Form, request: PoemRequest, index: int) -> dict:
    req = {k: v for k, v in asdict(request).items() if k in ("start", "acrostic", "form", "lines")}
    return {"title": "", "author": "seqtrain", "paragraphs": couplets(text), "poem": text,
            "complete": form.done and not form.truncated, "seed": request.seed + index, "request": req}


def format_poems(poems: list[dict]) -> str:
    """Couplets one per line, a blank line between poems (what eval-poems reads back)."""
    return "\n\n".join("\n".join(p["paragraphs"]) for p in poems)
